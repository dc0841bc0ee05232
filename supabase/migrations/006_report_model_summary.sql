-- Each model's showing on one report: document-level pass rate, field-level
-- accuracy, money and latency. A security-invoker view, so it shows exactly
-- the runs the caller may read (the owner, or a holder of the share token).
-- Failed calls count against their model; latency is over calls that answered.

create view public.report_model_summary
with (security_invoker = true)
as
select
  b.report_id,
  b.model_id,
  count(*)::integer as runs,
  (count(*) filter (where b.passed))::integer as passed,
  (count(*) filter (where b.error is not null))::integer as errors,
  round((count(*) filter (where b.passed))::numeric / count(*), 4) as accuracy,
  case when sum(b.fields_total) > 0
       then round(sum(b.fields_matched)::numeric / sum(b.fields_total), 4)
  end as field_accuracy,
  sum(b.cost)::numeric(10, 6) as total_cost,
  (percentile_cont(0.5) within group (order by b.response_time_ms)
     filter (where b.error is null))::integer as median_latency_ms,
  (percentile_cont(0.95) within group (order by b.response_time_ms)
     filter (where b.error is null))::integer as p95_latency_ms
from public.benchmark_runs b
group by b.report_id, b.model_id;

-- Granted in 011_least_privilege.
revoke all on public.report_model_summary from anon, authenticated, service_role;
