-- A draft may ask each call to be made up to three times (config_data.repeats):
-- the database holds it to that, prices every repeat before payment, plans
-- and reserves each repeat as a call of its own, and records one answer per
-- repeat.
begin;
select plan(23);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, max_image_tokens)
values ('test/cheap', 'Cheap', 'Test', 1, 2, 1000);
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models, config_data)
values ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        jsonb_build_object('images', (select jsonb_agg(jsonb_build_object(
          'path', 'a0000000-0000-4000-8000-00000000000a/' || i || '.png', 'expected', '{"a": 1}'::jsonb,
          'width', 1000, 'height', 1000)) from generate_series(0, 1) i)),
        jsonb_build_object('prompt', 'Read it.'),
        array['test/cheap'], '{"repeats": 3}');

-- What a draft may ask.
select throws_ok($$update public.benchmark_drafts set config_data = '{"repeats": 4}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                 '23514', 'config_data.repeats asks each call 1 to 3 times; it is 4.', 'four repeats are refused');
select throws_ok($$update public.benchmark_drafts set config_data = '{"repeats": 0}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                 '23514', null, 'no repeat at all is refused');
select throws_ok($$update public.benchmark_drafts set config_data = '{"repeats": 2.5}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                 '23514', null, 'a fraction is refused');
select throws_ok($$update public.benchmark_drafts set config_data = '{"repeats": "2"}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                 '23514', null, 'a string is refused');
select throws_ok($$update public.benchmark_drafts set status = 'draft', config_data = '{"repeats": [1]}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                 '23514', null, 'an unfinished draft is held to it too');
select lives_ok($$update public.benchmark_drafts set config_data = '{"repeats": null}' where id = 'd0000000-0000-4000-8000-000000000001'$$,
                'null is once');
select is(private.repeats_asked('{"repeats": null}'), 1, 'null asks each call once');
select is(private.repeats_asked('{}'), 1, 'saying nothing asks each call once');
select is(private.repeats_asked('{"repeats": 2.0}'), 2, '2.0 is two');
update public.benchmark_drafts set config_data = '{"repeats": 3}' where id = 'd0000000-0000-4000-8000-000000000001';

-- The estimate counts every repeat.
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
select is(public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001') -> 'calls', '6', 'two documents, one model, three times');
update public.benchmark_drafts set config_data = '{}' where id = 'd0000000-0000-4000-8000-000000000001';
create temporary table once as select public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001') as e;
update public.benchmark_drafts set config_data = '{"repeats": 3}' where id = 'd0000000-0000-4000-8000-000000000001';
select is((public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001') ->> 'worst_case_usd')::numeric,
          ((select e from once) ->> 'worst_case_usd')::numeric * 3, 'the worst case is three times once''s');
select is(public.estimate_draft_cost('d0000000-0000-4000-8000-000000000001') -> 'worst_case_by_model_usd' -> 'test/cheap',
          to_jsonb(((select e from once) -> 'worst_case_by_model_usd' ->> 'test/cheap')::numeric * 3),
          'so is each model''s');
select set_config('request.jwt.claims', '', true);

-- Paid: every repeat is a planned run, reserved and recorded on its own.
select public.fulfill_checkout('cs_repeats', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
select is((select runs_planned from public.reports where stripe_session_id = 'cs_repeats'), 6, 'six runs are planned');
create temporary table claim as select * from public.claim_next_report('w', 60);
select ok(public.reserve_run((select id from claim), (select lease_token from claim), 'test/cheap', 0, 1000000) > 0,
          'the first answer is reserved');
select ok(public.reserve_run((select id from claim), (select lease_token from claim), 'test/cheap', 0, 1000000, 2) > 0,
          'so is the third, on its own');
select throws_ok($$select public.reserve_run((select id from claim), (select lease_token from claim), 'test/cheap', 0, 1000000, 2)$$,
                 'PT409', null, 'a repeat in flight is not reserved twice');
select throws_ok($$select public.reserve_run((select id from claim), (select lease_token from claim), 'test/cheap', 0, 1000000, 3)$$,
                 'PT400', 'this report asks each call 3 times; repeat 3 is not one of them', 'a fourth answer is never reserved');
select is((select count(*)::int from public.reserve_runs((select id from claim), (select lease_token from claim),
             '[{"model_id": "test/cheap", "image_index": 1, "image_pixels": 1000000, "repeat": 1}]') where amount is not null),
          1, 'a batch names each call''s repeat');
select ok(public.reserve_retry((select id from claim), (select lease_token from claim), 'test/cheap', 0, 2),
          'a retry is reserved for its repeat');
select is((select array_agg(image_index || ':' || repeat order by image_index, repeat) from private.run_reservations
            where report_id = (select id from claim)), array['0:0', '0:2', '1:1'], 'each repeat holds its own reservation');
select ok(public.release_reservation((select id from claim), (select lease_token from claim), 'test/cheap', 1, 1),
          'a repeat that will not be sent gives its reservation back');
select is(public.record_runs((select id from claim), (select lease_token from claim),
            '[{"model_id": "test/cheap", "image_index": 0, "repeat": 0, "output_json": "{\"a\": 1}", "passed": true, "cost": "0.001"},
              {"model_id": "test/cheap", "image_index": 0, "repeat": 2, "output_json": "{\"a\": 2}", "cost": "0.001"},
              {"model_id": "test/cheap", "image_index": 0, "repeat": 2, "output_json": "{\"a\": 3}", "cost": "0.001"}]'),
          2, 'each repeat is recorded once');
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "a0000000-0000-4000-8000-00000000000a"}', true);
select is((select array_agg(repeat || ':' || output_json order by repeat) from public.read_report_runs((select id from claim))),
          array['0:{"a": 1}', '2:{"a": 2}'], 'the owner reads each answer with its repeat, the first kept');

select * from finish();
rollback;
