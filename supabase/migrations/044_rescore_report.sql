-- rescore report (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE TABLE "public"."report_scorings" (
  "report_id"     uuid                     NOT NULL,
  "version"       integer                  NOT NULL,
  "figures"       jsonb,
  "corrections"   jsonb,
  "scored_at"     timestamp with time zone NOT NULL,
  "superseded_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "report_scorings_pkey" PRIMARY KEY (report_id, VERSION),
  CONSTRAINT "report_scorings_version_check" CHECK ((version >= 1))
);

ALTER TABLE "public"."report_scorings"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."report_scorings" FROM PUBLIC, "anon", "authenticated", "service_role";

ALTER TABLE "public"."reports"
  ADD COLUMN "expected_corrections" jsonb;

ALTER TABLE "public"."reports"
  ADD COLUMN "pending_corrections" jsonb;

ALTER TABLE "public"."reports"
  ADD COLUMN "scoring_version" integer NOT NULL DEFAULT 1;

ALTER TABLE "public"."reports"
  ADD COLUMN "rescored_at" timestamp WITH time zone;

CREATE OR REPLACE FUNCTION private.report_document_keys (
  p_config_snapshot jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select coalesce(jsonb_object_agg(
           encode(sha256(convert_to(coalesce(e.image ->> 'path', ''), 'UTF8')), 'hex'),
           jsonb_build_object('name', coalesce(e.image ->> 'name', storage.filename(e.image ->> 'path')),
                              'expected', e.image -> 'expected')), '{}'::jsonb)
    from jsonb_array_elements(p_config_snapshot -> 'upload_data' -> 'images') e (image)
$function$;

CREATE OR REPLACE FUNCTION public.draft_limits()
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'max_images', 50,
    'max_image_bytes', 10485760,
    'max_models', 10,
    'max_expected_bytes', 65536,
    'max_depth', 16,
    'max_array_items', 200,
    'max_fields', 2000,
    'max_prompt_bytes', 8192,
    'max_schema_bytes', 32768,
    'max_answer_tokens', 1024,
    'soft_ceiling_usd', 6.50,
    'hard_ceiling_usd', 7.00,
    'max_image_side_px', 20000,
    'max_open_drafts', 50,
    'max_stored_images', 500,
    'max_checkouts_per_hour', 20,
    'send_max_side_px', 2000,
    'send_max_image_bytes', 4194304,
    'max_pages_per_document', 20,
    'max_pages_per_benchmark', 200,
    'max_scorings_per_report', 20
  )
$function$;

CREATE OR REPLACE FUNCTION public.read_report (
  p_report_id   uuid,
  p_share_token text DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'id', r.id,
    'name', r.config_snapshot -> 'config_data' ->> 'name',
    'status', r.status,
    'status_reason', r.status_reason,
    'cut_short', r.cut_short,
    'created_at', r.created_at,
    'paid_at', r.paid_at,
    'started_at', r.started_at,
    'finished_at', r.finished_at,
    'runs_planned', r.runs_planned,
    'runs_done', r.runs_done,
    'cost_spent', r.cost_spent,
    'figures', r.figures,
    'prompt', r.extraction_prompt,
    'json_schema', r.json_schema,
    'how_sent', r.config_snapshot -> 'how_sent',
    'models', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'id', m.id,
               'display_name', coalesce(r.config_snapshot -> 'model_prices' -> m.id ->> 'display_name', m.id),
               'prices', (r.config_snapshot -> 'model_prices' -> m.id) - 'display_name'
             ) order by m.n), '[]'::jsonb)
        from jsonb_array_elements_text(r.config_snapshot -> 'selected_models') with ordinality as m (id, n)),
    'documents', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'index', d.n - 1,
               'name', coalesce(d.image ->> 'name', storage.filename(d.image ->> 'path')),
               'key', d.key,
               'expected', coalesce(r.expected_corrections -> d.key, d.image -> 'expected'),
               'corrected', coalesce(r.expected_corrections ? d.key, false),
               'pages', d.pages,
               'first_page', d.first_page
             ) order by d.n), '[]'::jsonb)
        from (select e.image, e.n, jsonb_array_length(private.document_pages(e.image)) as pages,
                     encode(sha256(convert_to(coalesce(e.image ->> 'path', ''), 'UTF8')), 'hex') as key,
                     coalesce(sum(jsonb_array_length(private.document_pages(e.image)))
                                over (order by e.n rows between unbounded preceding and 1 preceding), 0) as first_page
                from jsonb_array_elements(r.config_snapshot -> 'upload_data' -> 'images') with ordinality as e (image, n)) d),
    'summary', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'report_id' order by s.model_id), '[]'::jsonb)
        from public.report_model_summary s
       where s.report_id = r.id),
    -- Only the owner learns the link, and whether the payment was refunded.
    'owner', p_share_token is null,
    'share_token', case when p_share_token is null then r.share_token end,
    'refunded_at', case when p_share_token is null then r.refunded_at end,
    -- Whether link holders see the document images (the owner's choice).
    'share_images', r.share_images and r.images_deleted_at is null,
    'images_deleted_at', r.images_deleted_at,
    -- Which scoring the figures are: 1 as paid for, one more each time the
    -- owner corrected the expected JSON (rescore_report).
    'scoring', jsonb_build_object(
      'version', r.scoring_version,
      'rescored_at', r.rescored_at,
      'pending', r.pending_corrections is not null,
      'earlier', (select coalesce(jsonb_agg(jsonb_build_object('version', s.version, 'scored_at', s.scored_at)
                                            order by s.version), '[]'::jsonb)
                    from public.report_scorings s where s.report_id = r.id))
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$function$;

CREATE OR REPLACE FUNCTION public.read_report_scoring (
  p_report_id   uuid,
  p_version     integer,
  p_share_token text    DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object('version', s.version, 'figures', s.figures, 'scored_at', s.scored_at,
                            'superseded_at', s.superseded_at,
                            'corrected', coalesce((select jsonb_agg(k order by k) from jsonb_object_keys(s.corrections) k), '[]'::jsonb))
    from public.report_scorings s
   where s.report_id = p_report_id
     and s.version = p_version
     and private.readable_report(p_report_id, p_share_token)
$function$;

CREATE OR REPLACE FUNCTION public.record_rescore (
  p_report_id   uuid,
  p_corrections jsonb,
  p_figures     jsonb,
  p_runs        jsonb
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports;
begin
  select * into _report from public.reports r where r.id = p_report_id for update;
  if not found or _report.status <> 'complete' or p_corrections is null
     or _report.pending_corrections is distinct from p_corrections then
    return false;
  end if;
  insert into public.report_scorings (report_id, version, figures, corrections, scored_at)
  values (_report.id, _report.scoring_version, _report.figures, _report.expected_corrections,
          coalesce(_report.rescored_at, _report.finished_at, now()));
  update public.benchmark_runs b
     set passed = (x ->> 'passed')::boolean,
         field_diffs = x -> 'field_diffs',
         fields_total = (x ->> 'fields_total')::integer,
         fields_matched = (x ->> 'fields_matched')::integer
    from jsonb_array_elements(p_runs) x
   where b.report_id = p_report_id and b.id = (x ->> 'id')::uuid;
  update public.reports r
     set figures = p_figures,
         expected_corrections = nullif(p_corrections, '{}'::jsonb),
         pending_corrections = null,
         scoring_version = r.scoring_version + 1,
         rescored_at = now()
   where r.id = p_report_id;
  return true;
end
$function$;

CREATE OR REPLACE FUNCTION public.reports_to_rescore (
  p_limit integer
)
  RETURNS TABLE (
    id                uuid,
    extraction_prompt text,
    json_schema       jsonb,
    config_snapshot   jsonb,
    corrections       jsonb
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select r.id, r.extraction_prompt, r.json_schema, r.config_snapshot, r.pending_corrections
    from public.reports r
   where r.pending_corrections is not null
     and r.status = 'complete'
   order by r.id
   limit least(greatest(p_limit, 0), 100)
$function$;

CREATE OR REPLACE FUNCTION public.rescore_report (
  p_report_id uuid,
  p_expected  jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports;
  _documents jsonb;
  _before jsonb;
  _merged jsonb;
  _key text;
  _value jsonb;
  _max integer := (public.draft_limits() ->> 'max_scorings_per_report')::integer;
begin
  if octet_length(coalesce(p_expected, 'null')::text) > 4 * 1024 * 1024 then
    raise exception 'The corrected expected JSON together is %; the limit is 4 MB.',
      private.human_bytes(octet_length(p_expected::text)) using errcode = 'PT400';
  end if;
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = (select auth.uid())
     for update;
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if _report.status <> 'complete' then
    raise exception 'Only a finished report with answers can be scored again; this one is %.', _report.status
      using errcode = 'PT409';
  end if;
  if jsonb_typeof(p_expected) is distinct from 'object' or p_expected = '{}'::jsonb then
    raise exception 'Give the corrected expected JSON as an object from each document''s key to its JSON.'
      using errcode = 'PT400';
  end if;
  _documents := private.report_document_keys(_report.config_snapshot);
  _before := coalesce(_report.pending_corrections, _report.expected_corrections, '{}'::jsonb);
  _merged := _before;
  for _key, _value in select e.key, e.value from jsonb_each(p_expected) e loop
    if not _documents ? _key then
      raise exception 'This report has no document with the key %.', left(_key, 80) using errcode = 'PT400';
    end if;
    if jsonb_typeof(_value) is distinct from 'object' then
      raise exception 'The expected JSON of % must be a JSON object.', _documents -> _key ->> 'name'
        using errcode = 'PT400';
    end if;
    perform private.check_expected_json(_value, 'expected JSON of ' || (_documents -> _key ->> 'name'));
    -- Correcting a document back to what was paid for drops its correction.
    _merged := case when _value = _documents -> _key -> 'expected' then _merged - _key
                    else _merged || jsonb_build_object(_key, _value) end;
  end loop;
  if octet_length(_merged::text) > 4 * 1024 * 1024 then
    raise exception 'The corrected expected JSON together is %; the limit is 4 MB.',
      private.human_bytes(octet_length(_merged::text)) using errcode = 'PT400';
  end if;
  if _merged = _before then
    return jsonb_build_object('version', _report.scoring_version + (_report.pending_corrections is not null)::integer,
                              'pending', _report.pending_corrections is not null);
  end if;
  if _merged = coalesce(_report.expected_corrections, '{}'::jsonb) then
    -- Back to what the figures shown were scored with: nothing to score.
    update public.reports r set pending_corrections = null where r.id = p_report_id;
    return jsonb_build_object('version', _report.scoring_version, 'pending', false);
  end if;
  if _report.scoring_version >= _max then
    raise exception 'This report has been scored % times; the limit is %.', _report.scoring_version, _max
      using errcode = 'PT429';
  end if;
  update public.reports r set pending_corrections = _merged where r.id = p_report_id;
  perform pg_notify('report_rescore', p_report_id::text);
  return jsonb_build_object('version', _report.scoring_version + 1, 'pending', true);
end
$function$;

ALTER TABLE "public"."report_scorings"
  ADD CONSTRAINT "report_scorings_report_id_fkey" FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

ALTER TABLE "public"."reports"
  ADD CONSTRAINT "reports_corrections_size"
    CHECK
    (((octet_length((COALESCE(expected_corrections, '{}'::jsonb))::text) <= ((4 * 1024) * 1024)) AND (octet_length((COALESCE(pending_corrections, '{}'::jsonb))::text) <= ((4 *
    1024) * 1024))));

ALTER TABLE "public"."reports"
  ADD CONSTRAINT "reports_scoring_version_check" CHECK ((scoring_version >= 1));

CREATE INDEX reports_pending_rescore_idx ON public.reports USING btree (id)
  WHERE (pending_corrections IS NOT NULL);

COMMENT ON FUNCTION "private"."report_document_keys"(jsonb) IS 'A report''s documents by the key read_report gives each (the SHA-256 of its image''s path): its name and the expected JSON it was paid with.';

COMMENT ON FUNCTION "public"."draft_limits"() IS 'The limits every draft is held to, each account''s (unfinished drafts, stored images, checkouts an hour), and what the product promises beside them (the ceilings, the longest answer a call asks for, the largest image a provider is sent: send_max_side_px on its long edge, send_max_image_bytes encoded; how many times one report may be scored again: max_scorings_per_report): the database enforces them from here, and the wizard and the engine read them here.';

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents (each with its pages: how many, and where its first is in the report''s image_paths), figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at), and which scoring the figures are (scoring: version, when it was scored again, whether a new one is pending, the earlier versions; documents[].expected is the corrected JSON where the owner corrected it, marked `corrected`); only the owner learns the share token and the refund. Null for anyone else.';

COMMENT ON FUNCTION "public"."read_report_scoring"(uuid, integer, text) IS 'The figures an earlier version of a report showed, for its readers (read_report''s): which documents were corrected then, and when it was scored and superseded. Null for anyone else or a version that is not an earlier one.';

COMMENT ON FUNCTION "public"."record_rescore"(uuid, jsonb, jsonb, jsonb) IS 'The engine stores a report scored again with `p_corrections` (what reports_to_rescore gave it): its figures, and each run''s new score (`p_runs`: [{id, passed, field_diffs, fields_total, fields_matched}]); the figures it showed before are kept in report_scorings. False, writing nothing, when the owner corrected again meanwhile (the engine then scores the newer corrections) or the report is not complete.';

COMMENT ON FUNCTION "public"."reports_to_rescore"(integer) IS 'Complete reports whose owner corrected their expected JSON and which are not yet scored again (at most 100), with the corrections to score them with (document key to JSON).';

COMMENT ON FUNCTION "public"."rescore_report"(uuid, jsonb) IS 'The owner corrects the expected JSON of some documents of a finished report (`p_expected`: document key, as read_report gives it, to the corrected JSON object, held to the draft limits) and the report is scored again from the answers it holds: no model call, no charge. Corrections add to earlier ones; one equal to what was paid for drops it. Returns {version, pending}: the version the report will show, and whether the engine has still to score it. PT404 for anyone but the owner, PT409 for a report not complete, PT400 for an unknown key or JSON over the limits, PT429 after max_scorings_per_report versions.';

COMMENT ON TABLE "public"."report_scorings" IS 'The figures a report showed before it was scored again: one row per earlier version, with the corrections of the expected JSON it was scored with (null: as paid for). Read through read_report and read_report_scoring.';

REVOKE ALL ON FUNCTION "private"."report_document_keys"(jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";

REVOKE ALL ON FUNCTION "public"."read_report_scoring"(uuid, integer, text) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."read_report_scoring"(uuid, integer, text) TO "anon", "authenticated";

REVOKE ALL ON FUNCTION "public"."record_rescore"(uuid, jsonb, jsonb, jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."record_rescore"(uuid, jsonb, jsonb, jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "public"."reports_to_rescore"(integer) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."reports_to_rescore"(integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."rescore_report"(uuid, jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."rescore_report"(uuid, jsonb) TO "authenticated";

