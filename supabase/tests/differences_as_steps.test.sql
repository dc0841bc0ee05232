-- Migration 034 completes differences recorded before the engine stored
-- them as it does now (src/figures/diff.rs): path as steps, where in
-- words, field with rows folded, costs_field. Runs it again on such rows.
begin;
select plan(7);

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

insert into public.benchmark_runs (report_id, model_id, image_index, passed, fields_total, fields_matched, field_diffs)
select r.id, v.model, 0, false, 4, 1, v.diffs::jsonb
  from public.reports r,
       (values ('openai/gpt-4o', '[
                  {"path": "items[1].unit_price", "kind": "mismatch", "expected": 24.95, "actual": 24.59},
                  {"path": "items[+2]", "kind": "extra", "expected": null, "actual": {"sku": "A-1"}},
                  {"path": "total", "kind": "missing", "expected": 96, "actual": null},
                  {"path": "", "kind": "note", "expected": null, "actual": null, "note": "asked in the prompt only"}]'),
               ('openai/gpt-4o-mini', '[
                  {"kind": "mismatch", "path": ["total"], "where": "total", "field": ["total"], "expected": 1, "actual": 2}]'))
         as v (model, diffs);
create temporary table stored_now as
  select model_id, field_diffs from public.benchmark_runs where model_id = 'openai/gpt-4o-mini';

\ir ../migrations/034_differences_as_steps.sql

create temporary table rewritten as
  select d, n from public.benchmark_runs b, jsonb_array_elements(b.field_diffs) with ordinality as e(d, n)
   where b.model_id = 'openai/gpt-4o';

select is((select d from rewritten where n = 1),
          '{"kind": "mismatch", "path": ["items", 1, "unit_price"], "where": "items › row 2 › unit_price",
            "field": ["items", null, "unit_price"], "costs_field": true, "expected": 24.95, "actual": 24.59}'::jsonb,
          'a row''s field: steps, words and the field it is at');
select is((select d from rewritten where n = 2),
          '{"kind": "extra", "path": ["items", {"extra": 2}], "where": "items › extra row 3",
            "field": ["items", null], "costs_field": false, "expected": null, "actual": {"sku": "A-1"}}'::jsonb,
          'an extra row');
select is((select (d -> 'path') || (d -> 'field') || jsonb_build_array(d -> 'where') from rewritten where n = 3),
          '["total", "total", "total"]'::jsonb, 'a top-level field');
select is((select d from rewritten where n = 4),
          '{"kind": "note", "path": [], "where": "the answer", "field": [], "costs_field": false, "expected": null, "actual": null,
            "note": "asked in the prompt only"}'::jsonb,
          'the answer itself, its note kept');
select is((select field_diffs from public.benchmark_runs where model_id = 'openai/gpt-4o-mini'),
          (select jsonb_build_array(field_diffs -> 0 || '{"costs_field": true}') from stored_now),
          'a difference stored as steps only learns whether it costs a field');
select is((select count(*)::int from public.benchmark_runs b, jsonb_array_elements(b.field_diffs) d
            where not d ? 'costs_field'), 0, 'every difference says whether it costs a field');
select is((select count(*)::int from public.benchmark_runs b, jsonb_array_elements(b.field_diffs) d
            where jsonb_typeof(d -> 'path') <> 'array'), 0, 'no difference keeps the old notation');

select * from finish();
rollback;
