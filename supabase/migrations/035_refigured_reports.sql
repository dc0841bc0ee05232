-- refigured reports (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.record_refigured_report (
  p_report_id uuid,
  p_figures   jsonb
)
  RETURNS boolean
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  with stored as (
    update public.reports r
       set figures = p_figures
     where r.id = p_report_id
       and r.status in ('complete', 'failed')
       and (r.figures is null or not r.figures ? 'document_results')
    returning 1
  )
  select exists (select 1 from stored)
$function$;


CREATE OR REPLACE FUNCTION public.reports_to_refigure (
  p_after uuid,
  p_limit integer
)
  RETURNS TABLE (
    id                uuid,
    extraction_prompt text,
    json_schema       jsonb,
    config_snapshot   jsonb
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select r.id, r.extraction_prompt, r.json_schema, r.config_snapshot
    from public.reports r
   where r.id > p_after
     and r.status in ('complete', 'failed')
     and (r.figures is null or not r.figures ? 'document_results')
     and exists (select 1 from public.benchmark_runs b where b.report_id = r.id)
   order by r.id
   limit least(greatest(p_limit, 0), 100)
$function$;


COMMENT ON FUNCTION "public"."record_refigured_report"(uuid, jsonb) IS 'Stores the figures computed again for a finished report that lacked them (see reports_to_refigure); false, writing nothing, for a report not finished or whose figures are current.';

COMMENT ON FUNCTION "public"."reports_to_refigure"(uuid, integer) IS 'Finished reports with runs whose figures are missing or older than what the report page reads (no document_results), after p_after in id order (at most 100): the engine computes their figures again from their runs when it starts.';

REVOKE ALL ON FUNCTION "public"."record_refigured_report"(uuid, jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_refigured_report"(uuid, jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "public"."reports_to_refigure"(uuid, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."reports_to_refigure"(uuid, integer) TO "service_role";
