-- Every grant in `public` to the API roles (and PUBLIC), read from the
-- catalog, is exactly the list below, and every table, view and function
-- in `public` is on it. A new table, column grant or function without its
-- line here fails this test, so nothing reaches the Data API by accident
-- (Supabase no longer grants anything by default, and a project with
-- "default privileges for new entities" on grants everything: see
-- 020_grants_under_both_settings; scripts/test runs this under both).
begin;
select plan(8);

-- (object, column or '', grantee, privilege). A function is named by its
-- signature as regprocedure prints it; an object with no grant at all is listed with grantee 'none'.
create temporary table expected_grants (object text, column_name text, grantee text, privilege text);
insert into expected_grants values
  ('model_catalog', '', 'anon', 'SELECT'),
  ('model_catalog', '', 'authenticated', 'SELECT'),
  ('benchmark_drafts', '', 'authenticated', 'SELECT'),
  ('benchmark_drafts', '', 'authenticated', 'DELETE'),
  ('benchmark_runs', '', 'authenticated', 'SELECT'),
  ('report_model_summary', '', 'authenticated', 'SELECT'),
  ('read_report(uuid,text)', '', 'anon', 'EXECUTE'),
  ('read_report(uuid,text)', '', 'authenticated', 'EXECUTE'),
  ('read_report_runs(uuid,text)', '', 'anon', 'EXECUTE'),
  ('read_report_runs(uuid,text)', '', 'authenticated', 'EXECUTE'),
  ('rotate_report_share_token(uuid)', '', 'authenticated', 'EXECUTE'),
  ('draft_limits()', '', 'authenticated', 'EXECUTE'),
  ('draft_limits()', '', 'service_role', 'EXECUTE'),
  ('revoke_report_share_token(uuid)', '', 'authenticated', 'EXECUTE'),
  ('fulfill_checkout(text,uuid,uuid,integer,text,text)', '', 'service_role', 'EXECUTE'),
  ('record_checkout_session(text,text,uuid,integer,text,text,text)', '', 'service_role', 'EXECUTE'),
  ('record_charge_refunded(text,text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('record_charge_dispute(text,text,text,integer,text,text,text)', '', 'service_role', 'EXECUTE'),
  ('checkout_session_state(text)', '', 'service_role', 'EXECUTE'),
  ('admit_checkout(uuid)', '', 'service_role', 'EXECUTE'),
  ('claim_next_report(text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('renew_report_lease(uuid,uuid,integer)', '', 'service_role', 'EXECUTE'),
  ('release_report(uuid,uuid)', '', 'service_role', 'EXECUTE'),
  ('finish_report(uuid,uuid,text,text,boolean,jsonb)', '', 'service_role', 'EXECUTE'),
  ('reserve_run(uuid,uuid,text,integer,bigint,integer)', '', 'service_role', 'EXECUTE'),
  ('reserve_retry(uuid,uuid,text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('release_reservation(uuid,uuid,text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('estimate_draft_cost(uuid)', '', 'authenticated', 'EXECUTE'),
  ('estimate_draft_cost(uuid)', '', 'service_role', 'EXECUTE'),
  ('record_run(uuid,uuid,jsonb)', '', 'service_role', 'EXECUTE'),
  ('record_runs(uuid,uuid,jsonb)', '', 'service_role', 'EXECUTE'),
  ('reserve_runs(uuid,uuid,jsonb)', '', 'service_role', 'EXECUTE'),
  ('record_report_figures(uuid,uuid,jsonb)', '', 'service_role', 'EXECUTE'),
  ('reports_to_refigure(uuid,integer)', '', 'service_role', 'EXECUTE'),
  ('record_engine_sweep(text)', '', 'service_role', 'EXECUTE'),
  ('readiness()', '', 'service_role', 'EXECUTE'),
  ('operations_metrics()', '', 'service_role', 'EXECUTE'),
  ('claim_operator_alerts(integer)', '', 'service_role', 'EXECUTE'),
  ('operations_summary()', '', 'service_role', 'EXECUTE'),
  ('export_account(uuid)', '', 'service_role', 'EXECUTE'),
  ('expire_report_images(integer,integer)', '', 'service_role', 'EXECUTE'),
  ('image_deletions_due(integer)', '', 'service_role', 'EXECUTE'),
  ('image_deletions_done(text[])', '', 'service_role', 'EXECUTE'),
  ('delete_account_data(uuid)', '', 'service_role', 'EXECUTE'),
  ('operations_stuck()', '', 'service_role', 'EXECUTE'),
  ('report_story(uuid)', '', 'service_role', 'EXECUTE'),
  ('record_operator_alerts_sent(text,uuid)', '', 'service_role', 'EXECUTE'),
  ('record_refigured_report(uuid,jsonb)', '', 'service_role', 'EXECUTE'),
  ('claim_followups(text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('complete_followup(bigint,uuid,text)', '', 'service_role', 'EXECUTE'),
  ('fail_followup(bigint,uuid,text,integer,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('open_checkout_session(text,uuid)', '', 'service_role', 'EXECUTE'),
  ('model_price_history', '', 'authenticated', 'SELECT'),
  ('model_price_history_id_seq', '', 'none', ''),
  ('sync_model_catalog(jsonb,jsonb,text[])', '', 'service_role', 'EXECUTE'),
  ('record_catalog_sync_failure(text)', '', 'service_role', 'EXECUTE'),
  ('catalog_sync_due(interval)', '', 'service_role', 'EXECUTE'),
  ('draft_from_report(uuid)', '', 'authenticated', 'EXECUTE'),
  ('set_report_image_sharing(uuid,boolean)', '', 'authenticated', 'EXECUTE'),
  ('delete_report_images(uuid)', '', 'authenticated', 'EXECUTE'),
  ('shared_report_images(uuid,text)', '', 'service_role', 'EXECUTE'),
  ('rescore_report(uuid,jsonb)', '', 'authenticated', 'EXECUTE'),
  ('read_report_scoring(uuid,integer,text)', '', 'anon', 'EXECUTE'),
  ('read_report_scoring(uuid,integer,text)', '', 'authenticated', 'EXECUTE'),
  ('reports_to_rescore(integer)', '', 'service_role', 'EXECUTE'),
  ('record_rescore(uuid,jsonb,jsonb,jsonb)', '', 'service_role', 'EXECUTE'),
  ('report_scorings', '', 'none', ''),
  ('report_watches', '', 'none', ''),
  ('set_report_watch(uuid,boolean)', '', 'authenticated', 'EXECUTE'),
  ('stop_report_watch(text)', '', 'anon', 'EXECUTE'),
  ('stop_report_watch(text)', '', 'authenticated', 'EXECUTE'),
  ('claim_watch_emails(text,integer,integer)', '', 'service_role', 'EXECUTE'),
  ('complete_watch_email(uuid,uuid,text[])', '', 'service_role', 'EXECUTE'),
  ('checkout_sessions', '', 'none', '');
insert into expected_grants
select 'benchmark_drafts', c, 'authenticated', p
  from unnest(array['config_data', 'upload_data', 'schema_data', 'selected_models', 'status']) c,
       unnest(array['INSERT', 'UPDATE']) p;
insert into expected_grants
select 'reports', c, 'authenticated', 'SELECT'
  from unnest(array['id', 'draft_id', 'status', 'config_snapshot', 'image_paths', 'extraction_prompt',
                    'json_schema', 'share_token', 'created_at', 'updated_at', 'paid_at', 'runs_planned',
                    'runs_done', 'cost_spent', 'started_at', 'finished_at', 'cut_short', 'status_reason',
                    'refund_id', 'refunded_at', 'share_images']) c;
insert into expected_grants
select 'checkout_sessions', c, 'authenticated', 'SELECT'
  from unnest(array['stripe_session_id', 'draft_id', 'status', 'amount_total', 'currency',
                    'created_at', 'updated_at', 'refund_id', 'refunded_at']) c;

create temporary view actual_grants as
with api_roles as (
  select 0::oid as oid, 'PUBLIC' as name
  union all
  select oid, rolname from pg_roles where rolname in ('anon', 'authenticated', 'service_role')
)
select c.relname::text as object, '' as column_name, r.name as grantee, a.privilege_type as privilege
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) a
  join api_roles r on r.oid = a.grantee
 where n.nspname = 'public'
union all
select c.relname::text, att.attname::text, r.name, a.privilege_type
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped
  cross join lateral aclexplode(att.attacl) a
  join api_roles r on r.oid = a.grantee
 where n.nspname = 'public'
union all
select p.oid::regprocedure::text, '', r.name, a.privilege_type
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
  join api_roles r on r.oid = a.grantee
 where n.nspname = 'public';

select set_eq(
  $$select object, column_name, grantee, privilege from actual_grants$$,
  $$select object, column_name, grantee, privilege from expected_grants where grantee <> 'none'$$,
  'the API roles hold exactly the grants of the matrix'
);

select set_eq(
  $$select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'v', 'm', 'p', 'f', 'S')
    union
    select p.oid::regprocedure::text
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'$$,
  $$select distinct object from expected_grants$$,
  'every table, view, sequence and function in public has its line in the matrix'
);

-- Nothing in `private` is reachable by the API roles (they have no usage
-- on the schema), and only the storage policies' two helpers are
-- executable at all: a policy runs as the uploader.
select set_eq(
  $$select p.oid::regprocedure::text || ' ' || r
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     cross join unnest(array['anon', 'authenticated', 'service_role']) r
     where n.nspname = 'private' and has_function_privilege(r, p.oid, 'execute')$$,
  array['private.check_storage_quota(uuid) authenticated', 'private.report_keeps_image(text) authenticated',
        'private.storage_name_is_safe(text) authenticated'],
  'in private, the API roles may execute only the storage policies'' helpers'
);
select ok(not has_schema_privilege('anon', 'private', 'usage')
          and not has_schema_privilege('authenticated', 'private', 'usage')
          and not has_schema_privilege('service_role', 'private', 'usage'),
          'no API role may use the private schema');

-- The business functions run as their owner, with a fixed search path, so
-- the service role needs no table grants and no caller can redirect them.
select is(
  (select array_agg(p.proname::text order by p.proname)
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public'
      and (not p.prosecdef
           or not coalesce(p.proconfig @> array['search_path=""'], false))),
  null,
  'every function in public is SECURITY DEFINER with search_path = ''''' 
);

-- anon runs only what a signed-out page calls: the shared report's three
-- readers (web/report.js) and the unsubscribe link (web/unsubscribe.js). Named here as well as in the matrix, so that
-- adding a function for anon is a decision this line records.
select set_eq(
  $$select p.oid::regprocedure::text
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public' and has_function_privilege('anon', p.oid, 'execute')$$,
  array['read_report(uuid,text)', 'read_report_runs(uuid,text)', 'read_report_scoring(uuid,integer,text)',
        'stop_report_watch(text)'],
  'anon may execute only the functions a signed-out page calls'
);

-- Whatever the project's setting was, objects the migration role makes
-- from now on are granted to no API role by default, in public or private
-- (the schemas the project owns; Supabase sets `storage`'s defaults for
-- `postgres` itself, and no project can or should change them).
select is(
  (select array_agg(distinct format('%s:%s:%s', d.defaclnamespace::regnamespace, d.defaclobjtype, r.rolname))
     from pg_default_acl d
     cross join lateral aclexplode(d.defaclacl) a
     join pg_roles r on r.oid = a.grantee
    where d.defaclrole = current_user::regrole
      and d.defaclnamespace in ('public'::regnamespace, 'private'::regnamespace)
      and r.rolname in ('anon', 'authenticated', 'service_role')),
  null,
  'the migration role''s default privileges grant the API roles nothing'
);

-- And PUBLIC may execute nothing new (PostgreSQL's own default).
select ok(
  exists (select 1 from pg_default_acl d
           where d.defaclrole = current_user::regrole and d.defaclnamespace = 0 and d.defaclobjtype = 'f'
             and not exists (select 1 from aclexplode(d.defaclacl) a where a.grantee = 0)),
  'new functions are executable by nobody but their owner by default'
);

select * from finish();
rollback;
