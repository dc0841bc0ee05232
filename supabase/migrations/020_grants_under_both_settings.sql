-- Right under both of Supabase's grant settings.
--
-- Since 2026-10-30 Supabase grants nothing new in `public` to the API
-- roles, but an owner can still turn "Default privileges for new entities"
-- back on (Dashboard -> Integrations -> Data API), which grants `anon`,
-- `authenticated` and `service_role` everything on each table, sequence and
-- function the migration role creates in `public`. 011's blanket revoke
-- only covered what existed then, so on such a project every function made
-- since was executable with the anon key (claim_next_report, due_followups,
-- record_report_figures, ...).
--
-- This migration takes every grant in `public` and `private` away from the
-- API roles, gives back exactly the matrix below (supabase/tests/grants.test.sql
-- holds it), and turns the migration role's default privileges off in both
-- schemas. From here on every migration revokes and grants each object it
-- creates, so that it is right whatever the project's setting.

-- Nothing this role creates from now on is granted by default.
alter default privileges in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges in schema public revoke all on sequences from anon, authenticated, service_role;
alter default privileges in schema public revoke all on functions from anon, authenticated, service_role;
alter default privileges in schema private revoke all on tables from anon, authenticated, service_role;
alter default privileges in schema private revoke all on sequences from anon, authenticated, service_role;
alter default privileges in schema private revoke all on functions from anon, authenticated, service_role;
-- PUBLIC's execute on new functions went in 011 (a global default; a
-- per-schema one cannot take it away).
alter default privileges revoke execute on functions from public;

-- Everything away (a table's revoke takes its column grants with it).
revoke all on all tables in schema public from anon, authenticated, service_role;
revoke all on all sequences in schema public from anon, authenticated, service_role;
revoke all on all functions in schema public from public, anon, authenticated, service_role;
revoke all on all tables in schema private from anon, authenticated, service_role;
revoke all on all sequences in schema private from anon, authenticated, service_role;
revoke all on all functions in schema private from public, anon, authenticated, service_role;
revoke all on schema private from anon, authenticated, service_role;

-- The matrix ------------------------------------------------------------------

-- anon: the model catalog, and a shared report through its two readers.
-- Nothing else: no signed-out page calls anything else.
grant select on public.model_catalog to anon, authenticated;
grant execute on function public.read_report(uuid, text) to anon, authenticated;
grant execute on function public.read_report_runs(uuid, text) to anon, authenticated;

-- authenticated: their drafts' content (never `paid`: the policies refuse
-- it), what their pages show of their reports, runs and checkout sessions,
-- the wizard's limits and estimate, and their share links.
grant select, delete on public.benchmark_drafts to authenticated;
grant insert (config_data, upload_data, schema_data, selected_models, status),
      update (config_data, upload_data, schema_data, selected_models, status)
  on public.benchmark_drafts to authenticated;
grant select (id, draft_id, status, config_snapshot, image_paths, extraction_prompt, json_schema,
              share_token, created_at, updated_at, paid_at, runs_planned, runs_done, cost_spent,
              started_at, finished_at, cut_short, status_reason, refund_id, refunded_at)
  on public.reports to authenticated;
grant select on public.benchmark_runs to authenticated;
grant select (stripe_session_id, draft_id, status, amount_total, currency, created_at, updated_at,
              refund_id, refunded_at)
  on public.checkout_sessions to authenticated;
grant select on public.report_model_summary to authenticated;
grant execute on function public.draft_limits() to authenticated, service_role;
grant execute on function public.estimate_draft_cost(uuid) to authenticated, service_role;
grant execute on function public.rotate_report_share_token(uuid) to authenticated;
grant execute on function public.revoke_report_share_token(uuid) to authenticated;

-- service_role: the business functions (SECURITY DEFINER), no tables.
do $$
declare
  _function regprocedure;
begin
  foreach _function in array array[
    'public.fulfill_checkout(text, uuid, uuid)',
    'public.record_checkout_session(text, text, uuid, integer, text, text)',
    'public.open_checkout_session(text, uuid)',
    'public.checkout_session_report(text)',
    'public.claim_next_report(text, integer, integer)',
    'public.renew_report_lease(uuid, uuid, integer)',
    'public.release_report(uuid, uuid)',
    'public.finish_report(uuid, uuid, text, text, boolean)',
    'public.reserve_run(uuid, uuid, text, integer, bigint, integer, numeric)',
    'public.reserve_retry(uuid, uuid, text, integer)',
    'public.release_reservation(uuid, uuid, text, integer)',
    'public.record_run(uuid, uuid, jsonb)',
    'public.record_report_figures(uuid, uuid, jsonb)',
    'public.due_followups(integer)',
    'public.complete_followup(bigint, text)',
    'public.fail_followup(bigint, text, integer, integer, integer)'
  ]::regprocedure[] loop
    execute format('grant execute on function %s to service_role', _function);
  end loop;
end
$$;
