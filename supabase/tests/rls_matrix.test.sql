-- Who may do what: every table (and the summary view) × {anon, owner, other
-- user, share-token holder, service_role} × {select, insert, update, delete},
-- with the expected outcome of each cell, plus the edge cases that would be
-- holes: listing shared reports, wrong tokens, paid drafts, calling the
-- service-role functions.
begin;
\ir _helpers.psql

-- Fixtures, as the table owner ---------------------------------------------
insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');

insert into pg_temp.personas (name, role, claims, headers) values
  ('anon',    'anon',          '{"role": "anon"}', '{}'),
  ('owner',   'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}', '{}'),
  ('other',   'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}', '{}'),
  ('share',   'anon',          '{"role": "anon"}', '{"x-share-token": "shared-token-0123456789abcdef"}'),
  ('service', 'service_role',  '{"role": "service_role"}', '{}'),
  -- edge personas
  ('other_with_token', 'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}',
                                        '{"x-share-token": "shared-token-0123456789abcdef"}'),
  ('wrong_token', 'anon', '{"role": "anon"}', '{"x-share-token": "shared-token-0123456789abcdeX"}'),
  ('empty_token', 'anon', '{"role": "anon"}', '{"x-share-token": ""}');

create temporary table ids as select
  'd0000000-0000-4000-8000-0000000000d1'::uuid as ready_draft,
  'd0000000-0000-4000-8000-0000000000d2'::uuid as paid_draft,
  'd0000000-0000-4000-8000-0000000000d3'::uuid as second_paid_draft,
  'd0000000-0000-4000-8000-0000000000d4'::uuid as others_draft;

insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d.id, d.user_id, 'ready',
       jsonb_build_object('images', jsonb_build_array(jsonb_build_object(
         'path', d.user_id || '/' || d.id || '.png', 'expected', '{"total": 1}'::jsonb))),
       '{"prompt": "Extract."}', array['openai/gpt-4o']
  from (values
    ('d0000000-0000-4000-8000-0000000000d1'::uuid, 'a0000000-0000-4000-8000-00000000000a'::uuid),
    ('d0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-00000000000a'),
    ('d0000000-0000-4000-8000-0000000000d3', 'a0000000-0000-4000-8000-00000000000a'),
    ('d0000000-0000-4000-8000-0000000000d4', 'b0000000-0000-4000-8000-00000000000b')
  ) as d (id, user_id);

do $$
begin
  perform public.fulfill_checkout('cs_shared', 'd0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-00000000000a');
  perform public.fulfill_checkout('cs_private', 'd0000000-0000-4000-8000-0000000000d3', 'a0000000-0000-4000-8000-00000000000a');
  perform public.fulfill_checkout('cs_others', 'd0000000-0000-4000-8000-0000000000d4', 'b0000000-0000-4000-8000-00000000000b');
end
$$;
update public.reports set share_token = 'shared-token-0123456789abcdef' where stripe_session_id = 'cs_shared';

insert into public.benchmark_runs (report_id, model_id, image_index, passed, fields_total, fields_matched)
select id, 'openai/gpt-4o', 0, true, 1, 1 from public.reports;

insert into storage.objects (bucket_id, name, owner) values
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/loose.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'b0000000-0000-4000-8000-00000000000b/theirs.png', 'b0000000-0000-4000-8000-00000000000b');

-- The matrix ------------------------------------------------------------------
-- Statements name the owner's rows; 'allowed' means at least one row was read
-- or written.
create temporary table matrix (
  n serial,
  subject text not null,
  op text not null,
  persona text not null,
  expected text not null,
  sql text not null
);

create function pg_temp.cells(p_subject text, p_op text, p_sql text, p_anon text, p_owner text,
                              p_other text, p_share text, p_service text) returns void
language sql
as $$
  insert into pg_temp.matrix (subject, op, persona, expected, sql)
  values (p_subject, p_op, 'anon', p_anon, p_sql), (p_subject, p_op, 'owner', p_owner, p_sql),
         (p_subject, p_op, 'other', p_other, p_sql), (p_subject, p_op, 'share', p_share, p_sql),
         (p_subject, p_op, 'service', p_service, p_sql);
