-- document pages (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "private"."call_worst_case"(jsonb, integer, integer, integer);

DROP FUNCTION "private"."image_token_bound"(bigint, integer);

CREATE OR REPLACE FUNCTION private.call_worst_case (
  p_price        jsonb,
  p_text_tokens  integer,
  p_image_tokens integer,
  p_max_tokens   integer,
  p_pages        integer DEFAULT 1
)
  RETURNS numeric
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select round(
    ((p_text_tokens + p_image_tokens)::numeric * (p_price ->> 'prompt_usd_per_mtok')::numeric
      + p_max_tokens::numeric * (p_price ->> 'completion_usd_per_mtok')::numeric) / 1000000
    + coalesce((p_price ->> 'image_usd')::numeric, 0) * p_pages
    + coalesce((p_price ->> 'request_usd')::numeric, 0),
    6)
$function$;


CREATE OR REPLACE FUNCTION private.check_draft_limits (
  p_draft public.benchmark_drafts
)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  _limits jsonb := public.draft_limits();
  _images jsonb := p_draft.upload_data -> 'images';
  _image jsonb;
  _page record;
  _n integer := 0;
  _pages integer := 0;
  _what text;
  _problem text;
  _schema text;
  _bytes integer;
begin
  if jsonb_typeof(_images) = 'array' then
    if jsonb_array_length(_images) > (_limits ->> 'max_images')::integer then
      raise exception 'A benchmark holds at most % images; this one has %.',
        (_limits ->> 'max_images')::integer, jsonb_array_length(_images)
        using errcode = 'check_violation';
    end if;
    for _image in select * from jsonb_array_elements(_images) loop
      _n := _n + 1;
      _what := format('image %s (%s)', _n,
        coalesce(_image ->> 'name', regexp_replace(coalesce(_image ->> 'path', '?'), '^.*/', '')));
      _problem := private.image_size_problem(_image);
      if _problem is not null then
        raise exception 'The width and height of % %.', _what, _problem using errcode = 'check_violation';
      end if;
      if _image ? 'pages' then
        if jsonb_typeof(_image -> 'pages') is distinct from 'array' or jsonb_array_length(_image -> 'pages') = 0 then
          raise exception 'The pages of % are a list of at least one page.', _what using errcode = 'check_violation';
        end if;
        if jsonb_array_length(_image -> 'pages') > (_limits ->> 'max_pages_per_document')::integer then
          raise exception 'A document holds at most % pages; % has %.',
            (_limits ->> 'max_pages_per_document')::integer, _what, jsonb_array_length(_image -> 'pages')
            using errcode = 'check_violation';
        end if;
        for _page in select e.page, e.n from jsonb_array_elements(_image -> 'pages') with ordinality as e (page, n) loop
          _problem := private.image_size_problem(_page.page);
          if jsonb_typeof(_page.page) is distinct from 'object' then
            _problem := 'must each be an object';
          end if;
          if _problem is not null then
            raise exception 'The width and height of page % of % %.', _page.n, _what, _problem
              using errcode = 'check_violation';
          end if;
        end loop;
      end if;
      _pages := _pages + jsonb_array_length(private.document_pages(_image));
      if _image ? 'expected' then
        perform private.check_expected_json(_image -> 'expected', 'expected JSON of ' || _what);
      end if;
    end loop;
    if _pages > (_limits ->> 'max_pages_per_benchmark')::integer then
      raise exception 'A benchmark holds at most % pages in all; this one has %.',
        (_limits ->> 'max_pages_per_benchmark')::integer, _pages
        using errcode = 'check_violation';
    end if;
  end if;
  _bytes := octet_length(coalesce(p_draft.schema_data ->> 'prompt', ''));
  if _bytes > (_limits ->> 'max_prompt_bytes')::integer then
    raise exception 'The prompt is %; the limit is %.', private.human_bytes(_bytes),
      private.human_bytes((_limits ->> 'max_prompt_bytes')::integer)
      using errcode = 'check_violation';
  end if;
  foreach _schema in array array['userSchema', 'inferredSchema'] loop
    _bytes := octet_length(coalesce(p_draft.schema_data -> _schema, 'null'::jsonb)::text);
    if _bytes > (_limits ->> 'max_schema_bytes')::integer then
      raise exception 'The JSON schema is %; the limit is %.', private.human_bytes(_bytes),
        private.human_bytes((_limits ->> 'max_schema_bytes')::integer)
        using errcode = 'check_violation';
    end if;
  end loop;
  if cardinality(p_draft.selected_models) > (_limits ->> 'max_models')::integer then
    raise exception 'A benchmark compares at most % models; this one has %.',
      (_limits ->> 'max_models')::integer, cardinality(p_draft.selected_models)
      using errcode = 'check_violation';
  end if;
end
$function$;

CREATE OR REPLACE FUNCTION private.check_ready_draft()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _page jsonb;
  _unknown text;
begin
  perform private.check_draft_limits(new);
  if new.status <> 'ready' then
    return new;
  end if;
  if jsonb_typeof(_images) is distinct from 'array' or jsonb_array_length(_images) = 0 then
    raise exception 'A ready draft needs at least one image.'
      using errcode = 'check_violation', hint = 'upload_data.images is empty';
  end if;
  for _image in select * from jsonb_array_elements(_images) loop
    for _page in select * from jsonb_array_elements(private.document_pages(_image)) loop
      if jsonb_typeof(_page -> 'path') is distinct from 'string'
         or (storage.foldername(_page ->> 'path'))[1] is distinct from new.user_id::text
         or not private.storage_name_is_safe(_page ->> 'path') then
        raise exception 'Every image must be stored under the owner''s own folder.'
          using errcode = 'check_violation', detail = left(coalesce(_page ->> 'path', 'missing path'), 200),
                hint = 'each part of the path is letters, digits, ".", "_" or "-", and is neither empty nor starts with a dot';
      end if;
    end loop;
    if _image -> 'path' is distinct from private.document_pages(_image) -> 0 -> 'path' then
      raise exception 'A document''s path is its first page''s.' using errcode = 'check_violation',
        detail = left(coalesce(_image ->> 'path', 'missing path'), 200);
    end if;
    if jsonb_typeof(_image -> 'expected') is distinct from 'object' then
      raise exception 'Every image needs the JSON object expected from it.'
        using errcode = 'check_violation', detail = _image ->> 'path';
    end if;
  end loop;
  if cardinality(new.selected_models) = 0 then
    raise exception 'A ready draft needs at least one model.' using errcode = 'check_violation';
  end if;
  if cardinality(new.selected_models) <> (select count(distinct m) from unnest(new.selected_models) m) then
    raise exception 'A model is selected twice.' using errcode = 'check_violation';
  end if;
  select m into _unknown
    from unnest(new.selected_models) m
   where not exists (select 1 from public.model_catalog c where c.id = m and c.active)
   limit 1;
  if _unknown is not null then
    raise exception 'Unknown model: %', _unknown using errcode = 'check_violation';
  end if;
  if jsonb_typeof(new.config_data -> 'zero_retention') not in ('boolean', 'null') then
    raise exception 'config_data.zero_retention is true or false.' using errcode = 'check_violation';
  end if;
  if coalesce((new.config_data ->> 'zero_retention')::boolean, false) then
    select c.display_name into _unknown
      from unnest(new.selected_models) m
      join public.model_catalog c on c.id = m
     where not c.zero_retention
     limit 1;
    if _unknown is not null then
      raise exception '% has no endpoint with zero data retention; choose models marked as keeping nothing, or do not ask for it.', _unknown
        using errcode = 'check_violation';
    end if;
  end if;
  if coalesce(btrim(new.schema_data ->> 'prompt'), '') = '' then
    raise exception 'A ready draft needs an extraction prompt.' using errcode = 'check_violation';
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION private.document_pages (
  p_document jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select case when jsonb_typeof(p_document -> 'pages') = 'array' then p_document -> 'pages'
              else jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                     'path', p_document -> 'path', 'width', p_document -> 'width',
                     'height', p_document -> 'height')))
         end
