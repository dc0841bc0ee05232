-- reports_queue.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Reports and their queue: a paid draft becomes a report, which the engine
-- claims under a lease, renews, hands back or finishes; every engine write is
-- fenced by the lease.

set check_function_bodies = off;

CREATE FUNCTION private.give_up_report(p_report_id uuid, p_attempts integer) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  _delivered integer;
  _planned integer;
begin
  select count(b.id) filter (where b.error is null), r.runs_planned into _delivered, _planned
    from public.reports r
    left join public.benchmark_runs b on b.report_id = r.id
   where r.id = p_report_id
   group by r.runs_planned;
  update public.reports r
     set status = case when _delivered > 0 then 'complete' else 'failed' end,
         cut_short = _delivered > 0,
         status_reason = case
           when _delivered > 0 then format(
             'Stopped after %s interrupted attempts: %s of %s runs were made.',
             p_attempts, (select count(*) from public.benchmark_runs b where b.report_id = r.id), _planned)
           else format(
             'The benchmark was interrupted %s times and could not finish. You will be refunded.', p_attempts)
         end,
         finished_at = now(),
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         runs_done = (select count(*) from public.benchmark_runs b where b.report_id = r.id)
   where r.id = p_report_id;
end
$$;

COMMENT ON FUNCTION private.give_up_report(uuid, integer) IS 'Ends a report its engines could not finish in `p_attempts` claims: what was delivered is kept (complete, cut short); with nothing delivered it fails, which schedules its refund.';

