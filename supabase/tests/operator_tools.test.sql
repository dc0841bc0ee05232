-- What `modelpick ops` reads: the day's and the week's business, what
-- needs a person, and one report's story.
begin;
select plan(9);

select is((public.operations_summary() -> 'today') - 'since',
          '{"paid": 0, "complete": 0, "failed": 0, "refunded": 0, "payments_usd": 0, "refunds_usd": 0, "model_spend_usd": 0}'::jsonb,
          'a quiet day');

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
       '{"prompt": "x"}', array['openai/gpt-4o']
  from unnest(array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002']::uuid[]) d;
select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_1');
select public.fulfill_checkout('cs_2', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_2');
create temporary table first_report as select id from public.reports where stripe_session_id = 'cs_1';
insert into public.benchmark_runs (report_id, model_id, image_index, cost, passed, error)
select id, m, i, c, p, e from first_report,
       (values ('a/one', 0, 0.25, true, null), ('a/one', 1, 0.5, false, 'The model answered 500.')) v(m, i, c, p, e);
select public.finish_report(r.id, r.lease_token, 'failed', 'Every call failed.')
  from public.claim_next_report('w', 60) r;
select public.record_charge_refunded(s.payment_intent_id, 'ch_1', 1499, 1499)
  from public.checkout_sessions s join public.reports r on r.stripe_session_id = s.stripe_session_id
 where r.status = 'failed';

select is((public.operations_summary() -> '7 days') - 'since',
          '{"paid": 2, "complete": 0, "failed": 1, "refunded": 1, "payments_usd": 29.98, "refunds_usd": 14.99, "model_spend_usd": 0.75}'::jsonb,
          'two paid, one failed and refunded, and what the calls cost');

update public.reports set paid_at = now() - interval '10 minutes' where status = 'paid';
select is(jsonb_array_length(public.operations_stuck() -> 'waiting'), 1, 'a paid report waiting 10 minutes needs a person');
select is(public.operations_stuck() -> 'followups', '[]'::jsonb, 'no follow-up keeps failing yet');
update private.followups set alerted_at = now(), attempts = 5, last_error = 'Resend said no' where kind = 'email';
select is((public.operations_stuck() -> 'followups' -> 0 ->> 'last_error'), 'Resend said no', 'one that does is listed');
select is((public.operations_stuck() ->> 'unsent_alerts')::int, 1, 'with the alerts not mailed yet');

select is((select public.report_story(r.id) -> 'report' ->> 'status' from public.reports r where r.status = 'failed'),
          'failed', 'a report''s story');
select is((select public.report_story(id) -> 'calls' from first_report),
          '[{"model": "a/one", "calls": 2, "passed": 1, "failed": 1, "unavailable": 0, "cost": 0.75, "last_error": "The model answered 500."}]'::jsonb,
          'its calls by model');
select is(public.report_story(gen_random_uuid()), null, 'no story for an id that is no report');

select * from finish();
rollback;
