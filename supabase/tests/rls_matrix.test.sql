-- Who may do what, and why not: every table (and the summary view) ×
-- {anon, owner, other user, service_role} × {select, insert, update,
-- delete}, each cell with the exact outcome (see _helpers.psql: a refusal
-- is checked for its reason, a grant or a policy), plus the edge cases that
-- would be holes: paid drafts, lease and payment columns, Storage's own
-- rules, the business functions, and share links.
begin;
\ir _helpers.psql

-- Fixtures, as the project role ------------------------------------------------
insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');

insert into pg_temp.personas (name, role, claims) values
  ('anon',    'anon',          '{"role": "anon"}'),
  ('owner',   'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}'),
  ('other',   'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}'),
  ('service', 'service_role',  '{"role": "service_role"}');

-- d1 ready, d2 and d3 paid (reports r2 'shared', r3 'private'), d4 the other user's (r4).
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
-- Known ids and tokens, so that statements can name them.
update public.reports
   set id = ('e0000000-0000-4000-8000-0000000000e' || right(draft_id::text, 1))::uuid,
       share_token = 'token-of-' || stripe_session_id;

insert into public.benchmark_runs (report_id, model_id, image_index, passed, fields_total, fields_matched)
select id, 'openai/gpt-4o', 0, true, 1, 1 from public.reports;

insert into storage.objects (bucket_id, name, owner) values
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/loose.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'b0000000-0000-4000-8000-00000000000b/theirs.png', 'b0000000-0000-4000-8000-00000000000b');

-- The matrix ------------------------------------------------------------------
-- Statements name the owner's rows.
create temporary table matrix (
  n serial,
  subject text not null,
  op text not null,
  persona text not null,
  expected text not null,
  sql text not null,
  storage_api boolean not null default false
);

create function pg_temp.cells(p_subject text, p_op text, p_sql text, p_anon text, p_owner text,
                              p_other text, p_service text, p_storage_api boolean default false)
returns void
language sql
as $$
  insert into pg_temp.matrix (subject, op, persona, expected, sql, storage_api)
  values (p_subject, p_op, 'anon', p_anon, p_sql, p_storage_api),
         (p_subject, p_op, 'owner', p_owner, p_sql, p_storage_api),
         (p_subject, p_op, 'other', p_other, p_sql, p_storage_api),
         (p_subject, p_op, 'service', p_service, p_sql, p_storage_api);
$$;

