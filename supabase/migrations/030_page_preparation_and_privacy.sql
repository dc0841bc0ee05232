-- page preparation and privacy (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "private"."image_pixels"(jsonb);

CREATE OR REPLACE FUNCTION private.image_pixels (
  p_image    jsonb,
  p_max_side bigint
)
  RETURNS bigint
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select case when greatest(width, height) <= p_max_side then width * height
              else ceil(width::numeric * p_max_side / greatest(width, height))::bigint
                 * ceil(height::numeric * p_max_side / greatest(width, height))::bigint end
    from (select case when stated then (p_image ->> 'width')::bigint else 2480 end as width,
                 case when stated then (p_image ->> 'height')::bigint else 3508 end as height
            -- A saved draft's sizes passed image_size_problem; this only
            -- keeps a cast from failing on anything else.
            from (select coalesce((p_image ->> 'width') ~ '^[0-9]{1,5}$'
                                  and (p_image ->> 'height') ~ '^[0-9]{1,5}$', false) as stated) s) d
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
    'send_max_image_bytes', 4194304
  )
$function$;

CREATE OR REPLACE FUNCTION public.estimate_draft_cost (
  p_draft_id uuid
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _draft public.benchmark_drafts;
  _limits jsonb := public.draft_limits();
  _text_tokens integer;
  _models jsonb;
  _total numeric;
begin
  select * into _draft from public.benchmark_drafts d
   where d.id = p_draft_id and (d.user_id = auth.uid() or auth.role() = 'service_role');
  if not found then
    raise exception 'no draft % among yours', p_draft_id using errcode = 'PT404';
  end if;
  _text_tokens := private.text_token_bound(
    _draft.schema_data ->> 'prompt', private.effective_schema(_draft.schema_data));
  -- Each image is measured once, each model's price read once: the sum
  -- below is a plain product of the two lists.
  with images as materialized (
    select private.image_pixels(i, (_limits ->> 'send_max_side_px')::bigint) as pixels
      from jsonb_array_elements(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) i
  ), models as materialized (
    select c.id, to_jsonb(c) as price, c.max_image_tokens
      from public.model_catalog c
     where c.id = any (_draft.selected_models)
  ), per_model as (
    select m.id,
           coalesce(sum(private.call_worst_case(
             m.price,
             _text_tokens,
             private.image_token_bound(i.pixels, m.max_image_tokens),
             (_limits ->> 'max_answer_tokens')::integer)), 0) as worst
      from models m
      left join images i on true
     group by m.id
  )
  select coalesce(jsonb_object_agg(p.id, round(p.worst, 6)), '{}'::jsonb), coalesce(sum(p.worst), 0)
    into _models, _total
    from per_model p;
  return jsonb_build_object(
    'calls', jsonb_array_length(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) * cardinality(_draft.selected_models),
    'worst_case_usd', round(_total, 6),
    'worst_case_by_model_usd', _models,
    'soft_ceiling_usd', (_limits ->> 'soft_ceiling_usd')::numeric,
    'hard_ceiling_usd', (_limits ->> 'hard_ceiling_usd')::numeric,
    'may_stop_at_ceiling', _total > (_limits ->> 'soft_ceiling_usd')::numeric
  );
end
$function$;

CREATE OR REPLACE FUNCTION public.fulfill_checkout (
  p_stripe_session_id text,
  p_draft_id          uuid,
  p_user_id           uuid
)
  RETURNS TABLE (
    report_id uuid,
    created   boolean
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _draft public.benchmark_drafts;
  _report_id uuid;
  _report_draft_id uuid;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' or p_draft_id is null or p_user_id is null then
    raise exception 'session id, draft id and user id are all required' using errcode = 'PT400';
  end if;

  select * into _draft from public.benchmark_drafts d where d.id = p_draft_id for update;
  if not found then
    raise exception 'draft % does not exist', p_draft_id using errcode = 'PT404';
  end if;
  if _draft.user_id <> p_user_id then
    raise exception 'draft % does not belong to user %', p_draft_id, p_user_id using errcode = 'PT403';
  end if;

  if _draft.status = 'ready' then
    insert into public.reports (
      user_id, draft_id, stripe_session_id, status, config_snapshot,
      image_paths, extraction_prompt, json_schema, runs_planned
    )
    select
      _draft.user_id,
      _draft.id,
      p_stripe_session_id,
      'paid',
      jsonb_build_object(
        'config_data', _draft.config_data,
        'upload_data', _draft.upload_data,
        'schema_data', _draft.schema_data,
        'selected_models', to_jsonb(_draft.selected_models),
        'model_prices', (
          select coalesce(jsonb_object_agg(c.id, jsonb_build_object(
                   'display_name', c.display_name,
                   'prompt_usd_per_mtok', c.prompt_usd_per_mtok,
                   'completion_usd_per_mtok', c.completion_usd_per_mtok,
                   'image_usd', c.image_usd,
                   'request_usd', c.request_usd,
                   'supports_json_schema', c.supports_json_schema)), '{}'::jsonb)
            from public.model_catalog c
           where c.id = any (_draft.selected_models)),
        'how_sent', jsonb_build_object(
          'max_side_px', (public.draft_limits() ->> 'send_max_side_px')::integer,
          'max_image_bytes', (public.draft_limits() ->> 'send_max_image_bytes')::integer,
          'data_collection', 'deny')
      ),
      array(select i ->> 'path'
              from jsonb_array_elements(_draft.upload_data -> 'images') with ordinality as e (i, n)
             order by n),
      _draft.schema_data ->> 'prompt',
      private.effective_schema(_draft.schema_data),
      jsonb_array_length(_draft.upload_data -> 'images') * cardinality(_draft.selected_models)
    on conflict (stripe_session_id) do nothing
    returning id into _report_id;

    if _report_id is not null then
      update public.benchmark_drafts set status = 'paid' where id = _draft.id;
      return query select _report_id, true;
      return;
    end if;
  end if;

  select r.id, r.draft_id into _report_id, _report_draft_id
    from public.reports r
   where r.stripe_session_id = p_stripe_session_id;
  if found then
    if _report_draft_id is distinct from p_draft_id then
      raise exception 'checkout session % paid for another draft', p_stripe_session_id
        using errcode = 'PT409';
    end if;
    return query select _report_id, false;
    return;
  end if;

  if _draft.status = 'paid' then
    raise exception 'draft % was already paid through another checkout session', p_draft_id
      using errcode = 'PT409';
  end if;
  raise exception 'draft % is not ready to be paid for (status %)', p_draft_id, _draft.status
    using errcode = 'PT422';
end
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
               'key', encode(sha256(convert_to(coalesce(d.image ->> 'path', ''), 'UTF8')), 'hex'),
               'expected', d.image -> 'expected'
             ) order by d.n), '[]'::jsonb)
        from jsonb_array_elements(r.config_snapshot -> 'upload_data' -> 'images') with ordinality as d (image, n)),
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
    'images_deleted_at', r.images_deleted_at
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$function$;

