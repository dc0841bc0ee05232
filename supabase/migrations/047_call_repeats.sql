-- call repeats (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

ALTER TABLE "private"."run_reservations"
  DROP CONSTRAINT "run_reservations_pkey";

ALTER TABLE "public"."benchmark_runs"
  DROP CONSTRAINT "benchmark_runs_one_call_per_cell";

DROP FUNCTION "public"."read_report_runs"(uuid, text);

DROP FUNCTION "public"."release_reservation"(uuid, uuid, text, integer);

DROP FUNCTION "public"."reserve_retry"(uuid, uuid, text, integer);

DROP FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint);

ALTER TABLE "private"."run_reservations"
  ADD COLUMN "repeat" integer NOT NULL DEFAULT 0;

ALTER TABLE "public"."benchmark_runs"
  ADD COLUMN "repeat" integer NOT NULL DEFAULT 0;

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
  if jsonb_typeof(p_draft.config_data -> 'repeats') not in ('number', 'null')
     or (p_draft.config_data ->> 'repeats')::numeric not in (select generate_series(1, (_limits ->> 'max_repeats')::integer)) then
    raise exception 'config_data.repeats asks each call 1 to % times; it is %.',
      (_limits ->> 'max_repeats')::integer, left((p_draft.config_data -> 'repeats')::text, 40)
      using errcode = 'check_violation';
  end if;
end
$function$;

CREATE OR REPLACE FUNCTION private.repeats_asked (
  p_config_data jsonb
)
  RETURNS integer
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select coalesce((p_config_data ->> 'repeats')::numeric::integer, 1)
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
    'max_scorings_per_report', 20,
    'max_repeats', 3
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
  _repeats integer;
begin
  select * into _draft from public.benchmark_drafts d
   where d.id = p_draft_id and (d.user_id = auth.uid() or auth.role() = 'service_role');
  if not found then
    raise exception 'no draft % among yours', p_draft_id using errcode = 'PT404';
  end if;
  _repeats := private.repeats_asked(_draft.config_data);
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
  select coalesce(jsonb_object_agg(p.id, round(p.worst * _repeats, 6)), '{}'::jsonb), coalesce(sum(p.worst), 0) * _repeats
    into _models, _total
    from per_model p;
  return jsonb_build_object(
    'calls', jsonb_array_length(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) * cardinality(_draft.selected_models) * _repeats,
    'repeats', _repeats,
    'worst_case_usd', round(_total, 6),
    'worst_case_by_model_usd', _models,
    'soft_ceiling_usd', (_limits ->> 'soft_ceiling_usd')::numeric,
    'hard_ceiling_usd', (_limits ->> 'hard_ceiling_usd')::numeric,
    'may_stop_at_ceiling', _total > (_limits ->> 'soft_ceiling_usd')::numeric
  );
end
$function$;

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
                                               'repeat', b.repeat,
                                               'answer', b.output_json, 'passed', b.passed,
                                               'fields_total', b.fields_total,
                                               'fields_matched', b.fields_matched,
                                               'differences', b.field_diffs, 'error', b.error,
                                               'response_time_ms', b.response_time_ms,
                                               'cost_usd', b.cost, 'at', b.created_at)
                                             order by b.image_index, b.model_id, b.repeat)
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

