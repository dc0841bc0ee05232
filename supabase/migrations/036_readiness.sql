-- readiness (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE TABLE "private"."engine_sweeps" (
  "worker"   text                     NOT NULL,
  "swept_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "engine_sweeps_pkey" PRIMARY KEY (worker)
);

CREATE OR REPLACE FUNCTION public.readiness()
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'now', now(),
    'engine_swept_at', (select max(swept_at) from private.engine_sweeps),
    'catalog_synced_at', (select max(at) from private.catalog_syncs where ok),
    'catalog_failed_at', (select max(at) from private.catalog_syncs where not ok),
    'catalog_offers_models', exists (select 1 from public.model_catalog where active))
$function$;


CREATE OR REPLACE FUNCTION public.record_engine_sweep (
  p_worker text
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  insert into private.engine_sweeps (worker, swept_at)
  values (left(p_worker, 200), now())
  on conflict (worker) do update set swept_at = excluded.swept_at;
  delete from private.engine_sweeps where swept_at < now() - interval '1 day';
$function$;


COMMENT ON FUNCTION "public"."readiness"() IS 'What /ready judges the service by, in one cheap read: the database''s clock, the last sweep of any engine, the last catalog sync that worked and the last that failed, and whether the catalog offers any model.';

COMMENT ON FUNCTION "public"."record_engine_sweep"(text) IS 'An engine says it swept the queue just now (every ENGINE_SWEEP_INTERVAL_S): what /ready reads to tell a running engine from a stopped one. Engines silent for a day are forgotten.';

COMMENT ON TABLE "private"."engine_sweeps" IS 'Each running engine''s last sweep of the queue (record_engine_sweep), for /ready.';

REVOKE ALL ON FUNCTION "public"."readiness"() FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."readiness"() TO "service_role";

REVOKE ALL ON FUNCTION "public"."record_engine_sweep"(text) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_engine_sweep"(text) TO "service_role";

REVOKE ALL ON TABLE "private"."engine_sweeps" FROM PUBLIC, "anon", "authenticated", "service_role";