-- A report's row is updated a few times as it runs (its lease, the money
-- reserved and spent, its figures): the room left on each page keeps those
-- updates on the page (HOT), off the table's eleven indexes.
CREATE TABLE public.reports (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    draft_id uuid,
    status text DEFAULT 'paid'::text NOT NULL,
    config_snapshot jsonb NOT NULL,
    image_paths text[] NOT NULL,
    extraction_prompt text NOT NULL,
    json_schema jsonb,
    share_token text DEFAULT private.new_share_token(),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    stripe_session_id text,
    paid_at timestamp with time zone DEFAULT now() NOT NULL,
    lease_owner text,
    lease_token uuid,
    lease_expires_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    runs_planned integer DEFAULT 0 NOT NULL,
    runs_done integer DEFAULT 0 NOT NULL,
    cost_spent numeric(10,6) DEFAULT 0 NOT NULL,
    cost_reserved numeric(10,6) DEFAULT 0 NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    cut_short boolean DEFAULT false NOT NULL,
    status_reason text,
    cost_unsettled numeric(10,6) DEFAULT 0 NOT NULL,
    email_sent_at timestamp with time zone,
    refund_id text,
    refunded_at timestamp with time zone,
    followup_error text,
    figures jsonb,
    share_images boolean DEFAULT false NOT NULL,
    images_deleted_at timestamp with time zone,
    expected_corrections jsonb,
    pending_corrections jsonb,
    scoring_version integer DEFAULT 1 NOT NULL,
    rescored_at timestamp with time zone,
    CONSTRAINT reports_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT reports_cost_reserved_check CHECK ((cost_reserved >= (0)::numeric)),
    CONSTRAINT reports_cost_spent_check CHECK ((cost_spent >= (0)::numeric)),
    CONSTRAINT reports_cost_unsettled_check CHECK ((cost_unsettled >= (0)::numeric)),
    CONSTRAINT reports_failure_has_reason CHECK (((status <> 'failed'::text) OR (status_reason IS NOT NULL))),
    CONSTRAINT reports_corrections_size CHECK (((octet_length((COALESCE(expected_corrections, '{}'::jsonb))::text) <= ((4 * 1024) * 1024)) AND (octet_length((COALESCE(pending_corrections, '{}'::jsonb))::text) <= ((4 * 1024) * 1024)))),
    CONSTRAINT reports_figures_size CHECK (((figures IS NULL) OR (octet_length((figures)::text) <= ((2 * 1024) * 1024)))),
    CONSTRAINT reports_lease_only_while_running CHECK (((status = 'running'::text) = ((lease_token IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT reports_runs_done_check CHECK ((runs_done >= 0)),
    CONSTRAINT reports_runs_planned_check CHECK ((runs_planned >= 0)),
    CONSTRAINT reports_scoring_version_check CHECK ((scoring_version >= 1)),
    CONSTRAINT reports_status_check CHECK ((status = ANY (ARRAY['paid'::text, 'running'::text, 'complete'::text, 'failed'::text])))
)
WITH (fillfactor='70');

CREATE FUNCTION private.lock_leased_report(p_report_id uuid, p_lease_token uuid) RETURNS public.reports
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  _report public.reports;
begin
  select * into _report from public.reports
   where id = p_report_id and lease_token = p_lease_token and status = 'running'
     for update;
  if not found then
    raise exception 'the lease on report % is no longer held', p_report_id using errcode = 'PT410';
  end if;
  return _report;
end
$$;

COMMENT ON FUNCTION private.lock_leased_report(uuid, uuid) IS 'Locks a report for a write by the holder of `p_lease_token`; raises PT410 when the lease is no longer held, so the engine stops.';

CREATE FUNCTION private.notify_report_paid() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if new.status = 'paid' and (tg_op = 'INSERT' or old.status is distinct from 'paid') then
    perform pg_notify('report_paid', new.id::text);
  end if;
  return null;
end
$$;

COMMENT ON FUNCTION private.notify_report_paid() IS 'NOTIFY is only a wake-up call: delivered at commit, so the row is already visible, and carrying just the id (payloads are capped at 8000 bytes).';

CREATE FUNCTION public.claim_next_report(p_worker text, p_lease_seconds integer DEFAULT 90, p_max_attempts integer DEFAULT 3) RETURNS SETOF public.reports
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _id uuid;
  _attempts integer;
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  if p_max_attempts is null or p_max_attempts not between 1 and 1000 then
    raise exception 'attempts must be between 1 and 1000' using errcode = 'PT400';
  end if;
  -- Bounded: each pass either claims a report or ends one for good.
  for _pass in 1..20 loop
    _id := null;
    select c.id, c.attempts into _id, _attempts
      from public.reports c
     where c.status = 'running' and c.lease_expires_at < now()
     order by c.lease_expires_at
     limit 1
     for update skip locked;
    if _id is null then
      select c.id, c.attempts into _id, _attempts
        from public.reports c
       where c.status = 'paid'
       order by c.paid_at, c.id
       limit 1
       for update skip locked;
    end if;
    if _id is null then
      return;
    end if;
    if _attempts < p_max_attempts then
      return query
      update public.reports r
         set status = 'running',
             lease_owner = p_worker,
             lease_token = gen_random_uuid(),
             lease_expires_at = now() + make_interval(secs => p_lease_seconds),
             attempts = r.attempts + 1,
             started_at = coalesce(r.started_at, now())
       where r.id = _id
      returning r.*;
      return;
    end if;
    perform private.give_up_report(_id, _attempts);
  end loop;
end
$$;

COMMENT ON FUNCTION public.claim_next_report(text, integer, integer) IS 'Takes the running report whose lease expired longest ago, else the oldest paid one, with FOR UPDATE SKIP LOCKED: concurrent callers never get the same report. Sets running, a fresh lease_token, lease_expires_at, attempts + 1, started_at (kept across takeovers). A report claimed `p_max_attempts` times already is ended instead (complete with what it delivered, or failed and refunded) and the next one looked at. No row when idle.';

CREATE FUNCTION public.finish_report(p_report_id uuid, p_lease_token uuid, p_status text, p_reason text DEFAULT NULL::text, p_cut_short boolean DEFAULT false, p_figures jsonb DEFAULT NULL::jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_status is null or p_status not in ('complete', 'failed') then
    raise exception 'a report finishes as complete or failed, not %', coalesce(p_status, 'null')
      using errcode = 'PT400';
  end if;
  if p_status = 'failed' and coalesce(btrim(p_reason), '') = '' then
    raise exception 'a failed report needs a reason' using errcode = 'PT400';
  end if;
  update public.reports r
     set status = p_status,
         status_reason = nullif(btrim(p_reason), ''),
         cut_short = coalesce(p_cut_short, false),
         finished_at = now(),
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         runs_done = (select count(*) from public.benchmark_runs b where b.report_id = r.id),
         figures = coalesce(p_figures, r.figures)
   where r.id = p_report_id and r.lease_token = p_lease_token and r.status = 'running';
  return found;
end
$$;

COMMENT ON FUNCTION public.finish_report(uuid, uuid, text, text, boolean, jsonb) IS 'Ends a report as complete or failed (a failure needs a reason a person can read), clears the lease, records finished_at and runs_done, and stores `p_figures` (computed once by the engine) when given, in the same write: the figures a finished report shows are never missing for a moment. Fenced: a stale token writes nothing and gets false.';

CREATE FUNCTION public.record_report_figures(p_report_id uuid, p_lease_token uuid, p_figures jsonb) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with stored as (
    update public.reports r
       set figures = p_figures
     where r.id = p_report_id and r.lease_token = p_lease_token and r.status = 'running'
    returning 1
  )
  select exists (select 1 from stored)
$$;

COMMENT ON FUNCTION public.record_report_figures(uuid, uuid, jsonb) IS 'Stores a report''s figures (computed once by the engine) while the lease is held; false when it is not. The engine stores them with finish_report; this stays for engines of the previous release while a deploy rolls.';

CREATE FUNCTION public.reports_to_refigure(p_after uuid, p_limit integer) RETURNS TABLE(id uuid, extraction_prompt text, json_schema jsonb, config_snapshot jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select r.id, r.extraction_prompt, r.json_schema, r.config_snapshot
    from public.reports r
   where r.id > p_after
     and r.status in ('complete', 'failed')
     and (r.figures is null or not r.figures ? 'document_results')
     and exists (select 1 from public.benchmark_runs b where b.report_id = r.id)
   order by r.id
   limit least(greatest(p_limit, 0), 100)
$$;

COMMENT ON FUNCTION public.reports_to_refigure(uuid, integer) IS 'Finished reports with runs whose figures are missing or older than what the report page reads (no document_results), after p_after in id order (at most 100): the engine computes their figures again from their runs when it starts.';

CREATE FUNCTION public.record_refigured_report(p_report_id uuid, p_figures jsonb) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with stored as (
    update public.reports r
       set figures = p_figures
     where r.id = p_report_id
       and r.status in ('complete', 'failed')
       and (r.figures is null or not r.figures ? 'document_results')
    returning 1
  )
  select exists (select 1 from stored)
$$;

COMMENT ON FUNCTION public.record_refigured_report(uuid, jsonb) IS 'Stores the figures computed again for a finished report that lacked them (see reports_to_refigure); false, writing nothing, for a report not finished or whose figures are current.';

CREATE FUNCTION public.record_engine_sweep(p_worker text) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  insert into private.engine_sweeps (worker, swept_at)
  values (left(p_worker, 200), now())
  on conflict (worker) do update set swept_at = excluded.swept_at;
  delete from private.engine_sweeps where swept_at < now() - interval '1 day';
$$;

COMMENT ON FUNCTION public.record_engine_sweep(text) IS 'An engine says it swept the queue just now (every ENGINE_SWEEP_INTERVAL_S): what /ready reads to tell a running engine from a stopped one. Engines silent for a day are forgotten.';

CREATE FUNCTION public.readiness() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'now', now(),
    'engine_swept_at', (select max(swept_at) from private.engine_sweeps),
    'catalog_synced_at', (select max(at) from private.catalog_syncs where ok),
    'catalog_failed_at', (select max(at) from private.catalog_syncs where not ok),
    'catalog_offers_models', exists (select 1 from public.model_catalog where active))
$$;

COMMENT ON FUNCTION public.readiness() IS 'What /ready judges the service by, in one cheap read: the database''s clock, the last sweep of any engine, the last catalog sync that worked and the last that failed, and whether the catalog offers any model.';

CREATE FUNCTION public.release_report(p_report_id uuid, p_lease_token uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.reports
     set status = 'paid',
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         attempts = greatest(attempts - 1, 0)
   where id = p_report_id and lease_token = p_lease_token and status = 'running';
  return found;
end
$$;

COMMENT ON FUNCTION public.release_report(uuid, uuid) IS 'Graceful hand-back (shutdown): the report is paid again, which notifies the other engines, and the attempt does not count. Fenced by the token.';

CREATE FUNCTION public.renew_report_lease(p_report_id uuid, p_lease_token uuid, p_lease_seconds integer DEFAULT 90) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  update public.reports
     set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
   where id = p_report_id and lease_token = p_lease_token and status = 'running';
  return found;
end
$$;

COMMENT ON FUNCTION public.renew_report_lease(uuid, uuid, integer) IS 'Extends the lease, only for the token''s holder. False: the lease is lost; stop working on the report and write nothing more.';

CREATE TABLE private.engine_sweeps (
    worker text NOT NULL,
    swept_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE private.engine_sweeps IS 'Each running engine''s last sweep of the queue (record_engine_sweep), for /ready.';

ALTER TABLE ONLY private.engine_sweeps
    ADD CONSTRAINT engine_sweeps_pkey PRIMARY KEY (worker);

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_share_token_key UNIQUE (share_token);

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_stripe_session_id_key UNIQUE (stripe_session_id);

CREATE INDEX reports_draft_id_idx ON public.reports USING btree (draft_id);

CREATE INDEX reports_paid_at_idx ON public.reports USING btree (paid_at);

CREATE INDEX reports_images_kept_idx ON public.reports USING btree (finished_at) WHERE ((images_deleted_at IS NULL) AND (status = ANY (ARRAY['complete'::text, 'failed'::text])));

CREATE INDEX reports_refunded_at_idx ON public.reports USING btree (refunded_at) WHERE (refunded_at IS NOT NULL);

CREATE INDEX reports_followups_idx ON public.reports USING btree (finished_at) WHERE ((status = ANY (ARRAY['complete'::text, 'failed'::text])) AND ((email_sent_at IS NULL) OR (refund_id IS NULL)));

CREATE INDEX reports_image_paths_idx ON public.reports USING gin (image_paths);

CREATE INDEX reports_paid_queue_idx ON public.reports USING btree (paid_at, id) WHERE (status = 'paid'::text);

CREATE INDEX reports_running_lease_idx ON public.reports USING btree (lease_expires_at) WHERE (status = 'running'::text);

CREATE INDEX reports_user_id_idx ON public.reports USING btree (user_id);

CREATE TRIGGER reports_notify_paid AFTER INSERT OR UPDATE OF status ON public.reports FOR EACH ROW EXECUTE FUNCTION private.notify_report_paid();

CREATE TRIGGER reports_updated_at BEFORE UPDATE ON public.reports FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_draft_id_fkey FOREIGN KEY (draft_id) REFERENCES public.benchmark_drafts(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.reports
    ADD CONSTRAINT reports_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

CREATE POLICY "Owners read their reports" ON public.reports FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

ALTER TABLE public.reports ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON FUNCTION private.give_up_report(p_report_id uuid, p_attempts integer) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON TABLE public.reports FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT(id) ON TABLE public.reports TO authenticated;

GRANT SELECT(draft_id) ON TABLE public.reports TO authenticated;

GRANT SELECT(status) ON TABLE public.reports TO authenticated;

GRANT SELECT(config_snapshot) ON TABLE public.reports TO authenticated;

GRANT SELECT(image_paths) ON TABLE public.reports TO authenticated;

GRANT SELECT(extraction_prompt) ON TABLE public.reports TO authenticated;

GRANT SELECT(json_schema) ON TABLE public.reports TO authenticated;

GRANT SELECT(share_token) ON TABLE public.reports TO authenticated;

GRANT SELECT(created_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(updated_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(paid_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(runs_planned) ON TABLE public.reports TO authenticated;

GRANT SELECT(runs_done) ON TABLE public.reports TO authenticated;

GRANT SELECT(cost_spent) ON TABLE public.reports TO authenticated;

GRANT SELECT(started_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(finished_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(cut_short) ON TABLE public.reports TO authenticated;

GRANT SELECT(status_reason) ON TABLE public.reports TO authenticated;

GRANT SELECT(refund_id) ON TABLE public.reports TO authenticated;

GRANT SELECT(refunded_at) ON TABLE public.reports TO authenticated;

GRANT SELECT(share_images) ON TABLE public.reports TO authenticated;

REVOKE ALL ON FUNCTION private.lock_leased_report(p_report_id uuid, p_lease_token uuid) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.notify_report_paid() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.claim_next_report(p_worker text, p_lease_seconds integer, p_max_attempts integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.claim_next_report(p_worker text, p_lease_seconds integer, p_max_attempts integer) TO service_role;

REVOKE ALL ON FUNCTION public.finish_report(p_report_id uuid, p_lease_token uuid, p_status text, p_reason text, p_cut_short boolean, p_figures jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.finish_report(p_report_id uuid, p_lease_token uuid, p_status text, p_reason text, p_cut_short boolean, p_figures jsonb) TO service_role;

REVOKE ALL ON FUNCTION public.record_report_figures(p_report_id uuid, p_lease_token uuid, p_figures jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_report_figures(p_report_id uuid, p_lease_token uuid, p_figures jsonb) TO service_role;

REVOKE ALL ON FUNCTION public.reports_to_refigure(p_after uuid, p_limit integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.reports_to_refigure(p_after uuid, p_limit integer) TO service_role;

REVOKE ALL ON FUNCTION public.record_refigured_report(p_report_id uuid, p_figures jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_refigured_report(p_report_id uuid, p_figures jsonb) TO service_role;

REVOKE ALL ON FUNCTION public.record_engine_sweep(p_worker text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_engine_sweep(p_worker text) TO service_role;

REVOKE ALL ON FUNCTION public.readiness() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.readiness() TO service_role;

REVOKE ALL ON TABLE private.engine_sweeps FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.release_report(p_report_id uuid, p_lease_token uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.release_report(p_report_id uuid, p_lease_token uuid) TO service_role;

REVOKE ALL ON FUNCTION public.renew_report_lease(p_report_id uuid, p_lease_token uuid, p_lease_seconds integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.renew_report_lease(p_report_id uuid, p_lease_token uuid, p_lease_seconds integer) TO service_role;