$function$;


CREATE OR REPLACE FUNCTION private.image_token_bound (
  p_pixels           bigint,
  p_max_image_tokens integer,
  p_pages            integer DEFAULT 1
)
  RETURNS integer
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select coalesce(p_max_image_tokens * p_pages,
                  least(ceil(greatest(p_pixels, 0) / 196.0) + 65 * p_pages - 1, 2000000000)::integer)
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
    'max_pages_per_benchmark', 200
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
  -- Each document is measured once (all its pages), each model's price
  -- read once: the sum
  -- below is a plain product of the two lists.
  with images as materialized (
    select sum(private.image_pixels(p, (_limits ->> 'send_max_side_px')::bigint))::bigint as pixels,
           count(*)::integer as pages
      from jsonb_array_elements(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) with ordinality as d (document, n)
      cross join lateral jsonb_array_elements(private.document_pages(d.document)) p
     group by d.n
  ), models as materialized (
    select c.id, to_jsonb(c) as price, c.max_image_tokens
      from public.model_catalog c
     where c.id = any (_draft.selected_models)
  ), per_model as (
    select m.id,
           coalesce(sum(private.call_worst_case(
             m.price,
             _text_tokens,
             private.image_token_bound(i.pixels, m.max_image_tokens, i.pages),
             (_limits ->> 'max_answer_tokens')::integer, i.pages)), 0) as worst
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
          'data_collection', 'deny',
          'zero_retention', coalesce((_draft.config_data ->> 'zero_retention')::boolean, false))
      ),
      array(select p ->> 'path'
              from jsonb_array_elements(_draft.upload_data -> 'images') with ordinality as e (i, n)
              cross join lateral jsonb_array_elements(private.document_pages(e.i)) with ordinality as q (p, m)
             order by n, m),
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
               'expected', d.image -> 'expected',
               'pages', d.pages,
               'first_page', d.first_page
             ) order by d.n), '[]'::jsonb)
        from (select e.image, e.n, jsonb_array_length(private.document_pages(e.image)) as pages,
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
    'images_deleted_at', r.images_deleted_at
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$function$;

CREATE OR REPLACE FUNCTION public.reserve_run (
  p_report_id    uuid,
  p_lease_token  uuid,
  p_model_id     text,
  p_image_index  integer,
  p_image_pixels bigint
)
  RETURNS numeric
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _price jsonb := _report.config_snapshot -> 'model_prices' -> p_model_id;
  _limits constant jsonb := public.draft_limits();
  -- The document's pages, as paid for: the engine states their pixels as
  -- sent, never how many there are.
  _pages constant integer := jsonb_array_length(private.document_pages(
    coalesce(_report.config_snapshot -> 'upload_data' -> 'images' -> p_image_index, '{}'::jsonb)));
  _amount numeric;
begin
  if p_image_pixels is null or p_image_pixels < 0 then
    raise exception 'an image''s pixels are required' using errcode = 'PT400';
  end if;
  if jsonb_typeof(_price -> 'prompt_usd_per_mtok') is distinct from 'number'
     or jsonb_typeof(_price -> 'completion_usd_per_mtok') is distinct from 'number' then
    raise exception 'no price is known for model %', p_model_id using errcode = 'PT422';
  end if;
  if exists (select 1 from public.benchmark_runs b
              where b.report_id = p_report_id and b.model_id = p_model_id and b.image_index = p_image_index)
     or exists (select 1 from private.run_reservations r
                 where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index) then
    raise exception 'model % on image % has a result or a call in flight already', p_model_id, p_image_index
      using errcode = 'PT409';
  end if;
  _amount := private.call_worst_case(
    _price,
    private.text_token_bound(_report.extraction_prompt, _report.json_schema),
    private.image_token_bound(p_image_pixels,
      (select c.max_image_tokens from public.model_catalog c where c.id = p_model_id), _pages),
    (_limits ->> 'max_answer_tokens')::integer,
    _pages);
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _amount
       > least((_limits ->> 'soft_ceiling_usd')::numeric, (_limits ->> 'hard_ceiling_usd')::numeric) then
    return null;
  end if;
  insert into private.run_reservations (report_id, model_id, image_index, lease_token, amount, per_attempt)
  values (p_report_id, p_model_id, p_image_index, p_lease_token, _amount, _amount);
  update public.reports set cost_reserved = cost_reserved + _amount where id = p_report_id;
  return _amount;
end
$function$;

COMMENT ON FUNCTION "private"."call_worst_case"(jsonb, integer, integer, integer, integer) IS 'The most one HTTP attempt can cost at `p_price` (a snapshotted price: US dollars per million prompt and completion tokens, per image, per request), for a document of `p_pages` images whose image tokens are `p_image_tokens` in all.';

COMMENT ON FUNCTION "private"."document_pages"(jsonb) IS 'A document''s pages in order, each {path, width, height}: its `pages` when it has them (a PDF, or images added as pages), else the document''s own image as its one page (every document saved before pages existed).';

COMMENT ON FUNCTION "private"."image_token_bound"(bigint, integer, integer) IS 'Tokens of `p_pages` images of `p_pixels` in all: the model''s published maximum per image, else no vision model in use spends fewer than 196 pixels (14 x 14) on a token, plus 64 for separators per image (and 1 per image past the first for rounding each up).';

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents (each with its pages: how many, and where its first is in the report''s image_paths), figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at); only the owner learns the share token and the refund. Null for anyone else.';

COMMENT ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint) IS 'Computes one call''s worst case from the report''s prompt, schema and snapshotted price, the document''s pages (how many, from the snapshot; their pixels as sent, `p_image_pixels` in all, or the model''s max_image_tokens per page; the image price per page) and an answer of draft_limits().max_answer_tokens, reserves it and returns it; null when committed money (spent + reserved + unsettled) would pass draft_limits().soft_ceiling_usd (or the hard ceiling, were it lower): the engine names no limit of its own. PT422 for a model without a price, PT409 for a cell with a result or a reservation. Fenced by the lease (PT410).';

REVOKE ALL ON FUNCTION "private"."call_worst_case"(jsonb, integer, integer, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



REVOKE ALL ON FUNCTION "private"."document_pages"(jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";



REVOKE ALL ON FUNCTION "private"."image_token_bound"(bigint, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";


