-- operator alerts (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE TABLE "private"."operator_alerts" (
  "id"               bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "kind"             text                     NOT NULL,
  "subject"          text                     NOT NULL,
  "detail"           text                     NOT NULL,
  "created_at"       timestamp with time zone NOT NULL DEFAULT now(),
  "sent_at"          timestamp with time zone,
  "lease_token"      uuid,
  "lease_expires_at" timestamp with time zone,
  CONSTRAINT "operator_alerts_kind_check" CHECK ((kind = ANY (ARRAY['dispute'::text, 'stuck_followup'::text, 'report_failed'::text, 'catalog_sync'::text]))),
  CONSTRAINT "operator_alerts_once" UNIQUE (kind, subject),
  CONSTRAINT "operator_alerts_pkey" PRIMARY KEY (id)
);

CREATE OR REPLACE FUNCTION private.raise_operator_alert (
  p_kind    text,
  p_subject text,
  p_detail  text
)
  RETURNS void
  LANGUAGE sql
  SET search_path TO ''
  AS $function$
  insert into private.operator_alerts (kind, subject, detail)
  values (p_kind, left(p_subject, 200), left(p_detail, 2000))
  on conflict (kind, subject) do nothing;
$function$;


CREATE OR REPLACE FUNCTION private.schedule_followups()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.claim_operator_alerts (
  p_lease_seconds integer DEFAULT 120
)
  RETURNS TABLE (
    kind        text,
    lease_token uuid,
    alerts      jsonb
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  return query
  with due as (
    select distinct a.kind from private.operator_alerts a
     where a.sent_at is null
       and (a.lease_expires_at is null or a.lease_expires_at < now())
       and not exists (select 1 from private.operator_alerts s
                        where s.kind = a.kind and s.sent_at > now() - interval '1 hour')
       and not exists (select 1 from private.operator_alerts l
                        where l.kind = a.kind and l.sent_at is null and l.lease_expires_at >= now())
  ),
  tokens as (
    select d.kind, gen_random_uuid() as token from due d
  ),
  claimed as (
    update private.operator_alerts a
       set lease_token = t.token,
           lease_expires_at = now() + make_interval(secs => p_lease_seconds)
      from tokens t
     where a.kind = t.kind and a.sent_at is null
    returning a.kind, a.lease_token, a.subject, a.detail, a.created_at
  )
  select c.kind, c.lease_token,
         jsonb_agg(jsonb_build_object('subject', c.subject, 'detail', c.detail, 'at', c.created_at)
                   order by c.created_at)
    from claimed c
   group by c.kind, c.lease_token;
end
$function$;


CREATE OR REPLACE FUNCTION public.fail_followup (
  p_id           bigint,
  p_lease_token  uuid,
  p_error        text,
  p_base_seconds integer,
  p_cap_seconds  integer,
  p_alert_after  integer
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.operations_metrics()
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'now', now(),
    'reports_by_status', coalesce(
      (select jsonb_object_agg(status, n)
         from (select status, count(*) as n from public.reports group by status) s),
      '{}'::jsonb),
    'oldest_waiting_paid_at',
      (select min(paid_at) from public.reports where status = 'paid'),
    'calls_24h', coalesce(
      (select jsonb_agg(jsonb_build_object('model', model_id, 'outcome', outcome, 'calls', n)
                        order by model_id, outcome)
         from (select model_id,
                      case when unavailable then 'unavailable'
                           when error is null then 'answered'
                           else 'failed' end as outcome,
                      count(*) as n
                 from public.benchmark_runs
                where created_at > now() - interval '24 hours'
                group by 1, 2) c),
      '[]'::jsonb),
    'model_spend_usd_24h',
      (select coalesce(sum(cost), 0) from public.benchmark_runs
        where created_at > now() - interval '24 hours'),
    'revenue_usd_24h',
      (select coalesce(sum(s.amount_total), 0) / 100.0
         from public.reports r
         join public.checkout_sessions s on s.stripe_session_id = r.stripe_session_id
        where r.paid_at > now() - interval '24 hours'),
    'refunds_24h',
      (select count(*) from public.reports where refunded_at > now() - interval '24 hours')
      + (select count(*) from public.checkout_sessions where refunded_at > now() - interval '24 hours'),
    'stuck_followups', (select count(*) from private.stuck_followups),
    'open_disputes', (select count(*) from private.charge_disputes
                       where created_at > now() - interval '120 days'),
    'unsent_alerts', (select count(*) from private.operator_alerts where sent_at is null),
    'catalog_synced_at', (select max(at) from private.catalog_syncs where ok),
    'engine_swept_at', (select max(swept_at) from private.engine_sweeps))
$function$;

CREATE OR REPLACE FUNCTION public.record_catalog_sync_failure (
  p_error text
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  insert into private.catalog_syncs (ok, error) values (false, left(p_error, 2000));
  select private.raise_operator_alert('catalog_sync', to_char(now() at time zone 'utc', 'YYYY-MM-DD'),
           format('The model catalog has not synced since %s: its prices may be stale. Last error: %s',
                  coalesce((select max(at)::text from private.catalog_syncs where ok), 'it was set up'),
                  left(p_error, 500)))
   where not exists (select 1 from private.catalog_syncs
                      where ok and at > now() - interval '1 day');
$function$;

CREATE OR REPLACE FUNCTION public.record_charge_dispute (
  p_dispute_id     text,
  p_payment_intent text,
  p_charge_id      text,
  p_amount         integer,
  p_currency       text,
  p_reason         text,
  p_status         text
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if coalesce(btrim(p_dispute_id), '') = '' then
    raise exception 'a dispute is recorded with its id' using errcode = 'PT400';
  end if;
  insert into private.charge_disputes
    (dispute_id, payment_intent_id, charge_id, stripe_session_id, amount, currency, reason, status)
  values (left(p_dispute_id, 255), left(p_payment_intent, 255), left(p_charge_id, 255),
          (select s.stripe_session_id from public.checkout_sessions s
            where s.payment_intent_id = p_payment_intent),
          p_amount, left(p_currency, 10), left(p_reason, 100), left(p_status, 50))
  on conflict (dispute_id) do nothing;
  if not found then
    return 'already_recorded';
  end if;
  perform private.raise_operator_alert('dispute', p_dispute_id,
    format('A payment of %s %s was disputed (%s, %s), checkout session %s: answer it in Stripe''s Dashboard before its deadline.',
           to_char(coalesce(p_amount, 0) / 100.0, 'FM999990.00'), upper(coalesce(p_currency, '')),
           coalesce(p_reason, 'no reason given'), coalesce(p_status, 'no status'),
           coalesce((select s.stripe_session_id from public.checkout_sessions s
                      where s.payment_intent_id = p_payment_intent), 'unknown')));
  return 'recorded';
end
$function$;

CREATE OR REPLACE FUNCTION public.record_operator_alerts_sent (
  p_kind        text,
  p_lease_token uuid
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _sent integer;
begin
  update private.operator_alerts a
     set sent_at = now(), lease_token = null, lease_expires_at = null
   where a.kind = p_kind and a.lease_token = p_lease_token and a.sent_at is null;
  get diagnostics _sent = row_count;
  if _sent = 0 then
    raise exception 'the lease on the % alerts is no longer held', p_kind using errcode = 'PT410';
  end if;
  return _sent;
end
$function$;


CREATE INDEX operator_alerts_sent_idx ON private.operator_alerts USING btree (kind, sent_at)
  WHERE (sent_at IS NOT NULL);

CREATE INDEX operator_alerts_unsent_idx ON private.operator_alerts USING btree (kind, created_at)
  WHERE (sent_at IS NULL);

COMMENT ON FUNCTION "private"."raise_operator_alert"(text, text, text) IS 'Raises an alert once per thing (kind and subject); a second raise of the same thing changes nothing.';

COMMENT ON FUNCTION "public"."claim_operator_alerts"(integer) IS 'The unsent alerts of each kind no mail has gone out for in the last hour, each kind under one lease token for p_lease_seconds: one mail per kind, at most one an hour. Concurrent engines never take the same kind.';

COMMENT ON FUNCTION "public"."fail_followup"(bigint, uuid, text, integer, integer, integer) IS 'A claimed follow-up failed: its lease ends, and the next claim waits twice as long as the last (from p_base_seconds, at most p_cap_seconds, with 20% jitter); the claim counted the attempt. True exactly once, when the attempts reach p_alert_after, and then an operator is alerted. When the lease is no longer held nothing is written and it raises PT410.';

COMMENT ON FUNCTION "public"."record_catalog_sync_failure"(text) IS 'Keeps a sync that failed for an operator (the catalog was left as it was); when no sync has worked for a day, an operator is alerted (once a day).';

COMMENT ON FUNCTION "public"."record_charge_dispute"(text, text, text, integer, text, text, text) IS 'Stripe''s charge.dispute.created: the dispute is kept (with the session its payment paid for, when it is ours) and an operator alerted, to answer it in Stripe''s Dashboard before its deadline. Changes nothing else. Answers recorded, or already_recorded for a redelivery.';

COMMENT ON FUNCTION "public"."record_operator_alerts_sent"(text, uuid) IS 'The mail of a kind''s claimed alerts went out: they are sent. PT410 when the lease is no longer held (another engine took them; the mail may go twice, which says the same).';

COMMENT ON TABLE "private"."operator_alerts" IS 'What an operator must hear of: a dispute, a follow-up that keeps failing, a failed report, a catalog that has not synced for a day. One row per thing (kind, subject), mailed to OPERATOR_EMAIL by an engine, at most one mail per kind an hour.';

REVOKE ALL ON FUNCTION "private"."raise_operator_alert"(text, text, text) FROM PUBLIC, "anon", "authenticated", "service_role";



REVOKE ALL ON FUNCTION "public"."claim_operator_alerts"(integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."claim_operator_alerts"(integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."record_operator_alerts_sent"(text, uuid) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_operator_alerts_sent"(text, uuid) TO "service_role";

REVOKE ALL ON TABLE "private"."operator_alerts" FROM PUBLIC, "anon", "authenticated", "service_role";
