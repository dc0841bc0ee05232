-- operations.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Operations: what an operator watches (the figures behind /metrics, read
-- in one statement so a scrape costs the database one cheap read), and the
-- alerts mailed to them: raised where a thing happens, sent by an engine at
-- most once an hour per kind.

set check_function_bodies = off;

CREATE FUNCTION public.operations_metrics() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.operations_metrics() IS 'The figures behind /metrics, in one read: reports by status, the oldest paid report no engine has started, model calls by model and outcome (answered, failed, unavailable) and model spend over the last 24 hours, the revenue of reports paid and the refunds made in that time, stuck follow-ups, and when the catalog last synced and an engine last swept. Service role only.';

CREATE FUNCTION public.operations_summary() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with windows (name, since) as (
    values ('today', date_trunc('day', now() at time zone 'utc') at time zone 'utc'),
           ('7 days', now() - interval '7 days')
  ),
  payments as (
    select s.stripe_session_id, s.amount_total, s.amount_refunded, s.status,
           coalesce(r.paid_at, s.created_at) as paid_at,
           coalesce(s.refunded_at, r.refunded_at) as refunded_at
      from public.checkout_sessions s
      left join public.reports r on r.stripe_session_id = s.stripe_session_id
     where s.status in ('paid', 'refund_owed', 'refunded')
  )
  select jsonb_object_agg(w.name, jsonb_build_object(
    'since', w.since,
    'paid', (select count(*) from public.reports r where r.paid_at >= w.since),
    'complete', (select count(*) from public.reports r where r.status = 'complete' and r.finished_at >= w.since),
    'failed', (select count(*) from public.reports r where r.status = 'failed' and r.finished_at >= w.since),
    'refunded', (select count(*) from payments p where p.refunded_at >= w.since),
    'payments_usd', (select coalesce(sum(p.amount_total), 0) / 100.0 from payments p where p.paid_at >= w.since),
    'refunds_usd', (select coalesce(sum(coalesce(nullif(p.amount_refunded, 0), p.amount_total)), 0) / 100.0
                      from payments p where p.refunded_at >= w.since),
    'model_spend_usd', (select coalesce(sum(b.cost), 0) from public.benchmark_runs b where b.created_at >= w.since)))
  from windows w
$$;

COMMENT ON FUNCTION public.operations_summary() IS 'Today (UTC) and the last 7 days: reports paid, completed and failed, payments refunded, money taken and refunded, and what model calls cost (`modelpick ops summary` adds the margin). Service role only.';

CREATE FUNCTION public.operations_stuck() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'waiting', coalesce((select jsonb_agg(jsonb_build_object('report_id', r.id, 'paid_at', r.paid_at,
                                                            'attempts', r.attempts) order by r.paid_at)
                           from (select * from public.reports where status = 'paid'
                                   and paid_at < now() - interval '5 minutes' order by paid_at limit 100) r), '[]'),
    'lease_expired', coalesce((select jsonb_agg(jsonb_build_object('report_id', r.id, 'lease_owner', r.lease_owner,
                                                                  'lease_expires_at', r.lease_expires_at,
                                                                  'attempts', r.attempts) order by r.lease_expires_at)
                                 from (select * from public.reports where status = 'running'
                                         and lease_expires_at < now() - interval '1 minute'
                                       order by lease_expires_at limit 100) r), '[]'),
    'followups', coalesce((select jsonb_agg(jsonb_build_object('id', f.id, 'kind', f.kind, 'report_id', f.report_id,
                                                              'stripe_session_id', f.stripe_session_id,
                                                              'attempts', f.attempts, 'last_error', f.last_error,
                                                              'next_attempt_at', f.next_attempt_at) order by f.id)
                             from (select * from private.stuck_followups order by id limit 100) f), '[]'),
    'disputes', coalesce((select jsonb_agg(jsonb_build_object('dispute_id', d.dispute_id,
                                                             'stripe_session_id', d.stripe_session_id,
                                                             'amount', d.amount, 'currency', d.currency,
                                                             'reason', d.reason, 'at', d.created_at)
                                           order by d.created_at desc)
                            from (select * from private.charge_disputes
                                   where created_at > now() - interval '120 days'
                                   order by created_at desc limit 100) d), '[]'),
    'unsent_alerts', (select count(*) from private.operator_alerts where sent_at is null))
$$;

COMMENT ON FUNCTION public.operations_stuck() IS 'What needs a person (`modelpick ops stuck`): paid reports no engine has started for 5 minutes, running reports whose lease expired a minute ago, follow-ups that keep failing, disputes of the last 120 days, and alerts not mailed yet; at most 100 of each. Service role only.';

