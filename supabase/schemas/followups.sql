-- followups.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Follow-ups: the email every ended report sends and the refund a failed one
-- is owed, claimed under a lease, retried with backoff, and surfaced to an
-- operator when stuck.

set check_function_bodies = off;

CREATE FUNCTION private.schedule_followups() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  insert into private.followups (report_id, kind)
  values (new.id, 'email')
  on conflict do nothing;
  if new.status = 'failed' and new.stripe_session_id is not null then
    insert into private.followups (report_id, kind)
    values (new.id, 'refund')
    on conflict do nothing;
  end if;
  if new.status = 'failed' then
    perform private.raise_operator_alert('report_failed', new.id::text,
      format('Report %s failed after %s attempts and is refunded: %s', new.id, new.attempts,
             coalesce(new.status_reason, 'no reason recorded')));
  end if;
  return null;
end
$$;

CREATE FUNCTION public.claim_followups(p_worker text, p_limit integer DEFAULT 50, p_lease_seconds integer DEFAULT 120) RETURNS TABLE(id bigint, lease_token uuid, subject text, kind text, attempts integer, report_id uuid, stripe_session_id text, status text, status_reason text, email text, refund_state text, finished_at timestamp with time zone)
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
    update private.followups f
       set lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           attempts = f.attempts + 1
     where f.id in (
       select c.id from private.followups c
        where c.done_at is null and c.next_attempt_at <= now()
          and (c.lease_expires_at is null or c.lease_expires_at < now())
        order by c.next_attempt_at, c.created_at
        limit greatest(least(p_limit, 1000), 0)
        for update skip locked)
    returning f.*
  )
  select f.id, f.lease_token,
         case when f.report_id is not null then 'report' else 'session' end,
         f.kind, f.attempts,
         coalesce(r.id, (select dr.id from public.reports dr where dr.draft_id = s.draft_id
                          order by dr.created_at limit 1)),
         coalesce(r.stripe_session_id, s.stripe_session_id),
         coalesce(r.status, s.status),
         coalesce(r.status_reason, s.detail),
         u.email::text,
         case
           when coalesce(r.refund_id, s.refund_id) is not null then 'refunded'
           when refund.id is null then 'none'
           when refund.alerted_at is not null then 'failing'
           else 'pending'
         end,
         r.finished_at
    from claimed f
    left join public.reports r on r.id = f.report_id
    left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
    left join auth.users u on u.id = coalesce(r.user_id, s.user_id)
    left join private.followups refund
      on refund.kind = 'refund'
     and (refund.report_id = f.report_id or refund.stripe_session_id = f.stripe_session_id)
   order by f.next_attempt_at, f.created_at;
end
$$;

COMMENT ON FUNCTION public.claim_followups(text, integer, integer) IS 'Claims up to `p_limit` follow-ups whose time has come, the longest-waiting first, for `p_lease_seconds`; concurrent callers never get the same one. Each comes with what doing it needs (the report it is about, whom to mail, where the refund stands, when the report finished) and the lease token that fences its completion or failure.';