$$;

--                 subject              op        statement                                                                                      anon      owner      other     share      service
select pg_temp.cells('benchmark_drafts', 'select', $q$select * from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('benchmark_drafts', 'insert', $q$insert into public.benchmark_drafts (user_id) values ('a0000000-0000-4000-8000-00000000000a')$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('benchmark_drafts', 'update', $q$update public.benchmark_drafts set config_data = '{"x": 1}' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('benchmark_drafts', 'delete', $q$delete from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');

select pg_temp.cells('reports', 'select', $q$select * from public.reports where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'allowed', 'allowed');
select pg_temp.cells('reports', 'insert', $q$insert into public.reports (user_id, config_snapshot, image_paths, extraction_prompt) values ('a0000000-0000-4000-8000-00000000000a', '{}', '{}', 'x')$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('reports', 'update', $q$update public.reports set status = 'complete' where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('reports', 'delete', $q$delete from public.reports where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');

select pg_temp.cells('benchmark_runs', 'select', $q$select b.* from public.benchmark_runs b join public.reports r on r.id = b.report_id where r.stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'allowed', 'allowed');
select pg_temp.cells('benchmark_runs', 'insert', $q$insert into public.benchmark_runs (report_id, model_id, image_index) select id, 'openai/gpt-4o-mini', 0 from public.reports where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('benchmark_runs', 'update', $q$update public.benchmark_runs set passed = false where report_id in (select id from public.reports where stripe_session_id = 'cs_shared')$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('benchmark_runs', 'delete', $q$delete from public.benchmark_runs where report_id in (select id from public.reports where stripe_session_id = 'cs_shared')$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');

select pg_temp.cells('report_model_summary', 'select', $q$select s.* from public.report_model_summary s join public.reports r on r.id = s.report_id where r.stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'allowed', 'allowed');
select pg_temp.cells('report_model_summary', 'insert', $q$insert into public.report_model_summary (model_id) values ('x')$q$,
                                                                                                                                                  'read-only', 'read-only', 'read-only', 'read-only', 'read-only');
select pg_temp.cells('report_model_summary', 'update', $q$update public.report_model_summary set model_id = 'x'$q$,
                                                                                                                                                  'read-only', 'read-only', 'read-only', 'read-only', 'read-only');
select pg_temp.cells('report_model_summary', 'delete', $q$delete from public.report_model_summary$q$,
                                                                                                                                                  'read-only', 'read-only', 'read-only', 'read-only', 'read-only');

select pg_temp.cells('model_catalog', 'select', $q$select * from public.model_catalog where id = 'openai/gpt-4o'$q$,
                                                                                                                                                  'allowed', 'allowed', 'allowed', 'allowed', 'allowed');
select pg_temp.cells('model_catalog', 'insert', $q$insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok) values ('x/y', 'X', 'X', 0, 0)$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('model_catalog', 'update', $q$update public.model_catalog set prompt_usd_per_mtok = 0 where id = 'openai/gpt-4o'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('model_catalog', 'delete', $q$delete from public.model_catalog where id = 'openai/gpt-4o'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');

select pg_temp.cells('storage.objects', 'select', $q$select * from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('storage.objects', 'insert', $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/new.png')$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('storage.objects', 'update', $q$update storage.objects set metadata = '{"size": 1}' where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('storage.objects', 'delete', $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');

select pg_temp.cells('checkout_sessions', 'select', $q$select * from public.checkout_sessions where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'allowed', 'denied', 'denied', 'allowed');
select pg_temp.cells('checkout_sessions', 'insert', $q$insert into public.checkout_sessions (stripe_session_id, user_id, status) values ('cs_new', 'a0000000-0000-4000-8000-00000000000a', 'paid')$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('checkout_sessions', 'update', $q$update public.checkout_sessions set status = 'paid' where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');
select pg_temp.cells('checkout_sessions', 'delete', $q$delete from public.checkout_sessions where stripe_session_id = 'cs_shared'$q$,
                                                                                                                                                  'denied', 'denied', 'denied', 'denied', 'allowed');

-- Edge cases --------------------------------------------------------------------
insert into pg_temp.matrix (subject, op, persona, expected, sql) values
  -- Drafts: nobody pays for a draft by writing to it, and paid drafts are frozen.
  ('benchmark_drafts', 'insert as paid', 'owner', 'denied',
   $q$insert into public.benchmark_drafts (user_id, status) values ('a0000000-0000-4000-8000-00000000000a', 'paid')$q$),
  ('benchmark_drafts', 'insert for another user', 'other', 'denied',
   $q$insert into public.benchmark_drafts (user_id) values ('a0000000-0000-4000-8000-00000000000a')$q$),
  ('benchmark_drafts', 'set status paid', 'owner', 'denied',
   $q$update public.benchmark_drafts set status = 'paid' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$),
  ('benchmark_drafts', 'give away to another user', 'owner', 'denied',
   $q$update public.benchmark_drafts set user_id = 'b0000000-0000-4000-8000-00000000000b', status = 'draft' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$),
  ('benchmark_drafts', 'update a paid draft', 'owner', 'denied',
   $q$update public.benchmark_drafts set config_data = '{}' where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  ('benchmark_drafts', 'delete a paid draft', 'owner', 'denied',
   $q$delete from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  ('benchmark_drafts', 'read all', 'other', 'allowed',
   $q$select * from public.benchmark_drafts where user_id = 'b0000000-0000-4000-8000-00000000000b'$q$),
  ('benchmark_drafts', 'read any other than own', 'other', 'denied',
   $q$select * from public.benchmark_drafts where user_id <> 'b0000000-0000-4000-8000-00000000000b'$q$),
  -- Reports: a token opens exactly its own report; there is no listing.
  ('reports', 'list shared reports', 'anon', 'denied',
   $q$select * from public.reports where share_token is not null$q$),
  ('reports', 'read another report with a token', 'share', 'denied',
   $q$select * from public.reports where stripe_session_id <> 'cs_shared'$q$),
  ('reports', 'read with a wrong token', 'wrong_token', 'denied', $q$select * from public.reports$q$),
  ('reports', 'read with an empty token', 'empty_token', 'denied', $q$select * from public.reports$q$),
  ('reports', 'another user holding the token', 'other_with_token', 'allowed',
   $q$select * from public.reports where stripe_session_id = 'cs_shared'$q$),
  ('reports', 'owner reads an unshared report', 'owner', 'allowed',
   $q$select * from public.reports where stripe_session_id = 'cs_private'$q$),
  ('reports', 'owner changes the share token', 'owner', 'denied',
   $q$update public.reports set share_token = 'mine' where stripe_session_id = 'cs_shared'$q$),
  ('benchmark_runs', 'runs of other reports with a token', 'share', 'denied',
   $q$select b.* from public.benchmark_runs b join public.reports r on r.id = b.report_id where r.stripe_session_id <> 'cs_shared'$q$),
  ('benchmark_runs', 'runs of other reports with a token, unjoined', 'share', 'denied',
   $q$select * from public.benchmark_runs where report_id not in (select id from public.reports)$q$),
  ('report_model_summary', 'summaries with a wrong token', 'wrong_token', 'denied',
   $q$select * from public.report_model_summary$q$),
  -- Storage: own folder only, and not out from under a report still to run.
  ('storage.objects', 'upload into another user''s folder', 'owner', 'denied',
   $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'b0000000-0000-4000-8000-00000000000b/x.png')$q$),
  ('storage.objects', 'upload at the bucket root', 'owner', 'denied',
   $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'x.png')$q$),
  ('storage.objects', 'move an object into another folder', 'owner', 'denied',
   $q$update storage.objects set name = 'b0000000-0000-4000-8000-00000000000b/moved.png' where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$),
  ('storage.objects', 'delete an image a paid report needs', 'owner', 'denied',
   $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png'$q$),
  ('storage.objects', 'replace an image a paid report needs', 'owner', 'denied',
   $q$update storage.objects set metadata = '{}' where name = 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png'$q$),
  ('storage.objects', 'read another user''s image', 'other', 'denied',
   $q$select * from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/%'$q$),
  -- The business functions are the service role's alone.
  ('functions', 'fulfill_checkout', 'owner', 'denied',
   $q$select public.fulfill_checkout('cs_x', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$q$),
  ('functions', 'fulfill_checkout', 'anon', 'denied',
   $q$select public.fulfill_checkout('cs_x', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$q$),
  ('functions', 'fulfill_checkout', 'service', 'allowed',
   $q$select public.fulfill_checkout('cs_x', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$q$),
  ('functions', 'claim_next_report', 'owner', 'denied', $q$select public.claim_next_report('w', 30)$q$),
  ('functions', 'claim_next_report', 'anon', 'denied', $q$select public.claim_next_report('w', 30)$q$),
  ('functions', 'claim_next_report', 'service', 'allowed', $q$select public.claim_next_report('w', 30)$q$),
  ('functions', 'renew_report_lease', 'owner', 'denied', $q$select public.renew_report_lease(gen_random_uuid(), gen_random_uuid(), 30)$q$),
  ('functions', 'release_report', 'owner', 'denied', $q$select public.release_report(gen_random_uuid(), gen_random_uuid())$q$),
  ('functions', 'finish_report', 'owner', 'denied', $q$select public.finish_report(gen_random_uuid(), gen_random_uuid(), 'complete')$q$),
  ('functions', 'finish_report', 'anon', 'denied', $q$select public.finish_report(gen_random_uuid(), gen_random_uuid(), 'complete')$q$),
  ('functions', 'record_checkout_session', 'owner', 'denied', $q$select public.record_checkout_session('cs_shared', 'expired')$q$),
  ('functions', 'record_checkout_session', 'anon', 'denied', $q$select public.record_checkout_session('cs_shared', 'expired')$q$),
  ('functions', 'reserve_run', 'owner', 'denied', $q$select public.reserve_run(gen_random_uuid(), gen_random_uuid(), 'm', 0, 0, 7)$q$),
  ('functions', 'reserve_run', 'service', 'allowed',
   $q$select public.reserve_run(r.id, r.lease_token, 'openai/gpt-4o', 0, 0.01, 7) from public.claim_next_report('w', 30) r$q$),
  ('functions', 'record_run', 'owner', 'denied', $q$select public.record_run(gen_random_uuid(), gen_random_uuid(), '{}')$q$),
  ('functions', 'record_run', 'anon', 'denied', $q$select public.record_run(gen_random_uuid(), gen_random_uuid(), '{}')$q$);

select plan((select count(*)::int from pg_temp.matrix) + 3);

select is(pg_temp.attempt(persona, sql), expected, format('%s: %s %s as %s', n, subject, op, persona))
  from pg_temp.matrix
 order by n;

-- Every table the API can reach has row-level security on.
select is(
  (select array_agg(c.relname order by c.relname)
     from pg_class c join pg_namespace s on s.oid = c.relnamespace
    where s.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity),
  null,
  'every table in public has row-level security enabled'
);

-- And every one of them is in the matrix above.
select set_eq(
  $q$select c.relname::text from pg_class c join pg_namespace s on s.oid = c.relnamespace
      where s.nspname = 'public' and c.relkind in ('r', 'v')$q$,
  $q$select distinct subject from pg_temp.matrix where subject not in ('storage.objects', 'functions')$q$,
  'the matrix covers every table and view in public'
);

-- A paid draft stays paid: even the owner's attempt to reopen it is refused.
select is(
  pg_temp.attempt('owner', $q$update public.benchmark_drafts set status = 'ready' where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  'denied',
  'a paid draft cannot be reopened'
);

select * from finish();
rollback;
