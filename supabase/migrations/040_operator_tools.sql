-- operator tools (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.operations_stuck()
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


CREATE OR REPLACE FUNCTION public.operations_summary()
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


CREATE OR REPLACE FUNCTION public.report_story (
  p_report_id uuid
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


COMMENT ON FUNCTION "public"."operations_stuck"() IS 'What needs a person (`modelpick ops stuck`): paid reports no engine has started for 5 minutes, running reports whose lease expired a minute ago, follow-ups that keep failing, disputes of the last 120 days, and alerts not mailed yet; at most 100 of each. Service role only.';

COMMENT ON FUNCTION "public"."operations_summary"() IS 'Today (UTC) and the last 7 days: reports paid, completed and failed, payments refunded, money taken and refunded, and what model calls cost (`modelpick ops summary` adds the margin). Service role only.';

COMMENT ON FUNCTION "public"."report_story"(uuid) IS 'One report''s story for an operator (`modelpick ops report <id>`): its payment, claims and lease, its calls by model (passed, failed, unavailable, cost, last error), its email and refund, disputes of its payment. Null for an id that is no report. Service role only.';

REVOKE ALL ON FUNCTION "public"."operations_stuck"() FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."operations_stuck"() TO "service_role";

REVOKE ALL ON FUNCTION "public"."operations_summary"() FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."operations_summary"() TO "service_role";

REVOKE ALL ON FUNCTION "public"."report_story"(uuid) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."report_story"(uuid) TO "service_role";
