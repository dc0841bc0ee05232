-- What /metrics reads: reports by status, the oldest paid report waiting,
-- the last day's model calls and spend against its revenue and refunds.
begin;
select plan(8);

select is(public.operations_metrics() - 'now' - 'catalog_synced_at' - 'engine_swept_at',
          jsonb_build_object('reports_by_status', '{}'::jsonb, 'oldest_waiting_paid_at', null,
                             'calls_24h', '[]'::jsonb, 'model_spend_usd_24h', 0,
                             'revenue_usd_24h', 0, 'refunds_24h', 0, 'stuck_followups', 0,
                             'open_disputes', 0, 'unsent_alerts', 0),
          'an empty shop has nothing to show');

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
       '{"prompt": "x"}', array['openai/gpt-4o']
  from unnest(array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002']::uuid[]) d;
insert into public.checkout_sessions (stripe_session_id, draft_id, user_id, status, amount_total, currency)
values ('cs_a', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'open', 1499, 'usd'),
       ('cs_b', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a', 'open', 1499, 'usd');
select public.fulfill_checkout('cs_a', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
select public.fulfill_checkout('cs_b', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a');

select is(public.operations_metrics() -> 'reports_by_status', '{"paid": 2}'::jsonb, 'two paid reports');
select is((public.operations_metrics() ->> 'oldest_waiting_paid_at')::timestamptz, now(),
          'the oldest paid report no engine has started');
select is((public.operations_metrics() ->> 'revenue_usd_24h')::numeric, 29.98, 'what they were paid');

select 1 from public.claim_next_report('w', 60);
select is(public.operations_metrics() -> 'reports_by_status', '{"paid": 1, "running": 1}'::jsonb,
          'one taken up by an engine');

insert into public.benchmark_runs (report_id, model_id, image_index, cost, error, unavailable, created_at)
select r.id, m, i, c, e, u, at
  from public.reports r,
       (values ('a/one', 0, 0.010, null, false, now()),
               ('a/one', 1, 0.010, null, false, now()),
               ('a/one', 2, 0.005, 'The model answered 500.', false, now()),
               ('b/two', 0, 0, 'No endpoint keeps nothing.', true, now()),
               ('b/two', 1, 1.000, null, false, now() - interval '2 days')) v(m, i, c, e, u, at)
 where r.stripe_session_id = 'cs_a';
select is(public.operations_metrics() -> 'calls_24h',
          '[{"model": "a/one", "outcome": "answered", "calls": 2},
            {"model": "a/one", "outcome": "failed", "calls": 1},
            {"model": "b/two", "outcome": "unavailable", "calls": 1}]'::jsonb,
          'the last day''s calls by model and outcome, older ones left out');
select is((public.operations_metrics() ->> 'model_spend_usd_24h')::numeric, 0.025, 'the last day''s model spend');

update public.checkout_sessions set refunded_at = now(), refund_id = 're_1' where stripe_session_id = 'cs_b';
select is((public.operations_metrics() ->> 'refunds_24h')::int, 1, 'refunds made in the last day');

select * from finish();
rollback;
