-- 027: a file a report uses is deleted only when its owner deletes that
-- report's images, never as a side effect of deleting a draft (the re-run
-- draft that borrows the report's files, or anything a client sends to
-- Storage); after that, the report says so, shows no image to link
-- holders, and is not run again.
begin;
\ir _helpers.psql
select plan(14);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into pg_temp.personas (name, role, claims) values
  ('anon', 'anon', '{"role": "anon"}'),
  ('owner', 'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}'),
  ('other', 'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}');

insert into storage.objects (bucket_id, name, owner) values
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d1/a.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d1/b.png', 'a0000000-0000-4000-8000-00000000000a');
insert into public.benchmark_drafts (id, user_id, status, config_data, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready', '{"name": "Invoices"}',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/d1/a.png", "name": "a.png", "expected": {"total": 1}},
                     {"path": "a0000000-0000-4000-8000-00000000000a/d1/b.png", "name": "b.png", "expected": {"total": 2}}]}',
        '{"prompt": "Extract."}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_first', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
update public.reports set id = 'e0000000-0000-4000-8000-0000000000e1', share_token = 'token-one', share_images = true;

select is(pg_temp.attempt('owner', $q$select public.delete_report_images('e0000000-0000-4000-8000-0000000000e1')$q$),
          'error PT409: This report is still running and needs its images. Delete them once it has finished.',
          'a report still to run keeps its images');
update public.reports set status = 'complete';

-- A re-run draft borrows the report's files; deleting it, and then its
-- files as the dashboard once did, deletes no file of the report.
select pg_temp.act_as('owner');
create temporary table rerun as select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1') as id;
reset role;
grant select on rerun to authenticated;
select is(pg_temp.attempt('owner', $q$delete from public.benchmark_drafts where id = (select id from rerun)$q$),
          'allowed', 'the owner deletes the re-run draft');
select is(pg_temp.attempt('owner', $q$delete from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/d1/%'$q$, true),
          'no rows', 'but not the finished report''s files, whatever is sent to Storage');
select is(pg_temp.attempt('owner', $q$update storage.objects set metadata = '{}' where name = 'a0000000-0000-4000-8000-00000000000a/d1/a.png'$q$, true),
          'no rows', 'nor replace them');
select is((select count(*)::int from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/d1/%'), 2,
          'both files are there');

-- Only the owner deletes a report's images, explicitly.
select is(pg_temp.attempt('other', $q$select public.delete_report_images('e0000000-0000-4000-8000-0000000000e1')$q$),
          'not found', 'no one else can delete them');
select is(pg_temp.attempt('anon', $q$select public.delete_report_images('e0000000-0000-4000-8000-0000000000e1')$q$),
          'no privilege', 'nor anyone signed out');
select pg_temp.act_as('owner');
select is(public.delete_report_images('e0000000-0000-4000-8000-0000000000e1'),
          array['a0000000-0000-4000-8000-00000000000a/d1/a.png', 'a0000000-0000-4000-8000-00000000000a/d1/b.png'],
          'the owner lets go of the report''s files and learns which no report keeps');
select is(public.delete_report_images('e0000000-0000-4000-8000-0000000000e1'),
          array['a0000000-0000-4000-8000-00000000000a/d1/a.png', 'a0000000-0000-4000-8000-00000000000a/d1/b.png'],
          'asking again changes nothing');
select ok((public.read_report('e0000000-0000-4000-8000-0000000000e1') ->> 'images_deleted_at') is not null,
          'the report says its images were deleted');
select throws_ok($$select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1')$$, 'PT409',
                 'This report''s document images were deleted, so it cannot be run again. Start a new benchmark with the documents.',
                 'and is not run again');
reset role;
select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', 'token-one'), null,
          'link holders see no image any more');
select is(pg_temp.attempt('owner', $q$delete from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/d1/%'$q$, true),
          'allowed', 'now Storage deletes the files for their owner');
select is(pg_temp.attempt('other', $q$delete from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/%'$q$, true),
          'no rows', 'and never for anyone else');

select * from finish();
rollback;