COMMENT ON FUNCTION "private"."image_pixels"(jsonb, bigint) IS 'Pixels of an image as the engine sends it, scaled so its long edge is at most p_max_side (draft_limits().send_max_side_px), from its stated size or, without one, an A4 page at 300 dpi.';

COMMENT ON FUNCTION "public"."draft_limits"() IS 'The limits every draft is held to, each account''s (unfinished drafts, stored images, checkouts an hour), and what the product promises beside them (the ceilings, the longest answer a call asks for, the largest image a provider is sent: send_max_side_px on its long edge, send_max_image_bytes encoded): the database enforces them from here, and the wizard and the engine read them here.';

COMMENT ON FUNCTION "public"."fulfill_checkout"(text, uuid, uuid) IS 'Creates the report from a snapshot of a ready draft (prompt, effective schema, images, expected JSON, model prices, and how its images are sent: their largest size and the providers'' data policy asked) and marks the draft paid, in one transaction. Idempotent by the unique stripe_session_id (ON CONFLICT, never check-then-insert): any number of concurrent calls for one session yield one report, `created` true exactly once. Errors: PT404 no draft, PT403 owner mismatch, PT409 draft already paid through another session, PT422 draft not ready, PT400 bad input, PT410 the session is owed a refund; a refusal writes nothing.';

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents, figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at); only the owner learns the share token and the refund. Null for anyone else.';

REVOKE ALL ON FUNCTION "private"."image_pixels"(jsonb, bigint) FROM PUBLIC, "anon", "authenticated", "service_role";


