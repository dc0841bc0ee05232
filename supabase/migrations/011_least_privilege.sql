-- Who may touch what through the Data API, granted explicitly and no wider.
--
-- Since 2026-10-30 Supabase no longer grants new objects in `public` to
-- `anon`, `authenticated` and `service_role`; older projects still carry the
-- automatic grants. Either way this migration first takes every grant away,
-- then gives each role exactly what a client needs. Row-level security
-- still decides which rows; these grants decide which tables, columns and
-- functions at all (supabase/tests/grants.test.sql holds the whole matrix).
--
--   anon           the model catalog; a shared report through read_report()
--   authenticated  their drafts (content, not payment), their reports
--                  (never the engine's lease or money bookkeeping), their
--                  runs and checkout sessions; share-link rotation
--   service_role   the business functions, nothing else: every multi-row
--                  change is a SECURITY DEFINER function owned by the
--                  migration role, so the sidecar needs no table grants

-- A function this role creates is executable by nobody else until a
-- migration grants it (PostgreSQL's own default grants it to PUBLIC, and a
-- per-schema default cannot take a global one away).
alter default privileges revoke execute on functions from public;

revoke all on all tables in schema public from anon, authenticated, service_role;
revoke all on all sequences in schema public from anon, authenticated, service_role;
revoke all on all functions in schema public from public, anon, authenticated, service_role;
revoke all on all functions in schema private from public, anon, authenticated, service_role;
revoke all on all tables in schema private from anon, authenticated, service_role;
-- Trigger functions need no grant to fire, and nothing else in `private` is
-- called by a client any more.
revoke usage on schema private from anon, authenticated, service_role;

-- Share links are read through read_report() (012), never through a policy
-- that opens the whole row to anyone holding the token.
drop policy "Share-token holders read that report" on public.reports;
drop function private.request_share_token();

-- Tables ----------------------------------------------------------------------

grant select on public.model_catalog to anon, authenticated;

grant select, delete on public.benchmark_drafts to authenticated;
-- The owner writes a draft's content and moves it between draft and ready;
-- the policies refuse `paid`, and only fulfill_checkout sets it.
grant insert (config_data, upload_data, schema_data, selected_models, status),
      update (config_data, upload_data, schema_data, selected_models, status)
  on public.benchmark_drafts to authenticated;

-- What an owner's pages show; not the lease, the attempts, the money the
-- engine has reserved, the follow-up bookkeeping, or the payment's ids.
grant select (id, draft_id, status, config_snapshot, image_paths, extraction_prompt, json_schema,
              share_token, created_at, updated_at, paid_at, runs_planned, runs_done, cost_spent,
              started_at, finished_at, cut_short, status_reason, refund_id, refunded_at)
  on public.reports to authenticated;

grant select on public.benchmark_runs to authenticated;

grant select (stripe_session_id, draft_id, status, amount_total, currency, created_at, updated_at)
  on public.checkout_sessions to authenticated;

grant select on public.report_model_summary to authenticated;

-- Functions: SECURITY DEFINER, for the service role only ----------------------
-- Each keeps `search_path = ''` and names every object it touches.

do $$
declare
  _function regprocedure;
begin
  foreach _function in array array[
    'public.fulfill_checkout(text, uuid, uuid)',
    'public.record_checkout_session(text, text, uuid, integer, text, text)',
    'public.claim_next_report(text, integer)',
    'public.renew_report_lease(uuid, uuid, integer)',
    'public.release_report(uuid, uuid)',
    'public.finish_report(uuid, uuid, text, text, boolean)',
    'public.reserve_run(uuid, uuid, text, integer, numeric, numeric)',
    'public.record_run(uuid, uuid, jsonb)',
    'public.pending_report_followups(integer)',
    'public.record_report_email_sent(uuid)',
    'public.record_report_refund(uuid, text)',
    'public.record_report_followup_error(uuid, text)'
  ]::regprocedure[] loop
    execute format('alter function %s security definer', _function);
    execute format('grant execute on function %s to service_role', _function);
  end loop;
end
$$;
