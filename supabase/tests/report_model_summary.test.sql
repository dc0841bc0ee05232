-- The per-model summary: pass rate, field accuracy, cost and latency, with
-- failed calls counted against their model.
begin;
select plan(10);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
        '{"prompt": "x"}', array['openai/gpt-4o', 'openai/gpt-4o-mini']);
do $$
begin
  perform public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
end
$$;

-- gpt-4o: 4 runs, 3 passed, one answered wrongly; latencies 100..400 ms.
-- gpt-4o-mini: 2 runs, one failed call (timeout) that scores 0.
insert into public.benchmark_runs (report_id, model_id, image_index, passed, fields_total, fields_matched, cost, response_time_ms, error)
select r.id, v.model, v.idx, v.passed, v.total, v.matched, v.cost, v.ms, v.error
  from public.reports r,
       (values ('openai/gpt-4o', 0, true, 4, 4, 0.010, 100, null),
               ('openai/gpt-4o', 1, true, 4, 4, 0.010, 200, null),
               ('openai/gpt-4o', 2, true, 4, 4, 0.010, 300, null),
               ('openai/gpt-4o', 3, false, 4, 2, 0.010, 400, null),
               ('openai/gpt-4o-mini', 0, true, 4, 4, 0.001, 50, null),
               ('openai/gpt-4o-mini', 1, false, 4, 0, 0, 30000, 'The model did not answer within 60 s.'))
         as v (model, idx, passed, total, matched, cost, ms, error);

create temporary table big as select * from public.report_model_summary where model_id = 'openai/gpt-4o';
create temporary table mini as select * from public.report_model_summary where model_id = 'openai/gpt-4o-mini';

select is((select runs from big), 4, 'runs counted');
select is((select passed from big), 3, 'passed counted');
select is((select accuracy from big), 0.7500, 'document-level pass rate');
select is((select field_accuracy from big), 0.8750, 'field-level accuracy = matched / compared');
select is((select total_cost from big), 0.040000::numeric(10, 6), 'total cost');
select is((select median_latency_ms from big), 250, 'median latency');
select is((select p95_latency_ms from big), 385, 'p95 latency (interpolated)');
select is((select accuracy || '/' || field_accuracy || '/' || errors from mini), '0.5000/0.5000/1',
          'a failed call counts against its model');
select is((select median_latency_ms from mini), 50, 'latency is over calls that answered');
select is((select count(*)::int from public.report_model_summary), 2, 'one row per model');

select * from finish();
rollback;
