-- The hard ceiling is the database's: worst cases computed from what a
-- call sends, reservations refused past $7.00 whatever the engine asks,
-- unknown outcomes settled at their worst case, retries reserved, attempts
-- that end, and the estimate before payment by the same formula.
begin;
select plan(30);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
-- An expensive model (the stand-in's "premium"): $40 / $160 per million.
insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, max_image_tokens)
values ('test/premium', 'Premium', 'Test', 40, 160, 1000),
       ('test/unbounded', 'Unbounded', 'Test', 1, 1, null);
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select ('d0000000-0000-4000-8000-00000000000' || n)::uuid, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       jsonb_build_object('images', (select jsonb_agg(jsonb_build_object(
         'path', 'a0000000-0000-4000-8000-00000000000a/' || i || '.png', 'expected', '{"a": 1}'::jsonb,
         'width', 1000, 'height', 1000)) from generate_series(0, 49) i)),
       jsonb_build_object('prompt', repeat('p', 488), 'userSchema', '{"type": "object"}'::jsonb),
       array['test/premium', 'test/unbounded']
  from generate_series(1, 3) n;
do $$
begin
  perform public.fulfill_checkout('cs_' || n, ('d0000000-0000-4000-8000-00000000000' || n)::uuid, 'a0000000-0000-4000-8000-00000000000a')
     from generate_series(1, 3) n;
end
$$;
update public.reports set paid_at = now() - (interval '1 minute' * (10 - (right(stripe_session_id, 1))::int));

-- Text: 488 prompt bytes + 18 schema bytes + 512 = 1018 tokens at most.
select is(private.text_token_bound(repeat('p', 488), '{"type": "object"}'), 1018, 'text tokens are bounded by bytes');
select is(private.image_token_bound(1000000, null), 5167, 'an image without a published maximum: by its pixels');
select is(private.image_token_bound(1000000, 1445), 1445, 'an image with one: the model''s maximum');
select is(private.call_worst_case('{"prompt_usd_per_mtok": 40, "completion_usd_per_mtok": 160, "image_usd": 0.01, "request_usd": 0.002}',
                                  1018, 1000, 1024),
          round((2018 * 40 + 1024 * 160) / 1e6 + 0.012, 6), 'a call''s worst case counts text, image, answer, image and request fees');

-- The estimate before payment: the same worst case, summed.
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
select is(public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001') - 'worst_case_by_model_usd',
          jsonb_build_object('calls', 100, 'repeats', 1, 'worst_case_usd', 12.588450, 'soft_ceiling_usd', 6.50,
                             'hard_ceiling_usd', 7.00, 'may_stop_at_ceiling', true),
          'the estimate sums the worst case of every call (50 x 0.244560 + 50 x 0.007209)');
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "b0000000-0000-4000-8000-00000000000b"}', true);
select throws_ok($$select public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001')$$, 'PT404', null,
                 'nobody estimates someone else''s draft');
select set_config('request.jwt.claims', '', true);

create temporary table claim as select * from public.claim_next_report('w', 60);
select is((select stripe_session_id from claim), 'cs_1', 'the oldest paid report is claimed');

-- Each premium call: (1018 + 1000) * 40 + 1024 * 160 = 0.244560.
select is(public.reserve_run((select id from claim), (select lease_token from claim), 'test/premium', 0, 1000000),
          0.244560, 'the worst case is computed by the database, from the report''s own prompt, schema and price');
select is(public.reserve_run((select id from claim), (select lease_token from claim), 'test/unbounded', 0, 4000000),
          round((1018 + 20473 + 1024) / 1e6, 6), 'by pixels for a model without a published maximum');
select throws_ok($$select public.reserve_run((select id from claim), (select lease_token from claim), 'test/premium', 0, 1000000)$$,
          'PT409', null, 'a cell with a call in flight is not reserved twice');
select throws_ok($$select public.reserve_run((select id from claim), (select lease_token from claim), 'openai/gpt-4o', 1, 1000000)$$,
          'PT422', 'no price is known for model openai/gpt-4o', 'a model the report has no price for is never called');

-- The engine names no ceiling: reservations stop at the database's soft
-- ceiling (draft_limits(), $6.50).
do $$
declare
  _i integer;
