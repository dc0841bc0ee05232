-- fulfill_checkout: one report per Stripe session, a faithful snapshot of the
-- draft, and clear refusals that change nothing.
begin;
select plan(20);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into public.benchmark_drafts (id, user_id, status, config_data, upload_data, schema_data, selected_models)
values (
  'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
  '{"name": "Receipts"}',
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {"a": 1}},
               {"path": "a0000000-0000-4000-8000-00000000000a/2.png", "expected": {"a": 2}}]}',
  '{"prompt": "Extract a.", "userSchema": {"type": "object"}, "inferredSchema": {"type": "null"}}',
  array['openai/gpt-4o', 'openai/gpt-4o-mini', 'mistralai/pixtral-12b']
);

create temporary table first_call as
  select * from public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
create temporary table second_call as
  select * from public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');

select is((select created from first_call), true, 'the first call creates the report');
select is((select created from second_call), false, 'the second call does not');
select is((select report_id from second_call), (select report_id from first_call), 'both calls name the same report');
select is((select count(*)::int from public.reports), 1, 'called twice, one report');
select is((select status from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'), 'paid', 'the draft is marked paid');

select is((select status from public.reports), 'paid', 'the report starts as paid');
select is((select runs_planned from public.reports), 6, 'runs planned = images × models');
select is((select image_paths from public.reports),
          array['a0000000-0000-4000-8000-00000000000a/1.png', 'a0000000-0000-4000-8000-00000000000a/2.png'],
          'image paths in upload order');
select is((select extraction_prompt from public.reports), 'Extract a.', 'the prompt is snapshotted');
select is((select json_schema from public.reports), '{"type": "object"}'::jsonb, 'the user''s schema wins over the inferred one');
select is((select config_snapshot -> 'model_prices' -> 'openai/gpt-4o' ->> 'prompt_usd_per_mtok' from public.reports),
          '2.500000', 'model prices are snapshotted from the catalog');
select is((select config_snapshot -> 'upload_data' -> 'images' -> 1 -> 'expected' from public.reports),
          '{"a": 2}'::jsonb, 'expected JSON is snapshotted per image');
select ok((select length(share_token) = 64 and share_token ~ '^[0-9a-f]+$' from public.reports),
          'a 64-hex-digit share token is minted');

-- Later edits to the catalog do not change what the report was sold with.
update public.model_catalog set prompt_usd_per_mtok = 99 where id = 'openai/gpt-4o';
select is((select config_snapshot -> 'model_prices' -> 'openai/gpt-4o' ->> 'prompt_usd_per_mtok' from public.reports),
          '2.500000', 'the snapshot does not follow the catalog');

select throws_ok(
  $$select public.fulfill_checkout('cs_2', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$$,
  'PT409', null, 'a second session for a paid draft is refused');
select throws_ok(
  $$select public.fulfill_checkout('', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$$,
  'PT400', null, 'an empty session id is refused');
select is((select count(*)::int from public.reports), 1, 'refusals created nothing');


-- Paying does not walk the draft again: it was held to its limits when it
-- was written, and a limit tightened since does not refuse a payment. A
-- paid draft whose content changes is checked as ever.
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d3', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/3.png", "expected": {"a": 3}}]}',
        '{"prompt": "Extract a."}', array['openai/gpt-4o']);
alter table public.benchmark_drafts disable trigger benchmark_drafts_check_ready;
update public.benchmark_drafts set config_data = '{"repeats": 9}' where id = 'd0000000-0000-4000-8000-0000000000d3';
alter table public.benchmark_drafts enable trigger benchmark_drafts_check_ready;
select lives_ok(
  $$select public.fulfill_checkout('cs_3', 'd0000000-0000-4000-8000-0000000000d3', 'a0000000-0000-4000-8000-00000000000a')$$,
  'a ready draft is paid for without being held to today''s limits again');
select is((select status from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d3'), 'paid',
          'and is marked paid');
select throws_ok(
  $$update public.benchmark_drafts set config_data = '{"repeats": 8}' where id = 'd0000000-0000-4000-8000-0000000000d3'$$,
  '23514', null, 'a paid draft whose content changes is held to the limits');

select * from finish();
rollback;