CREATE OR REPLACE FUNCTION public.fulfill_checkout (
  p_stripe_session_id text,
  p_draft_id          uuid,
  p_user_id           uuid,
  p_amount_total      integer DEFAULT NULL::integer,
  p_currency          text    DEFAULT NULL::text,
  p_payment_intent    text    DEFAULT NULL::text
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
        * private.repeats_asked(_draft.config_data)
    on conflict (stripe_session_id) do nothing
    returning id into _report_id;

    if _report_id is not null then
      update public.benchmark_drafts set status = 'paid' where id = _draft.id;
      update public.checkout_sessions s
         set amount_total = coalesce(p_amount_total, s.amount_total),
             currency = coalesce(p_currency, s.currency),
             payment_intent_id = coalesce(nullif(btrim(p_payment_intent), ''), s.payment_intent_id)
       where s.stripe_session_id = p_stripe_session_id;
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
    unavailable       boolean,
    repeat            integer
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select b.model_id, b.image_index, b.output_json, b.response_time_ms, b.prompt_tokens,
         b.completion_tokens, b.total_tokens, b.cost, b.passed, b.field_diffs, b.fields_total,
         b.fields_matched, b.error, b.unavailable, b.repeat
    from public.benchmark_runs b
   where b.report_id = p_report_id
     and private.readable_report(p_report_id, p_share_token)
   order by b.image_index, b.model_id, b.repeat
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
  _repeat integer := coalesce((p_run ->> 'repeat')::integer, 0);
  _at_worst integer := coalesce((p_run ->> 'attempts_at_worst_case')::integer, 0);
  _reserved numeric;
  _per_attempt numeric;
  _cost numeric;
  _inserted boolean;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = _model and r.image_index = _image
     and r.repeat = _repeat
  returning r.amount, r.per_attempt into _reserved, _per_attempt;
  _cost := coalesce((p_run ->> 'cost')::numeric, 0) + _at_worst * coalesce(_per_attempt, 0);

  insert into public.benchmark_runs (
    report_id, model_id, image_index, output_json, response_time_ms, prompt_tokens,
    completion_tokens, total_tokens, cost, passed, field_diffs, fields_total, fields_matched, error,
    attempts, attempts_at_worst_case, unavailable, repeat
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
    coalesce((p_run ->> 'unavailable')::boolean, false),
    _repeat
  )
  on conflict (report_id, model_id, image_index, repeat) do nothing
  returning true into _inserted;

  update public.reports
     set cost_reserved = greatest(cost_reserved - coalesce(_reserved, 0), 0),
         cost_spent = cost_spent + case when _inserted then _cost else 0 end,
         runs_done = runs_done + case when _inserted then 1 else 0 end
   where id = p_report_id;
  return coalesce(_inserted, false);
end
$function$;

CREATE OR REPLACE FUNCTION public.release_reservation (
  p_report_id   uuid,
  p_lease_token uuid,
  p_model_id    text,
  p_image_index integer,
  p_repeat      integer DEFAULT 0
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _amount numeric;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat and r.lease_token = p_lease_token
  returning r.amount into _amount;
  if _amount is null then
    return false;
  end if;
  update public.reports set cost_reserved = greatest(cost_reserved - _amount, 0) where id = p_report_id;
  return true;
end
$function$;


CREATE OR REPLACE FUNCTION public.reserve_retry (
  p_report_id   uuid,
  p_lease_token uuid,
  p_model_id    text,
  p_image_index integer,
  p_repeat      integer DEFAULT 0
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _per_attempt numeric;
begin
  select r.per_attempt into _per_attempt
    from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat;
  if not found then
    raise exception 'model % on image % has no call in flight', p_model_id, p_image_index using errcode = 'PT404';
  end if;
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _per_attempt > private.hard_ceiling_usd() then
    return false;
  end if;
  update private.run_reservations r
     set amount = r.amount + _per_attempt, attempts = r.attempts + 1
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat;
  update public.reports set cost_reserved = cost_reserved + _per_attempt where id = p_report_id;
  return true;
end
$function$;


CREATE OR REPLACE FUNCTION public.reserve_run (
  p_report_id    uuid,
  p_lease_token  uuid,
  p_model_id     text,
  p_image_index  integer,
  p_image_pixels bigint,
  p_repeat       integer DEFAULT 0
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
  if p_repeat is null or p_repeat < 0
     or p_repeat >= private.repeats_asked(_report.config_snapshot -> 'config_data') then
    raise exception 'this report asks each call % times; repeat % is not one of them',
      private.repeats_asked(_report.config_snapshot -> 'config_data'), p_repeat using errcode = 'PT400';
  end if;
  if jsonb_typeof(_price -> 'prompt_usd_per_mtok') is distinct from 'number'
     or jsonb_typeof(_price -> 'completion_usd_per_mtok') is distinct from 'number' then
    raise exception 'no price is known for model %', p_model_id using errcode = 'PT422';
  end if;
  if exists (select 1 from public.benchmark_runs b
              where b.report_id = p_report_id and b.model_id = p_model_id and b.image_index = p_image_index
                and b.repeat = p_repeat)
     or exists (select 1 from private.run_reservations r
                 where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
                   and r.repeat = p_repeat) then
    raise exception 'model % on image % (repeat %) has a result or a call in flight already',
      p_model_id, p_image_index, p_repeat using errcode = 'PT409';
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
  insert into private.run_reservations (report_id, model_id, image_index, repeat, lease_token, amount, per_attempt)
  values (p_report_id, p_model_id, p_image_index, p_repeat, p_lease_token, _amount, _amount);
  update public.reports set cost_reserved = cost_reserved + _amount where id = p_report_id;
  return _amount;
end
$function$;


CREATE OR REPLACE FUNCTION public.reserve_runs (
  p_report_id   uuid,
  p_lease_token uuid,
  p_cells       jsonb
)
  RETURNS TABLE (
    model_id    text,
    image_index integer,
    amount      numeric
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _cell jsonb;
begin
  if jsonb_typeof(p_cells) is distinct from 'array' or jsonb_array_length(p_cells) > 20 then
    raise exception 'cells are a list of at most 20' using errcode = 'PT400';
  end if;
  for _cell in select c from jsonb_array_elements(p_cells) c loop
    model_id := _cell ->> 'model_id';
    image_index := (_cell ->> 'image_index')::integer;
    amount := public.reserve_run(p_report_id, p_lease_token, model_id, image_index,
                                 (_cell ->> 'image_pixels')::bigint,
                                 coalesce((_cell ->> 'repeat')::integer, 0));
    return next;
    exit when amount is null;
  end loop;
end
$function$;

ALTER TABLE "private"."run_reservations"
  ADD CONSTRAINT "run_reservations_pkey" PRIMARY KEY (report_id, model_id, image_index, repeat);

ALTER TABLE "public"."benchmark_runs"
  ADD CONSTRAINT "benchmark_runs_one_call_per_cell" UNIQUE (report_id, model_id, image_index, repeat);

ALTER TABLE "public"."benchmark_runs"
  ADD CONSTRAINT "benchmark_runs_repeat_check" CHECK ((repeat >= 0));

COMMENT ON FUNCTION "private"."repeats_asked"(jsonb) IS 'How many times a draft (its config_data) asks each call: config_data.repeats, 1 when it says nothing (check_draft_limits holds it to 1 to draft_limits().max_repeats).';

COMMENT ON FUNCTION "public"."draft_limits"() IS 'The limits every draft is held to, each account''s (unfinished drafts, stored images, checkouts an hour), and what the product promises beside them (the ceilings, the longest answer a call asks for, the largest image a provider is sent: send_max_side_px on its long edge, send_max_image_bytes encoded; how many times one report may be scored again: max_scorings_per_report; how many times a draft may ask each call: max_repeats): the database enforces them from here, and the wizard and the engine read them here.';

COMMENT ON FUNCTION "public"."estimate_draft_cost"(uuid) IS 'The owner''s draft''s worst case (every call at its worst, by reserve_run''s formula, each as many times as config_data.repeats asks), and the ceilings it is held to.';

COMMENT ON FUNCTION "public"."read_report_runs"(uuid, text) IS 'Every call of the report, for the same readers; `unavailable` marks a call no endpoint of its model would take under the report''s data policy (its reason in `error`); `repeat` numbers a call''s answers (0, 1, 2) when the report asked each call more than once.';

COMMENT ON FUNCTION "public"."record_run"(uuid, uuid, jsonb) IS 'Records a call''s result in place of its reservation. Its cost is what the provider reported (`cost`) plus the worst case of every attempt whose outcome is unknown (`attempts_at_worst_case`). Idempotent per call (model, document and `repeat`, 0 unless the report asks each call more than once).';

COMMENT ON FUNCTION "public"."release_reservation"(uuid, uuid, text, integer, integer) IS 'Gives back the reservation of a call that will never be sent. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_retry"(uuid, uuid, text, integer, integer) IS 'Another worst case for a retry after a possibly billed attempt, within the hard ceiling only: false means do not send it. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint, integer) IS 'Computes one call''s worst case from the report''s prompt, schema and snapshotted price, the document''s pages (how many, from the snapshot; their pixels as sent, `p_image_pixels` in all, or the model''s max_image_tokens per page; the image price per page) and an answer of draft_limits().max_answer_tokens, reserves it and returns it; null when committed money (spent + reserved + unsettled) would pass draft_limits().soft_ceiling_usd (or the hard ceiling, were it lower): the engine names no limit of its own. PT422 for a model without a price, PT400 for a `p_repeat` the report does not ask for (0 up to its repeats, less one), PT409 for a call with a result or a reservation. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb) IS 'Reserves the cells of `p_cells` ([{model_id, image_index, image_pixels, repeat}], at most 20; repeat 0 when left out) in order, each as reserve_run would, and stops at the first the money does not allow: that one comes back with a null amount and nothing after it is reserved.';

REVOKE ALL ON FUNCTION "private"."repeats_asked"(jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";



REVOKE ALL ON FUNCTION "public"."read_report_runs"(uuid, text) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."read_report_runs"(uuid, text) TO "anon", "authenticated";



REVOKE ALL ON FUNCTION "public"."release_reservation"(uuid, uuid, text, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."release_reservation"(uuid, uuid, text, integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."reserve_retry"(uuid, uuid, text, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."reserve_retry"(uuid, uuid, text, integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint, integer) TO "service_role";
