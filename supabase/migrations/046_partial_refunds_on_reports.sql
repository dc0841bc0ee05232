-- partial refunds on reports (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.export_account (
  p_user_id uuid
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'exported_at', now(),
    'account', jsonb_build_object('id', u.id, 'email', u.email, 'created_at', u.created_at,
                                  'last_sign_in_at', u.last_sign_in_at),
    'drafts', coalesce((select jsonb_agg(jsonb_build_object(
                          'id', d.id, 'status', d.status, 'config_data', d.config_data,
                          'upload_data', d.upload_data, 'schema_data', d.schema_data,
                          'selected_models', d.selected_models, 'created_at', d.created_at,
                          'updated_at', d.updated_at) order by d.created_at)
                          from public.benchmark_drafts d where d.user_id = u.id), '[]'),
    'reports', coalesce((select jsonb_agg(jsonb_build_object(
                           'id', r.id, 'draft_id', r.draft_id, 'status', r.status,
                           'status_reason', r.status_reason, 'paid_at', r.paid_at,
                           'started_at', r.started_at, 'finished_at', r.finished_at,
                           'what_was_run', r.config_snapshot, 'image_paths', r.image_paths,
                           'extraction_prompt', r.extraction_prompt, 'json_schema', r.json_schema,
                           'figures', r.figures, 'model_calls_cost_usd', r.cost_spent,
                           'refunded_at', r.refunded_at, 'images_deleted_at', r.images_deleted_at,
                           'share_link_open', r.share_token is not null, 'share_images', r.share_images,
                           'expected_corrections', r.expected_corrections, 'scoring_version', r.scoring_version,
                           'earlier_scorings', coalesce((select jsonb_agg(jsonb_build_object(
                                                           'version', sc.version, 'figures', sc.figures,
                                                           'expected_corrections', sc.corrections,
                                                           'scored_at', sc.scored_at) order by sc.version)
                                                           from public.report_scorings sc where sc.report_id = r.id), '[]'),
                           'watching_new_models', exists (select 1 from public.report_watches w where w.report_id = r.id),
                           'runs', coalesce((select jsonb_agg(jsonb_build_object(
                                               'model_id', b.model_id, 'document_index', b.image_index,
                                               'answer', b.output_json, 'passed', b.passed,
                                               'fields_total', b.fields_total,
                                               'fields_matched', b.fields_matched,
                                               'differences', b.field_diffs, 'error', b.error,
                                               'response_time_ms', b.response_time_ms,
                                               'cost_usd', b.cost, 'at', b.created_at)
                                             order by b.image_index, b.model_id)
                                              from public.benchmark_runs b where b.report_id = r.id), '[]'))
                           order by r.created_at)
                           from public.reports r where r.user_id = u.id), '[]'),
    'payments', coalesce((select jsonb_agg(jsonb_build_object(
                            'checkout_session', s.stripe_session_id, 'status', s.status,
                            'amount_total', s.amount_total, 'currency', s.currency,
                            'created_at', s.created_at, 'refunded_at', s.refunded_at,
                            'amount_refunded', s.amount_refunded)
                            order by s.created_at)
                            from public.checkout_sessions s where s.user_id = u.id), '[]'),
    'images', coalesce((select jsonb_agg(jsonb_build_object('path', o.name, 'size', o.metadata ->> 'size',
                                                            'uploaded_at', o.created_at) order by o.name)
                          from storage.objects o
                         where o.bucket_id = 'benchmark-images'
                           and (storage.foldername(o.name))[1] = u.id::text), '[]'))
    from auth.users u
   where u.id = p_user_id
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
    -- Cents refunded of the payment, a part of it included (a refund made in
    -- Stripe's Dashboard); null when nothing was.
    'amount_refunded', case when p_share_token is null
                            then (select nullif(s.amount_refunded, 0) from public.checkout_sessions s
                                   where s.stripe_session_id = r.stripe_session_id) end,
    -- Whether the owner is mailed about new models (set_report_watch).
    'watching', case when p_share_token is null
                     then exists (select 1 from public.report_watches w where w.report_id = r.id) end,
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

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents (each with its pages: how many, and where its first is in the report''s image_paths), figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at), and which scoring the figures are (scoring: version, when it was scored again, whether a new one is pending, the earlier versions; documents[].expected is the corrected JSON where the owner corrected it, marked `corrected`); only the owner learns the share token, the refund (refunded_at, and amount_refunded in cents, a partial refund included) and whether the report is watched for new models (watching). Null for anyone else.';