begin
  for _i in 1..49 loop
    perform public.reserve_run((select id from claim), (select lease_token from claim), 'test/premium', _i, 1000000);
  end loop;
end
$$;
select ok((select cost_spent + cost_reserved + cost_unsettled <= 6.50 from public.reports where id = (select id from claim)),
          'no new call takes committed money past the soft ceiling');
select is((select count(*)::int from private.run_reservations where report_id = (select id from claim)), 1 + 26,
          'the unbounded call and 26 premium calls fit under $6.50 (27 * 0.244560 > 6.50 - 0.022)');
select is((select round(cost_reserved, 6) from public.reports where id = (select id from claim)),
          round(0.022515 + 26 * 0.244560, 6), 'the reservations are what is committed');

-- A retry after an unknown outcome reserves another worst case, past the
-- soft ceiling (the call is already under way) but within $7.00 only.
select is(public.reserve_retry((select id from claim), (select lease_token from claim), 'test/premium', 0), true,
          'a retry may pass the soft ceiling');
select is(public.reserve_retry((select id from claim), (select lease_token from claim), 'test/premium', 0), true,
          'and again, while $7.00 holds it (0.022515 + 28 * 0.244560)');
select is(public.reserve_retry((select id from claim), (select lease_token from claim), 'test/premium', 0), false,
          'no retry past the hard ceiling');
select ok(public.record_run((select id from claim), (select lease_token from claim),
          '{"model_id": "test/premium", "image_index": 1, "error": "the model did not answer within 120 s", "attempts": 1, "attempts_at_worst_case": 1}'),
          'a timed-out call is recorded');
select is((select cost from public.benchmark_runs where report_id = (select id from claim) and image_index = 1),
          0.244560, 'and settled at its worst case: it may have been billed');
select is(public.reserve_retry((select id from claim), (select lease_token from claim), 'test/unbounded', 0), true,
          'a retry that fits is reserved');
select ok(public.record_run((select id from claim), (select lease_token from claim),
          '{"model_id": "test/unbounded", "image_index": 0, "output_json": "{}", "cost": 0.001, "attempts": 2, "attempts_at_worst_case": 1}'),
          'a call whose first attempt was unknown and second answered');
select is((select cost || '/' || attempts || '/' || attempts_at_worst_case from public.benchmark_runs
            where report_id = (select id from claim) and model_id = 'test/unbounded'),
          round(0.001 + 0.022515, 6) || '/2/1', 'costs what was reported plus the worst case of the unknown attempt');
select ok((select cost_spent + cost_reserved + cost_unsettled <= 7.00 from public.reports where id = (select id from claim)),
          'still within $7.00');

-- A reservation made ahead for a call never sent is given back.
select is(public.release_reservation((select id from claim), (select lease_token from claim), 'test/premium', 2), true,
          'a call never sent gives its reservation back');
select is((select round(cost_reserved, 6) from public.reports where id = (select id from claim)),
          round(26 * 0.244560, 6),
          'and committed money no longer counts it');

-- Attempts end: a report claimed three times is not run a fourth.
update public.reports set lease_expires_at = now() - interval '1 second' where id = (select id from claim);
update public.reports set attempts = 3 where id = (select id from claim);
create temporary table next_claim as select * from public.claim_next_report('w2', 60, 3);
select is((select stripe_session_id from next_claim), 'cs_2', 'the exhausted report is passed over');
select is((select status || '/' || cut_short || '/' || status_reason from public.reports where id = (select id from claim)),
          'complete/true/Stopped after 3 interrupted attempts: 2 of 100 runs were made.',
          'and ends with what it delivered');

update public.reports set status = 'paid', lease_token = null, lease_expires_at = null, attempts = 5
 where stripe_session_id = 'cs_3';
select is((select count(*)::int from public.claim_next_report('w3', 60, 5)), 0, 'nothing else to claim');
select is((select status || '/' || status_reason from public.reports where stripe_session_id = 'cs_3'),
          'failed/The benchmark was interrupted 5 times and could not finish. You will be refunded.',
          'a report that delivered nothing fails');
select is((select kind from private.followups f join public.reports r on r.id = f.report_id
            where r.stripe_session_id = 'cs_3' and kind = 'refund'), 'refund', 'and is owed its refund');

select * from finish();
rollback;
