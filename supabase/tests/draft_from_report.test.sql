-- draft_from_report (025): the owner runs a report's documents again, on
-- other models; no one else can; the files are the report's own, locked
-- while a paid report uses them; the new draft counts toward the limit.
begin;
\ir _helpers.psql
select plan(11);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into pg_temp.personas (name, role, claims) values
  ('owner', 'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}'),
  ('other', 'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}');

insert into storage.objects (bucket_id, name, owner) values
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d1/a.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d1/b.png', 'a0000000-0000-4000-8000-00000000000a');
insert into public.benchmark_drafts (id, user_id, status, config_data, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"name": "Supplier invoices", "priority": "cost"}',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/d1/a.png", "name": "a.png", "width": 1240, "height": 1754, "expected": {"total": 1}},
                     {"path": "a0000000-0000-4000-8000-00000000000a/d1/b.png", "name": "b.png", "width": 1240, "height": 1754, "expected": {"total": 2}}]}',
        '{"prompt": "Extract the total.", "userSchema": {"type": "object", "properties": {"total": {"type": "number"}}}, "inferredSchema": {}}',
        array['openai/gpt-4o', 'openai/gpt-4o-mini']);
select public.fulfill_checkout('cs_first', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
update public.reports set id = 'e0000000-0000-4000-8000-0000000000e1', status = 'complete';
create temporary table made (id uuid);
grant all on made to authenticated;

select pg_temp.act_as('other');
select throws_ok(
  $$select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1')$$,
  'PT404', 'no report e0000000-0000-4000-8000-0000000000e1 among yours',
  'another user cannot run someone else''s report again'
);
reset role;

select pg_temp.act_as('owner');
insert into made select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1');
reset role;

select is((select count(*)::int from public.benchmark_drafts where user_id = 'a0000000-0000-4000-8000-00000000000a'), 2, 'the owner gets one new draft');
select row_eq(
  $$select d.user_id, d.status, d.selected_models, d.config_data ->> 'name', d.config_data ->> 'priority'
      from public.benchmark_drafts d join made m on m.id = d.id$$,
  row('a0000000-0000-4000-8000-00000000000a'::uuid, 'draft'::text, '{}'::text[], 'Supplier invoices, again'::text, 'cost'::text),
  'it is the owner''s, unfinished, with no model picked and the report''s settings'
);
select is(
  (select d.upload_data from public.benchmark_drafts d join made m on m.id = d.id),
  (select config_snapshot -> 'upload_data' from public.reports),
  'the same documents and expected JSON, the same files'
);
select is(
  (select d.schema_data from public.benchmark_drafts d join made m on m.id = d.id),
  (select config_snapshot -> 'schema_data' from public.reports),
  'the same schema and prompt'
);
select is(
  (select d.config_data -> 'source_report' from public.benchmark_drafts d join made m on m.id = d.id),
  (select jsonb_build_object('id', r.id, 'name', 'Supplier invoices', 'paid_at', r.paid_at,
                             'models', '["openai/gpt-4o", "openai/gpt-4o-mini"]'::jsonb)
     from public.reports r),
  'the draft knows the report it came from, when it was paid and its models'
);
select is((select count(*)::int from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/%'), 2, 'no file is copied');

-- Paid with other models, the new report uses the same files, which stay
-- locked while it runs.
update public.benchmark_drafts d set selected_models = array['google/gemini-2.0-flash-001'], status = 'ready'
  from made m where m.id = d.id;
select ok(
  (select created from public.fulfill_checkout('cs_again', (select id from made), 'a0000000-0000-4000-8000-00000000000a')),
  'the re-run is paid for as any draft'
);
select is(
  (select image_paths from public.reports where stripe_session_id = 'cs_again'),
  (select image_paths from public.reports where stripe_session_id = 'cs_first'),
  'the new report reads the same files'
);
select is(
  pg_temp.attempt('owner', $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/d1/a.png'$q$, true),
  'no rows',
  'a file a paid report uses cannot be deleted'
);

-- The thousandth call: a draft made here counts toward the 50 unfinished
-- (both drafts above are paid by now).
insert into public.benchmark_drafts (user_id)
select 'a0000000-0000-4000-8000-00000000000a' from generate_series(1, 50);
select pg_temp.act_as('owner');
select throws_ok(
  $$select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1')$$,
  '23514',
  'You have 50 unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.',
  'past 50 unfinished drafts, no more are made'
);
reset role;

select * from finish();
rollback;