--                   subject             op        statement
--                                                 anon            owner           other           service
select pg_temp.cells('benchmark_drafts', 'select', $q$select * from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('benchmark_drafts', 'insert', $q$insert into public.benchmark_drafts (config_data) values ('{"name": "new"}')$q$,
                                                   'no privilege', 'allowed',      'allowed',      'no privilege');
select pg_temp.cells('benchmark_drafts', 'update', $q$update public.benchmark_drafts set config_data = '{"x": 1}' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('benchmark_drafts', 'delete', $q$delete from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');

select pg_temp.cells('reports', 'select', $q$select id, status, runs_done, share_token from public.reports where id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('reports', 'insert', $q$insert into public.reports (user_id, config_snapshot, image_paths, extraction_prompt) values ('a0000000-0000-4000-8000-00000000000a', '{}', '{}', 'x')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('reports', 'update', $q$update public.reports set status = 'complete' where id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('reports', 'delete', $q$delete from public.reports where id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('benchmark_runs', 'select', $q$select * from public.benchmark_runs where report_id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('benchmark_runs', 'insert', $q$insert into public.benchmark_runs (report_id, model_id, image_index) values ('e0000000-0000-4000-8000-0000000000e2', 'openai/gpt-4o-mini', 0)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('benchmark_runs', 'update', $q$update public.benchmark_runs set passed = false where report_id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('benchmark_runs', 'delete', $q$delete from public.benchmark_runs where report_id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('report_model_summary', 'select', $q$select * from public.report_model_summary where report_id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('report_model_summary', 'insert', $q$insert into public.report_model_summary (model_id) values ('x')$q$,
                                                   'read-only',    'read-only',    'read-only',    'read-only');
select pg_temp.cells('report_model_summary', 'update', $q$update public.report_model_summary set model_id = 'x'$q$,
                                                   'read-only',    'read-only',    'read-only',    'read-only');
select pg_temp.cells('report_model_summary', 'delete', $q$delete from public.report_model_summary$q$,
                                                   'read-only',    'read-only',    'read-only',    'read-only');

select pg_temp.cells('report_scorings', 'select', $q$select * from public.report_scorings$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_scorings', 'insert', $q$insert into public.report_scorings (report_id, version, scored_at) values ('e0000000-0000-4000-8000-0000000000e2', 1, now())$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_scorings', 'update', $q$update public.report_scorings set figures = null$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_scorings', 'delete', $q$delete from public.report_scorings$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('report_watches', 'select', $q$select * from public.report_watches$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_watches', 'insert', $q$insert into public.report_watches (report_id) values ('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_watches', 'update', $q$update public.report_watches set last_sent_at = null$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('report_watches', 'delete', $q$delete from public.report_watches$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('model_catalog', 'select', $q$select * from public.model_catalog where id = 'openai/gpt-4o'$q$,
                                                   'allowed',      'allowed',      'allowed',      'no privilege');
select pg_temp.cells('model_catalog', 'insert', $q$insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok) values ('x/y', 'X', 'X', 0, 0)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('model_catalog', 'update', $q$update public.model_catalog set prompt_usd_per_mtok = 0 where id = 'openai/gpt-4o'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('model_catalog', 'delete', $q$delete from public.model_catalog where id = 'openai/gpt-4o'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('model_price_history', 'select', $q$select * from public.model_price_history where model_id = 'openai/gpt-4o'$q$,
                                                   'no privilege', 'allowed',      'allowed',      'no privilege');
select pg_temp.cells('model_price_history', 'insert', $q$insert into public.model_price_history (model_id, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd) values ('openai/gpt-4o', 0, 0, 0, 0)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('model_price_history', 'update', $q$update public.model_price_history set prompt_usd_per_mtok = 0 where model_id = 'openai/gpt-4o'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('model_price_history', 'delete', $q$delete from public.model_price_history where model_id = 'openai/gpt-4o'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

select pg_temp.cells('checkout_sessions', 'select', $q$select stripe_session_id, status from public.checkout_sessions where stripe_session_id = 'cs_shared'$q$,
                                                   'no privilege', 'allowed',      'no rows',      'no privilege');
select pg_temp.cells('checkout_sessions', 'insert', $q$insert into public.checkout_sessions (stripe_session_id, user_id, status) values ('cs_new', 'a0000000-0000-4000-8000-00000000000a', 'paid')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('checkout_sessions', 'update', $q$update public.checkout_sessions set status = 'paid' where stripe_session_id = 'cs_shared'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');
select pg_temp.cells('checkout_sessions', 'delete', $q$delete from public.checkout_sessions where stripe_session_id = 'cs_shared'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no privilege');

-- Storage grants every API role everything; its policies decide, and its
-- guard refuses any delete that does not come through the Storage API.
select pg_temp.cells('storage.objects', 'select', $q$select * from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                   'no rows',      'allowed',      'no rows',      'allowed');
select pg_temp.cells('storage.objects', 'insert', $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/new.png')$q$,
                                                   'policy',       'allowed',      'policy',       'allowed');
select pg_temp.cells('storage.objects', 'update', $q$update storage.objects set metadata = '{"size": 1}' where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                   'no rows',      'allowed',      'no rows',      'allowed');
select pg_temp.cells('storage.objects', 'delete', $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                   'no rows',      'allowed',      'no rows',      'allowed', true);
select pg_temp.cells('storage.objects', 'delete directly', $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$,
                                                   'direct delete', 'direct delete', 'direct delete', 'direct delete');
select pg_temp.cells('storage.buckets', 'delete directly', $q$delete from storage.buckets where id = 'benchmark-images'$q$,
                                                   'direct delete', 'direct delete', 'direct delete', 'direct delete');

-- Functions: the business rules are the service role's alone; reading a
-- report is its owner's, or a share-link holder's.
select pg_temp.cells('functions', 'fulfill_checkout', $q$select public.fulfill_checkout('cs_x', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'record_charge_refunded', $q$select 1 where public.record_charge_refunded('pi_none', 'ch_none', 1499, 1499) = 'refunded'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'record_charge_dispute', $q$select public.record_charge_dispute('dp_1', 'pi_none', 'ch_none', 1499, 'usd', 'fraudulent', 'needs_response')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'record_checkout_session', $q$select public.record_checkout_session('cs_shared', 'expired')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'checkout_session_state', $q$select 1 from public.checkout_session_state('cs_shared') where report_id = 'e0000000-0000-4000-8000-0000000000e2'$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'admit_checkout', $q$select public.admit_checkout('a0000000-0000-4000-8000-00000000000a')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'claim_next_report', $q$select public.claim_next_report('w', 30)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'renew_report_lease', $q$select public.renew_report_lease(gen_random_uuid(), gen_random_uuid(), 30)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'release_report', $q$select public.release_report(gen_random_uuid(), gen_random_uuid())$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'finish_report', $q$select public.finish_report(gen_random_uuid(), gen_random_uuid(), 'complete')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'reserve_run', $q$select public.reserve_run(r.id, r.lease_token, 'openai/gpt-4o', 1, 1000000) from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'reserve_retry', $q$select public.reserve_retry(r.id, r.lease_token, 'openai/gpt-4o', 1) from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'not found');
select pg_temp.cells('functions', 'release_reservation', $q$select public.release_reservation(r.id, r.lease_token, 'openai/gpt-4o', 1) from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'estimate_draft_cost, own', $q$select public.estimate_draft_cost('d0000000-0000-4000-8000-0000000000d1')$q$,
                                                   'no privilege', 'allowed',      'not found',    'allowed');
select pg_temp.cells('functions', 'record_run', $q$select public.record_run(r.id, r.lease_token, '{"model_id": "openai/gpt-4o", "image_index": 1}') from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'reserve_runs', $q$select public.reserve_runs(r.id, r.lease_token, '[{"model_id": "openai/gpt-4o", "image_index": 1, "image_pixels": 1000000}]') from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'record_runs', $q$select public.record_runs(r.id, r.lease_token, '[{"model_id": "openai/gpt-4o", "image_index": 1}]') from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'record_report_figures', $q$select public.record_report_figures(r.id, r.lease_token, '{"version": 1}') from public.claim_next_report('w', 30) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'reports_to_refigure', $q$select 1 from public.reports_to_refigure('00000000-0000-0000-0000-000000000000', 10) r$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'record_refigured_report', $q$select 1 where public.record_refigured_report('e0000000-0000-4000-8000-0000000000e2', '{"version": 2}')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'readiness', $q$select 1 where not (public.readiness() ? 'engine_swept_at')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'operations_metrics', $q$select 1 where not (public.operations_metrics() ? 'reports_by_status')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'claim_operator_alerts', $q$select 1 from public.claim_operator_alerts(60)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'record_operator_alerts_sent', $q$select public.record_operator_alerts_sent('dispute', gen_random_uuid())$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'error PT410: the lease on the dispute alerts is no longer held');
select pg_temp.cells('functions', 'operations_summary', $q$select 1 where not (public.operations_summary() ? 'today')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'operations_stuck', $q$select 1 where not (public.operations_stuck() ? 'waiting')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'report_story', $q$select 1 where public.report_story('e0000000-0000-4000-8000-0000000000e2') is null$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'export_account', $q$select 1 where public.export_account('a0000000-0000-4000-8000-00000000000a') is null$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'delete_account_data', $q$select public.delete_account_data(gen_random_uuid())$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'expire_report_images', $q$select 1 where public.expire_report_images(3650, 10) > 0$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'image_deletions_due', $q$select 1 where cardinality(public.image_deletions_due(10)) > 0$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'image_deletions_done', $q$select 1 where public.image_deletions_done(array['x']) > 0$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'record_engine_sweep', $q$select public.record_engine_sweep('w')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'open_checkout_session', $q$select public.open_checkout_session('cs_open', 'd0000000-0000-4000-8000-0000000000d1')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'sync_model_catalog', $q$select public.sync_model_catalog('[{"id": "openai/gpt-4o", "prompt_usd_per_mtok": "0", "completion_usd_per_mtok": "0"}]')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'record_catalog_sync_failure', $q$select public.record_catalog_sync_failure('x')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'catalog_sync_due', $q$select public.catalog_sync_due('1 day')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'allowed');
select pg_temp.cells('functions', 'draft_from_report', $q$select public.draft_from_report('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no privilege', 'allowed',      'not found',    'no privilege');
select pg_temp.cells('functions', 'set_report_image_sharing', $q$select public.set_report_image_sharing('e0000000-0000-4000-8000-0000000000e2', true)$q$,
                                                   'no privilege', 'allowed',      'not found',    'no privilege');
select pg_temp.cells('functions', 'delete_report_images', $q$select public.delete_report_images('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no privilege', 'error PT409: This report is still running and needs its images. Delete them once it has finished.',
                                                   'not found',    'no privilege');
select pg_temp.cells('functions', 'shared_report_images', $q$select 1 from public.shared_report_images('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_shared') i where i is not null$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'claim_followups', $q$select 1 from public.claim_followups('w', 0, 60)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'complete_followup', $q$select public.complete_followup(0, gen_random_uuid())$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'error PT410: the lease on follow-up 0 is no longer held');
select pg_temp.cells('functions', 'fail_followup', $q$select public.fail_followup(0, gen_random_uuid(), 'x', 30, 3600, 5)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'error PT410: the lease on follow-up 0 is no longer held');
select pg_temp.cells('functions', 'read_report, own', $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2') is not null$q$,
                                                   'no rows',      'allowed',      'no rows',      'no privilege');
select pg_temp.cells('functions', 'read_report_runs, own', $q$select * from public.read_report_runs('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no rows',      'allowed',      'no rows',      'no privilege');
select pg_temp.cells('functions', 'read_report, with its token', $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_shared') is not null$q$,
                                                   'allowed',      'allowed',      'allowed',      'no privilege');
select pg_temp.cells('functions', 'read_report_runs, with its token', $q$select * from public.read_report_runs('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_shared')$q$,
                                                   'allowed',      'allowed',      'allowed',      'no privilege');
select pg_temp.cells('functions', 'draft_limits', $q$select public.draft_limits()$q$,
                                                   'no privilege', 'allowed',      'allowed',      'allowed');
select pg_temp.cells('functions', 'rescore_report', $q$select public.rescore_report('e0000000-0000-4000-8000-0000000000e2', '{"x": {"total": 2}}')$q$,
                                                   'no privilege', 'error PT409: Only a finished report with answers can be scored again; this one is paid.',
                                                   'not found',    'no privilege');
select pg_temp.cells('functions', 'read_report_scoring', $q$select 1 where public.read_report_scoring('e0000000-0000-4000-8000-0000000000e2', 1) is not null$q$,
                                                   'no rows',      'no rows',      'no rows',      'no privilege');
select pg_temp.cells('functions', 'reports_to_rescore', $q$select * from public.reports_to_rescore(10)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'record_rescore', $q$select 1 where public.record_rescore('e0000000-0000-4000-8000-0000000000e2', '{}', '{}', '[]')$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'set_report_watch', $q$select public.set_report_watch('e0000000-0000-4000-8000-0000000000e2', true)$q$,
                                                   'no privilege', 'error PT409: Only a finished report can be watched for new models; this one is paid.',
                                                   'not found',    'no privilege');
select pg_temp.cells('functions', 'stop_report_watch', $q$select 1 where public.stop_report_watch(repeat('0', 64))$q$,
                                                   'no rows',      'no rows',      'no rows',      'no privilege');
select pg_temp.cells('functions', 'claim_watch_emails', $q$select * from public.claim_watch_emails('w', 10, 60)$q$,
                                                   'no privilege', 'no privilege', 'no privilege', 'no rows');
select pg_temp.cells('functions', 'complete_watch_email', $q$select public.complete_watch_email('e0000000-0000-4000-8000-0000000000e2', gen_random_uuid(), '{}')$q$,
                                                   'no privilege', 'no privilege', 'no privilege',
                                                   'error PT410: the lease on the watch of report e0000000-0000-4000-8000-0000000000e2 is no longer held');
select pg_temp.cells('functions', 'rotate_report_share_token', $q$select public.rotate_report_share_token('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no privilege', 'allowed',      'not found',    'no privilege');
select pg_temp.cells('functions', 'revoke_report_share_token', $q$select public.revoke_report_share_token('e0000000-0000-4000-8000-0000000000e2')$q$,
                                                   'no privilege', 'allowed',      'not found',    'no privilege');

-- Edge cases --------------------------------------------------------------------
insert into pg_temp.matrix (subject, op, persona, expected, sql) values
  -- Drafts: nobody pays for a draft by writing to it, and paid drafts are frozen.
  ('benchmark_drafts', 'insert as paid', 'owner', 'policy',
   $q$insert into public.benchmark_drafts (config_data, status) values ('{}', 'paid')$q$),
  ('benchmark_drafts', 'insert for another user', 'other', 'no privilege',
   $q$insert into public.benchmark_drafts (user_id) values ('a0000000-0000-4000-8000-00000000000a')$q$),
  ('benchmark_drafts', 'set status paid', 'owner', 'policy',
   $q$update public.benchmark_drafts set status = 'paid' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$),
  ('benchmark_drafts', 'give away to another user', 'owner', 'no privilege',
   $q$update public.benchmark_drafts set user_id = 'b0000000-0000-4000-8000-00000000000b' where id = 'd0000000-0000-4000-8000-0000000000d1'$q$),
  ('benchmark_drafts', 'update a paid draft', 'owner', 'no rows',
   $q$update public.benchmark_drafts set config_data = '{}' where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  ('benchmark_drafts', 'reopen a paid draft', 'owner', 'no rows',
   $q$update public.benchmark_drafts set status = 'ready' where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  ('benchmark_drafts', 'delete a paid draft', 'owner', 'no rows',
   $q$delete from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d2'$q$),
  ('benchmark_drafts', 'read all', 'other', 'allowed',
   $q$select * from public.benchmark_drafts where user_id = 'b0000000-0000-4000-8000-00000000000b'$q$),
  ('benchmark_drafts', 'read any other than own', 'other', 'no rows',
   $q$select * from public.benchmark_drafts where user_id <> 'b0000000-0000-4000-8000-00000000000b'$q$),
  -- Reports: the owner sees what the pages show and nothing the engine or
  -- the payment keeps; nobody lists other people's reports.
  ('reports', 'read every column', 'owner', 'no privilege', $q$select * from public.reports$q$),
  ('reports', 'read the lease', 'owner', 'no privilege',
   $q$select lease_token, lease_owner, lease_expires_at from public.reports where id = 'e0000000-0000-4000-8000-0000000000e2'$q$),
  ('reports', 'read the money reserved', 'owner', 'no privilege',
   $q$select cost_reserved, cost_unsettled from public.reports where id = 'e0000000-0000-4000-8000-0000000000e2'$q$),
  ('reports', 'read the payment', 'owner', 'no privilege',
   $q$select stripe_session_id from public.reports where id = 'e0000000-0000-4000-8000-0000000000e2'$q$),
  ('reports', 'list', 'other', 'no rows', $q$select id from public.reports where id <> 'e0000000-0000-4000-8000-0000000000e4'$q$),
  ('reports', 'owner reads an unshared report', 'owner', 'allowed',
   $q$select id from public.reports where id = 'e0000000-0000-4000-8000-0000000000e3'$q$),
  ('reports', 'owner sets the share token', 'owner', 'no privilege',
   $q$update public.reports set share_token = 'mine' where id = 'e0000000-0000-4000-8000-0000000000e2'$q$),
  ('checkout_sessions', 'read the operator''s detail', 'owner', 'no privilege',
   $q$select detail from public.checkout_sessions where stripe_session_id = 'cs_shared'$q$),
  -- Share links open exactly one report, and only while they are current.
  ('functions', 'read_report, another report''s token', 'anon', 'no rows',
   $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_private') is not null$q$),
  ('functions', 'read_report, a wrong token', 'anon', 'no rows',
   $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_sharedX') is not null$q$),
  ('functions', 'read_report, an empty token', 'anon', 'no rows',
   $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', '') is not null$q$),
  ('functions', 'read_report_runs, another report''s token', 'anon', 'no rows',
   $q$select * from public.read_report_runs('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_private')$q$),
  ('functions', 'read_report, someone else''s report', 'owner', 'no rows',
   $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e4') is not null$q$),
  -- Storage: own folder only, and not out from under a report still to run.
  ('storage.objects', 'upload into another user''s folder', 'owner', 'policy',
   $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'b0000000-0000-4000-8000-00000000000b/x.png')$q$),
  ('storage.objects', 'upload at the bucket root', 'owner', 'policy',
   $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'x.png')$q$),
  ('storage.objects', 'move an object into another folder', 'owner', 'policy',
   $q$update storage.objects set name = 'b0000000-0000-4000-8000-00000000000b/moved.png' where name = 'a0000000-0000-4000-8000-00000000000a/loose.png'$q$),
  ('storage.objects', 'replace an image a paid report needs', 'owner', 'no rows',
   $q$update storage.objects set metadata = '{}' where name = 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png'$q$),
  ('storage.objects', 'read another user''s image', 'other', 'no rows',
   $q$select * from storage.objects where name like 'a0000000-0000-4000-8000-00000000000a/%'$q$);

insert into pg_temp.matrix (subject, op, persona, expected, sql, storage_api) values
  ('storage.objects', 'delete an image a paid report needs', 'owner', 'no rows',
   $q$delete from storage.objects where name = 'a0000000-0000-4000-8000-00000000000a/d0000000-0000-4000-8000-0000000000d2.png'$q$, true),
  ('storage.objects', 'delete another user''s image', 'owner', 'no rows',
   $q$delete from storage.objects where name = 'b0000000-0000-4000-8000-00000000000b/theirs.png'$q$, true);

select plan((select count(*)::int from pg_temp.matrix) + 7);

select is(pg_temp.attempt(persona, sql, storage_api), expected, format('%s: %s %s as %s', n, subject, op, persona))
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
      where s.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p', 'f')$q$,
  $q$select distinct subject from pg_temp.matrix where subject not in ('storage.objects', 'storage.buckets', 'functions')$q$,
  'the matrix covers every table and view in public'
);

-- And every function in public.
select set_eq(
  $q$select p.proname::text from pg_proc p join pg_namespace s on s.oid = p.pronamespace where s.nspname = 'public'$q$,
  $q$select distinct split_part(op, ',', 1) from pg_temp.matrix where subject = 'functions'$q$,
  'the matrix covers every function in public'
);

-- A rotated link works at once and the old one stops; a revoked one opens nothing.
do $$
begin
  perform pg_temp.act_as('owner');
  perform set_config('test.rotated', public.rotate_report_share_token('e0000000-0000-4000-8000-0000000000e2'), true);
end
$$;
reset role;
select isnt(current_setting('test.rotated'), 'token-of-cs_shared', 'rotation makes a new token');
select is(pg_temp.attempt('anon', $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', 'token-of-cs_shared') is not null$q$),
          'no rows', 'the old link stops working');
select is(pg_temp.attempt('anon', $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', current_setting('test.rotated')) is not null$q$),
          'allowed', 'the new link works');
do $$
begin
  perform pg_temp.act_as('owner');
  perform public.revoke_report_share_token('e0000000-0000-4000-8000-0000000000e2');
end
$$;
reset role;
select is(pg_temp.attempt('anon', $q$select 1 where public.read_report('e0000000-0000-4000-8000-0000000000e2', current_setting('test.rotated')) is not null$q$),
          'no rows', 'a revoked link opens nothing');

select * from finish();
rollback;
