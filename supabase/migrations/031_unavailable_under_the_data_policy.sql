-- unavailable under the data policy (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "public"."read_report_runs"(uuid, text);

ALTER TABLE "public"."benchmark_runs"
  ADD COLUMN "unavailable" boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION public.read_report_runs (
  p_report_id   uuid,
  p_share_token text DEFAULT NULL::text
)
  RETURNS TABLE (
    model_id          text,
    image_index       integer,
    output_json       text,
    response_time_ms  integer,
    prompt_tokens     integer,
    completion_tokens integer,
    total_tokens      integer,
    cost              numeric,
    passed            boolean,
    field_diffs       jsonb,
    fields_total      integer,
    fields_matched    integer,
    error             text,
    unavailable       boolean
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select b.model_id, b.image_index, b.output_json, b.response_time_ms, b.prompt_tokens,
         b.completion_tokens, b.total_tokens, b.cost, b.passed, b.field_diffs, b.fields_total,
         b.fields_matched, b.error, b.unavailable
    from public.benchmark_runs b
   where b.report_id = p_report_id
     and private.readable_report(p_report_id, p_share_token)
   order by b.image_index, b.model_id
$function$;


CREATE OR REPLACE FUNCTION public.record_run (
  p_report_id   uuid,
  p_lease_token uuid,
  p_run         jsonb
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _model text := p_run ->> 'model_id';
  _image integer := (p_run ->> 'image_index')::integer;
  _at_worst integer := coalesce((p_run ->> 'attempts_at_worst_case')::integer, 0);
  _reserved numeric;
  _per_attempt numeric;
  _cost numeric;
  _inserted boolean;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = _model and r.image_index = _image
  returning r.amount, r.per_attempt into _reserved, _per_attempt;
  _cost := coalesce((p_run ->> 'cost')::numeric, 0) + _at_worst * coalesce(_per_attempt, 0);

  insert into public.benchmark_runs (
    report_id, model_id, image_index, output_json, response_time_ms, prompt_tokens,
    completion_tokens, total_tokens, cost, passed, field_diffs, fields_total, fields_matched, error,
    attempts, attempts_at_worst_case, unavailable
  ) values (
    p_report_id, _model, _image, p_run ->> 'output_json',
    coalesce((p_run ->> 'response_time_ms')::integer, 0),
    coalesce((p_run ->> 'prompt_tokens')::integer, 0),
    coalesce((p_run ->> 'completion_tokens')::integer, 0),
    coalesce((p_run ->> 'total_tokens')::integer, 0),
    _cost,
    coalesce((p_run ->> 'passed')::boolean, false),
    coalesce(p_run -> 'field_diffs', '[]'::jsonb),
    coalesce((p_run ->> 'fields_total')::integer, 0),
    coalesce((p_run ->> 'fields_matched')::integer, 0),
    p_run ->> 'error',
    coalesce((p_run ->> 'attempts')::integer, 1),
    _at_worst,
    coalesce((p_run ->> 'unavailable')::boolean, false)
  )
  on conflict (report_id, model_id, image_index) do nothing
  returning true into _inserted;

  update public.reports
     set cost_reserved = greatest(cost_reserved - coalesce(_reserved, 0), 0),
         cost_spent = cost_spent + case when _inserted then _cost else 0 end,
         runs_done = runs_done + case when _inserted then 1 else 0 end
   where id = p_report_id;
  return coalesce(_inserted, false);
end
$function$;

ALTER TABLE "public"."benchmark_runs"
  ADD CONSTRAINT "benchmark_runs_unavailable_has_its_reason" CHECK (((NOT unavailable) OR (error IS NOT NULL)));

COMMENT ON FUNCTION "public"."read_report_runs"(uuid, text) IS 'Every call of the report, for the same readers; `unavailable` marks a call no endpoint of its model would take under the report''s data policy (its reason in `error`).';

REVOKE ALL ON FUNCTION "public"."read_report_runs"(uuid, text) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."read_report_runs"(uuid, text) TO "anon", "authenticated";