CREATE FUNCTION public.complete_followup(p_id bigint, p_lease_token uuid, p_refund_id text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _f private.followups;
begin
  select * into _f from private.followups f
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
     for update;
  if not found then
    raise exception 'the lease on follow-up % is no longer held', p_id using errcode = 'PT410';
  end if;
  if _f.kind = 'refund' and coalesce(btrim(p_refund_id), '') = ''
     and not exists (select 1 from public.reports r where r.id = _f.report_id and r.refund_id is not null)
     and not exists (select 1 from public.checkout_sessions s
                      where s.stripe_session_id = _f.stripe_session_id and s.refund_id is not null) then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
  update private.followups f
     set done_at = now(), last_error = null, lease_token = null, lease_expires_at = null
   where f.id = p_id;
  if _f.kind = 'email' and _f.report_id is not null then
    update public.reports set email_sent_at = now(), followup_error = null where id = _f.report_id;
  elsif _f.kind = 'refund' and _f.report_id is not null then
    update public.reports
       set refund_id = coalesce(nullif(btrim(p_refund_id), ''), refund_id),
           refunded_at = coalesce(refunded_at, now()), followup_error = null
     where id = _f.report_id;
  elsif _f.kind = 'refund' then
    update public.checkout_sessions
       set refund_id = coalesce(nullif(btrim(p_refund_id), ''), refund_id),
           refunded_at = coalesce(refunded_at, now()), status = 'refunded'
     where stripe_session_id = _f.stripe_session_id;
  end if;
end
$$;

COMMENT ON FUNCTION public.complete_followup(bigint, uuid, text) IS 'A claimed follow-up is done: the email went out, or the refund was made (its Stripe id recorded on the report or the session; without an id only when the payment is already recorded refunded, as a refund made in Stripe''s Dashboard is). When the lease is no longer held (it expired and another engine has it, or it is done already) nothing is written and it raises PT410, as report writes do.';

CREATE FUNCTION public.fail_followup(p_id bigint, p_lease_token uuid, p_error text, p_base_seconds integer, p_cap_seconds integer, p_alert_after integer) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _f private.followups;
begin
  if p_base_seconds is null or p_base_seconds < 1 or p_cap_seconds is null or p_cap_seconds < p_base_seconds
     or p_alert_after is null or p_alert_after < 1 then
    raise exception 'backoff needs 1 <= base <= cap and an alert threshold of at least 1'
      using errcode = 'PT400';
  end if;
  update private.followups f
     set last_error = left(p_error, 1000),
         lease_token = null,
         lease_expires_at = null,
         next_attempt_at = now() + make_interval(secs =>
           least(p_cap_seconds, p_base_seconds * power(2, least(greatest(f.attempts - 1, 0), 30)))
           * (0.8 + random() * 0.4)),
         alerted_at = case when f.attempts >= p_alert_after then coalesce(f.alerted_at, now())
                           else f.alerted_at end
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
  returning * into _f;
  if not found then
    raise exception 'the lease on follow-up % is no longer held', p_id using errcode = 'PT410';
  end if;
  if _f.report_id is not null then
    update public.reports set followup_error = left(_f.kind || ': ' || p_error, 1000) where id = _f.report_id;
  end if;
  if _f.attempts = p_alert_after then
    perform private.raise_operator_alert('stuck_followup', _f.id::text,
      format('The %s for %s has failed %s times and needs a person: %s', _f.kind,
             coalesce('report ' || _f.report_id::text, 'checkout session ' || _f.stripe_session_id),
             _f.attempts, p_error));
  end if;
  return _f.attempts = p_alert_after;
end
$$;

COMMENT ON FUNCTION public.fail_followup(bigint, uuid, text, integer, integer, integer) IS 'A claimed follow-up failed: its lease ends, and the next claim waits twice as long as the last (from p_base_seconds, at most p_cap_seconds, with 20% jitter); the claim counted the attempt. True exactly once, when the attempts reach p_alert_after, and then an operator is alerted. When the lease is no longer held nothing is written and it raises PT410.';

CREATE TABLE private.followups (
    report_id uuid,
    kind text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    last_error text,
    done_at timestamp with time zone,
    alerted_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    id bigint NOT NULL,
    stripe_session_id text,
    lease_token uuid,
    lease_expires_at timestamp with time zone,
    CONSTRAINT followups_one_subject CHECK ((num_nonnulls(report_id, stripe_session_id) = 1)),
    CONSTRAINT report_followups_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT report_followups_kind_check CHECK ((kind = ANY (ARRAY['email'::text, 'refund'::text])))
);

ALTER TABLE private.followups ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME private.followups_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE VIEW private.stuck_followups AS
 SELECT f.id,
    f.report_id,
    f.stripe_session_id,
    f.kind,
    f.attempts,
    f.last_error,
    f.alerted_at,
    f.next_attempt_at,
    COALESCE(r.status, s.status) AS status
   FROM ((private.followups f
     LEFT JOIN public.reports r ON ((r.id = f.report_id)))
     LEFT JOIN public.checkout_sessions s ON ((s.stripe_session_id = f.stripe_session_id)))
  WHERE ((f.done_at IS NULL) AND (f.alerted_at IS NOT NULL));

ALTER TABLE ONLY private.followups
    ADD CONSTRAINT followups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY private.followups
    ADD CONSTRAINT followups_report_kind UNIQUE (report_id, kind);

ALTER TABLE ONLY private.followups
    ADD CONSTRAINT followups_session_kind UNIQUE (stripe_session_id, kind);

CREATE INDEX followups_due_idx ON private.followups USING btree (next_attempt_at) WHERE (done_at IS NULL);

CREATE TRIGGER reports_schedule_followups AFTER UPDATE OF status ON public.reports FOR EACH ROW WHEN (((new.status = ANY (ARRAY['complete'::text, 'failed'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION private.schedule_followups();

ALTER TABLE ONLY private.followups
    ADD CONSTRAINT followups_stripe_session_id_fkey FOREIGN KEY (stripe_session_id) REFERENCES public.checkout_sessions(stripe_session_id) ON DELETE CASCADE;

ALTER TABLE ONLY private.followups
    ADD CONSTRAINT report_followups_report_id_fkey FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

REVOKE ALL ON FUNCTION private.schedule_followups() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.claim_followups(p_worker text, p_limit integer, p_lease_seconds integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.claim_followups(p_worker text, p_limit integer, p_lease_seconds integer) TO service_role;

REVOKE ALL ON FUNCTION public.complete_followup(p_id bigint, p_lease_token uuid, p_refund_id text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.complete_followup(p_id bigint, p_lease_token uuid, p_refund_id text) TO service_role;

REVOKE ALL ON FUNCTION public.fail_followup(p_id bigint, p_lease_token uuid, p_error text, p_base_seconds integer, p_cap_seconds integer, p_alert_after integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.fail_followup(p_id bigint, p_lease_token uuid, p_error text, p_base_seconds integer, p_cap_seconds integer, p_alert_after integer) TO service_role;

REVOKE ALL ON TABLE private.followups FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE private.followups_id_seq FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON TABLE private.stuck_followups FROM PUBLIC, anon, authenticated, service_role;