CREATE FUNCTION public.report_story(p_report_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
    'report', jsonb_build_object(
      'id', r.id, 'status', r.status, 'status_reason', r.status_reason, 'cut_short', r.cut_short,
      'paid_at', r.paid_at, 'started_at', r.started_at, 'finished_at', r.finished_at,
      'attempts', r.attempts, 'lease_owner', r.lease_owner, 'lease_expires_at', r.lease_expires_at,
      'runs_planned', r.runs_planned, 'runs_done', r.runs_done,
      'cost_spent', r.cost_spent, 'cost_reserved', r.cost_reserved, 'cost_unsettled', r.cost_unsettled,
      'email_sent_at', r.email_sent_at, 'refund_id', r.refund_id, 'refunded_at', r.refunded_at,
      'followup_error', r.followup_error, 'owner', (select u.email from auth.users u where u.id = r.user_id)),
    'session', (select jsonb_build_object('id', s.stripe_session_id, 'status', s.status,
                                          'amount_total', s.amount_total, 'currency', s.currency,
                                          'payment_intent', s.payment_intent_id,
                                          'amount_refunded', s.amount_refunded, 'detail', s.detail)
                  from public.checkout_sessions s where s.stripe_session_id = r.stripe_session_id),
    'calls', coalesce((select jsonb_agg(jsonb_build_object('model', c.model_id, 'calls', c.calls,
                                                          'passed', c.passed, 'failed', c.failed,
                                                          'unavailable', c.unavailable, 'cost', c.cost,
                                                          'last_error', c.last_error) order by c.model_id)
                         from (select b.model_id, count(*) as calls, count(*) filter (where b.passed) as passed,
                                      count(*) filter (where b.error is not null and not b.unavailable) as failed,
                                      count(*) filter (where b.unavailable) as unavailable, sum(b.cost) as cost,
                                      (array_agg(b.error order by b.created_at desc) filter (where b.error is not null))[1]
                                        as last_error
                                 from public.benchmark_runs b where b.report_id = r.id
                                group by b.model_id) c), '[]'),
    'followups', coalesce((select jsonb_agg(jsonb_build_object('kind', f.kind, 'attempts', f.attempts,
                                                              'done_at', f.done_at, 'last_error', f.last_error,
                                                              'alerted_at', f.alerted_at) order by f.id)
                             from private.followups f where f.report_id = r.id), '[]'),
    'disputes', coalesce((select jsonb_agg(jsonb_build_object('dispute_id', d.dispute_id, 'reason', d.reason,
                                                             'at', d.created_at))
                            from private.charge_disputes d where d.stripe_session_id = r.stripe_session_id), '[]'))
    from public.reports r
   where r.id = p_report_id
$$;

COMMENT ON FUNCTION public.report_story(uuid) IS 'One report''s story for an operator (`modelpick ops report <id>`): its payment, claims and lease, its calls by model (passed, failed, unavailable, cost, last error), its email and refund, disputes of its payment. Null for an id that is no report. Service role only.';

CREATE TABLE private.operator_alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL,
    subject text NOT NULL,
    detail text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    sent_at timestamp with time zone,
    lease_token uuid,
    lease_expires_at timestamp with time zone,
    CONSTRAINT operator_alerts_kind_check CHECK ((kind = ANY (ARRAY['dispute'::text, 'stuck_followup'::text, 'report_failed'::text, 'catalog_sync'::text]))),
    CONSTRAINT operator_alerts_once UNIQUE (kind, subject)
);

COMMENT ON TABLE private.operator_alerts IS 'What an operator must hear of: a dispute, a follow-up that keeps failing, a failed report, a catalog that has not synced for a day. One row per thing (kind, subject), mailed to OPERATOR_EMAIL by an engine, at most one mail per kind an hour.';

CREATE INDEX operator_alerts_unsent_idx ON private.operator_alerts USING btree (kind, created_at) WHERE (sent_at IS NULL);

CREATE INDEX operator_alerts_sent_idx ON private.operator_alerts USING btree (kind, sent_at) WHERE (sent_at IS NOT NULL);

CREATE FUNCTION private.raise_operator_alert(p_kind text, p_subject text, p_detail text) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  insert into private.operator_alerts (kind, subject, detail)
  values (p_kind, left(p_subject, 200), left(p_detail, 2000))
  on conflict (kind, subject) do nothing;
$$;

COMMENT ON FUNCTION private.raise_operator_alert(text, text, text) IS 'Raises an alert once per thing (kind and subject); a second raise of the same thing changes nothing.';

CREATE FUNCTION public.claim_operator_alerts(p_lease_seconds integer DEFAULT 120) RETURNS TABLE(kind text, lease_token uuid, alerts jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.claim_operator_alerts(integer) IS 'The unsent alerts of each kind no mail has gone out for in the last hour, each kind under one lease token for p_lease_seconds: one mail per kind, at most one an hour. Concurrent engines never take the same kind.';

CREATE FUNCTION public.record_operator_alerts_sent(p_kind text, p_lease_token uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.record_operator_alerts_sent(text, uuid) IS 'The mail of a kind''s claimed alerts went out: they are sent. PT410 when the lease is no longer held (another engine took them; the mail may go twice, which says the same).';

REVOKE ALL ON TABLE private.operator_alerts FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.raise_operator_alert(p_kind text, p_subject text, p_detail text) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.claim_operator_alerts(p_lease_seconds integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.claim_operator_alerts(p_lease_seconds integer) TO service_role;

REVOKE ALL ON FUNCTION public.record_operator_alerts_sent(p_kind text, p_lease_token uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_operator_alerts_sent(p_kind text, p_lease_token uuid) TO service_role;

REVOKE ALL ON FUNCTION public.operations_summary() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.operations_summary() TO service_role;

REVOKE ALL ON FUNCTION public.operations_stuck() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.operations_stuck() TO service_role;

REVOKE ALL ON FUNCTION public.report_story(p_report_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.report_story(p_report_id uuid) TO service_role;

REVOKE ALL ON FUNCTION public.operations_metrics() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.operations_metrics() TO service_role;
