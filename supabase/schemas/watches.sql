-- watches.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Watching a finished report for new models: its owner asks to be told when
-- models the catalog offers since could change the pick (set_report_watch);
-- the engine mails each watching owner about models not named to them before,
-- at most once a week per report (claim_watch_emails, complete_watch_email);
-- the mail's link stops it without signing in (stop_report_watch). Nothing is
-- ever run or charged from here.

set check_function_bodies = off;

CREATE TABLE public.report_watches (
    report_id uuid NOT NULL,
    since timestamp with time zone DEFAULT now() NOT NULL,
    notified_models text[] DEFAULT '{}'::text[] NOT NULL,
    last_sent_at timestamp with time zone,
    unsubscribe_token text DEFAULT private.new_share_token() NOT NULL,
    lease_token uuid,
    lease_expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT report_watches_notified_models_check CHECK ((cardinality(notified_models) <= 5000))
);

COMMENT ON TABLE public.report_watches IS 'Finished reports whose owner asked to hear of new models: models first offered after `since`, not in the report and not named before (notified_models), are mailed at most once a week (last_sent_at). The mail''s unsubscribe link carries unsubscribe_token. Reached only through the functions of watches.sql.';

CREATE FUNCTION private.watch_new_models(p_watch public.report_watches, p_limit integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', c.id, 'display_name', c.display_name,
           'prompt_usd_per_mtok', c.prompt_usd_per_mtok, 'completion_usd_per_mtok', c.completion_usd_per_mtok)
           order by c.created_at desc, c.id), '[]'::jsonb)
    from (select c.* from public.model_catalog c, public.reports r
           where r.id = p_watch.report_id
             and c.active
             and c.created_at > p_watch.since
             and not c.id = any (p_watch.notified_models)
             and not r.config_snapshot -> 'selected_models' ? c.id
           order by c.created_at desc, c.id
           limit p_limit) c
$$;

COMMENT ON FUNCTION private.watch_new_models(public.report_watches, integer) IS 'The models a watch has still to name (at most `p_limit`, newest first): offered now, first offered after it began, not in its report, not named before; each with its name and prices.';

CREATE FUNCTION public.set_report_watch(p_report_id uuid, p_on boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _status text;
begin
  select r.status into _status from public.reports r
   where r.id = p_report_id and r.user_id = (select auth.uid());
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if coalesce(p_on, false) then
    if _status <> 'complete' then
      raise exception 'Only a finished report can be watched for new models; this one is %.', _status
        using errcode = 'PT409';
    end if;
    insert into public.report_watches (report_id) values (p_report_id) on conflict (report_id) do nothing;
    return true;
  end if;
  delete from public.report_watches w where w.report_id = p_report_id;
  return false;
end
$$;

COMMENT ON FUNCTION public.set_report_watch(uuid, boolean) IS 'The owner of a complete report asks to be mailed when models offered from now on could change its pick (`p_on`), or no longer; returns whether it is watched. Asking again changes nothing (the watch keeps its start and what it named). PT404 for anyone but the owner, PT409 to watch a report not complete.';

CREATE FUNCTION public.stop_report_watch(p_token text) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with stopped as (
    delete from public.report_watches w
     where length(coalesce(p_token, '')) = 64 and w.unsubscribe_token = p_token
    returning 1
  )
  select exists (select 1 from stopped)
$$;

COMMENT ON FUNCTION public.stop_report_watch(text) IS 'The unsubscribe link of a new-model mail: whoever holds its token stops that report''s watch, signed in or not. True when a watch was stopped, false for a token that stops none (already stopped, or never one).';

CREATE FUNCTION public.claim_watch_emails(p_worker text, p_limit integer DEFAULT 20, p_lease_seconds integer DEFAULT 120) RETURNS TABLE(report_id uuid, lease_token uuid, email text, report_name text, unsubscribe_token text, pick jsonb, models jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  return query
  with claimed as (
    update public.report_watches w
       set lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds)
     where w.report_id in (
       select c.report_id from public.report_watches c
        where (c.last_sent_at is null or c.last_sent_at < now() - interval '7 days')
          and (c.lease_expires_at is null or c.lease_expires_at < now())
          and jsonb_array_length(private.watch_new_models(c, 1)) > 0
        order by c.last_sent_at nulls first, c.report_id
        limit greatest(least(p_limit, 100), 0)
        for update skip locked)
    returning w.*
  )
  select w.report_id, w.lease_token, u.email::text,
         coalesce(r.config_snapshot -> 'config_data' ->> 'name', 'your report'),
         w.unsubscribe_token,
         (select jsonb_build_object('id', m ->> 'model_id', 'display_name', m ->> 'display_name')
            from jsonb_array_elements(r.figures -> 'models') m limit 1),
         -- With the pick, a re-run holds at most the models a draft may.
         private.watch_new_models(w, (public.draft_limits() ->> 'max_models')::integer - 1)
    from claimed w
    join public.reports r on r.id = w.report_id
    join auth.users u on u.id = r.user_id;
end
$$;

COMMENT ON FUNCTION public.claim_watch_emails(text, integer, integer) IS 'Claims up to `p_limit` watches with models to name and no mail in the last 7 days, for `p_lease_seconds`; concurrent callers never get the same one. Each comes with whom to mail, the report''s name, its pick (the first model of its figures), the models to name (at most max_models - 1, newest first, with their prices) and the unsubscribe token; complete_watch_email records the mail.';

CREATE FUNCTION public.complete_watch_email(p_report_id uuid, p_lease_token uuid, p_models text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.report_watches w
     set notified_models = (select array_agg(distinct m) from unnest(w.notified_models || coalesce(p_models, '{}')) m),
         last_sent_at = now(),
         lease_token = null,
         lease_expires_at = null
   where w.report_id = p_report_id and w.lease_token = p_lease_token and w.lease_expires_at >= now();
  if not found then
    raise exception 'the lease on the watch of report % is no longer held', p_report_id using errcode = 'PT410';
  end if;
end
$$;

COMMENT ON FUNCTION public.complete_watch_email(uuid, uuid, text[]) IS 'Records the mail of a claimed watch: the models it named are never named again, and the next mail waits a week. PT410 when the lease is no longer held (nothing is written; the mail was idempotent).';

ALTER TABLE ONLY public.report_watches
    ADD CONSTRAINT report_watches_pkey PRIMARY KEY (report_id);

ALTER TABLE ONLY public.report_watches
    ADD CONSTRAINT report_watches_unsubscribe_token_key UNIQUE (unsubscribe_token);

ALTER TABLE ONLY public.report_watches
    ADD CONSTRAINT report_watches_report_id_fkey FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

ALTER TABLE public.report_watches ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE public.report_watches FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.watch_new_models(p_watch public.report_watches, p_limit integer) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.set_report_watch(p_report_id uuid, p_on boolean) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.set_report_watch(p_report_id uuid, p_on boolean) TO authenticated;

REVOKE ALL ON FUNCTION public.stop_report_watch(p_token text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.stop_report_watch(p_token text) TO anon, authenticated;

REVOKE ALL ON FUNCTION public.claim_watch_emails(p_worker text, p_limit integer, p_lease_seconds integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.claim_watch_emails(p_worker text, p_limit integer, p_lease_seconds integer) TO service_role;

REVOKE ALL ON FUNCTION public.complete_watch_email(p_report_id uuid, p_lease_token uuid, p_models text[]) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.complete_watch_email(p_report_id uuid, p_lease_token uuid, p_models text[]) TO service_role;
