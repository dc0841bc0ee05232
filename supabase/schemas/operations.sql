-- operations.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Operations: what an operator watches (the figures behind /metrics), read
-- in one statement so a scrape costs the database one cheap read.

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
    'catalog_synced_at', (select max(at) from private.catalog_syncs where ok),
    'engine_swept_at', (select max(swept_at) from private.engine_sweeps))
$$;

COMMENT ON FUNCTION public.operations_metrics() IS 'The figures behind /metrics, in one read: reports by status, the oldest paid report no engine has started, model calls by model and outcome (answered, failed, unavailable) and model spend over the last 24 hours, the revenue of reports paid and the refunds made in that time, stuck follow-ups, and when the catalog last synced and an engine last swept. Service role only.';

REVOKE ALL ON FUNCTION public.operations_metrics() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.operations_metrics() TO service_role;
