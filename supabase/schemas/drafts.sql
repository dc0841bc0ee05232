-- drafts.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Benchmark drafts: what a buyer prepares before paying, the limits every
-- draft is held to (draft_limits), and the worst-case estimate of what running
-- it may cost.

set check_function_bodies = off;

CREATE FUNCTION private.call_worst_case(p_price jsonb, p_text_tokens integer, p_image_tokens integer, p_max_tokens integer, p_pages integer DEFAULT 1) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select round(
    ((p_text_tokens + p_image_tokens)::numeric * (p_price ->> 'prompt_usd_per_mtok')::numeric
      + p_max_tokens::numeric * (p_price ->> 'completion_usd_per_mtok')::numeric) / 1000000
    + coalesce((p_price ->> 'image_usd')::numeric, 0) * p_pages
    + coalesce((p_price ->> 'request_usd')::numeric, 0),
    6)
$$;

COMMENT ON FUNCTION private.call_worst_case(jsonb, integer, integer, integer, integer) IS 'The most one HTTP attempt can cost at `p_price` (a snapshotted price: US dollars per million prompt and completion tokens, per image, per request), for a document of `p_pages` images whose image tokens are `p_image_tokens` in all.';

CREATE TABLE public.benchmark_drafts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    status text DEFAULT 'draft'::text NOT NULL,
    config_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    upload_data jsonb DEFAULT '{"images": []}'::jsonb NOT NULL,
    schema_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    selected_models text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT benchmark_drafts_config_data_size CHECK ((octet_length((config_data)::text) <= (16 * 1024))),
    CONSTRAINT benchmark_drafts_schema_data_size CHECK ((octet_length((schema_data)::text) <= (128 * 1024))),
    CONSTRAINT benchmark_drafts_selected_models_count CHECK ((cardinality(selected_models) <= 10)),
    CONSTRAINT benchmark_drafts_status_check CHECK ((status = ANY (ARRAY['draft'::text, 'ready'::text, 'paid'::text]))),
    CONSTRAINT benchmark_drafts_upload_data_size CHECK ((octet_length((upload_data)::text) <= ((4 * 1024) * 1024)))
);

CREATE FUNCTION private.document_pages(p_document jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select case when jsonb_typeof(p_document -> 'pages') = 'array' then p_document -> 'pages'
              else jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                     'path', p_document -> 'path', 'width', p_document -> 'width',
                     'height', p_document -> 'height')))
         end
$$;

COMMENT ON FUNCTION private.document_pages(jsonb) IS 'A document''s pages in order, each {path, width, height}: its `pages` when it has them (a PDF, or images added as pages), else the document''s own image as its one page (every document saved before pages existed).';

CREATE FUNCTION private.check_draft_limits(p_draft public.benchmark_drafts) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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
$$;

CREATE FUNCTION private.check_draft_size() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if tg_op = 'UPDATE' and private.draft_only_marked_paid(old, new) then
    return new;
  end if;
  if octet_length(new.upload_data::text) > 4 * 1024 * 1024 then
    raise exception 'The images'' expected JSON together is %; the limit is 4 MB.',
      private.human_bytes(octet_length(new.upload_data::text))
      using errcode = 'check_violation';
  end if;
  if octet_length(new.schema_data::text) > 128 * 1024 or octet_length(new.config_data::text) > 16 * 1024 then
    raise exception 'The draft''s settings are too large.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;

COMMENT ON FUNCTION private.check_draft_size() IS 'A draft''s whole upload is measured before any image is walked: the walk must never be the expensive part.';

CREATE FUNCTION private.check_expected_json(p_expected jsonb, p_what text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
declare
  _limits jsonb := public.draft_limits();
  _bytes integer := octet_length(p_expected::text);
  _shape record;
begin
  if _bytes > (_limits ->> 'max_expected_bytes')::integer then
    raise exception 'The % is %; the limit is %.', p_what, private.human_bytes(_bytes),
      private.human_bytes((_limits ->> 'max_expected_bytes')::integer)
      using errcode = 'check_violation';
  end if;
  _shape := private.json_shape(p_expected);
  if _shape.depth > (_limits ->> 'max_depth')::integer then
    raise exception 'The % nests more than % levels deep; the limit is %.', p_what,
      (_limits ->> 'max_depth')::integer, (_limits ->> 'max_depth')::integer
      using errcode = 'check_violation';
  end if;
  if _shape.longest_array > (_limits ->> 'max_array_items')::integer then
    raise exception 'A list in the % has % items; the limit is %.', p_what, _shape.longest_array,
      (_limits ->> 'max_array_items')::integer
      using errcode = 'check_violation';
  end if;
  if _shape.fields > (_limits ->> 'max_fields')::integer then
    raise exception 'The % has % fields; the limit is %.', p_what, _shape.fields,
      to_char((_limits ->> 'max_fields')::integer, 'FM9,999')
      using errcode = 'check_violation';
  end if;
end
$$;

COMMENT ON FUNCTION private.check_expected_json(jsonb, text) IS 'Refuses expected JSON the scorer could not bound; `p_what` names it in the message ("the expected JSON of image 3 (invoice.png)").';

CREATE FUNCTION private.check_open_drafts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _limit integer;
begin
  if auth.role() is distinct from 'authenticated' then
    return new;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('open-drafts:' || new.user_id::text, 0));
  _limit := (public.draft_limits() ->> 'max_open_drafts')::integer;
  if (select count(*) from public.benchmark_drafts d
       where d.user_id = new.user_id and d.status <> 'paid') >= _limit then
    raise exception 'You have % unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.',
      _limit using errcode = 'check_violation';
  end if;
  return new;
end
$$;

COMMENT ON FUNCTION private.check_open_drafts() IS 'Unfinished drafts: at most draft_limits().max_open_drafts per account, for what a user''s own session inserts (operators and the service role are not counted). Serialised per account, so that parallel inserts cannot slip past the count.';

CREATE FUNCTION private.check_ready_draft() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _page jsonb;
  _unknown text;
begin
  if tg_op = 'UPDATE' and private.draft_only_marked_paid(old, new) then
    return new;
  end if;
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
$$;

COMMENT ON FUNCTION private.check_ready_draft() IS 'A ready draft''s images are under its owner''s folder, by a safe name, each with its expected JSON; its models are known, active and each chosen once, and, when it asks for zero data retention (config_data.zero_retention), each has such an endpoint.';

CREATE FUNCTION private.draft_only_marked_paid(p_old public.benchmark_drafts, p_new public.benchmark_drafts) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select p_new.status = 'paid'
     and (p_new.user_id, p_new.config_data, p_new.upload_data, p_new.schema_data, p_new.selected_models)
         is not distinct from
         (p_old.user_id, p_old.config_data, p_old.upload_data, p_old.schema_data, p_old.selected_models)
$$;

COMMENT ON FUNCTION private.draft_only_marked_paid(public.benchmark_drafts, public.benchmark_drafts) IS 'An update that marks a draft paid and changes nothing a buyer wrote (what fulfill_checkout does): the draft was held to its limits when it was written and made ready, so paying for it neither walks it again (the costliest part of a Stripe delivery) nor fails on a limit tightened since.';

CREATE FUNCTION private.repeats_asked(p_config_data jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select coalesce((p_config_data ->> 'repeats')::numeric::integer, 1)
$$;

COMMENT ON FUNCTION private.repeats_asked(jsonb) IS 'How many times a draft (its config_data) asks each call: config_data.repeats, 1 when it says nothing (check_draft_limits holds it to 1 to draft_limits().max_repeats).';

CREATE FUNCTION private.effective_schema(p_schema_data jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select coalesce(nullif(p_schema_data -> 'userSchema', 'null'::jsonb),
                  nullif(p_schema_data -> 'inferredSchema', 'null'::jsonb))
$$;

COMMENT ON FUNCTION private.effective_schema(jsonb) IS 'The schema answers are held to: the user''s own, else the inferred one (`schema_data` is {"prompt", "userSchema", "inferredSchema"}).';

CREATE FUNCTION private.hard_ceiling_usd() RETURNS numeric
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$ select (public.draft_limits() ->> 'hard_ceiling_usd')::numeric $$;

CREATE FUNCTION private.image_pixels(p_image jsonb, p_max_side bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select case when greatest(width, height) <= p_max_side then width * height
              else ceil(width::numeric * p_max_side / greatest(width, height))::bigint
                 * ceil(height::numeric * p_max_side / greatest(width, height))::bigint end
    from (select case when stated then (p_image ->> 'width')::bigint else 2480 end as width,
                 case when stated then (p_image ->> 'height')::bigint else 3508 end as height
            -- A saved draft's sizes passed image_size_problem; this only
            -- keeps a cast from failing on anything else.
            from (select coalesce((p_image ->> 'width') ~ '^[0-9]{1,5}$'
                                  and (p_image ->> 'height') ~ '^[0-9]{1,5}$', false) as stated) s) d
$$;

COMMENT ON FUNCTION private.image_pixels(jsonb, bigint) IS 'Pixels of an image as the engine sends it, scaled so its long edge is at most p_max_side (draft_limits().send_max_side_px), from its stated size or, without one, an A4 page at 300 dpi.';

CREATE FUNCTION private.image_size_problem(p_image jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $_$
  -- A CASE's branches are tried in order, so nothing is cast before its
  -- text is known to be a short whole number.
  -- The side's limit (draft_limits().max_image_side_px) has at most 5
  -- digits, so a longer number is refused before it is cast.
  select case
    when coalesce(p_image -> 'width', 'null'::jsonb) = 'null'::jsonb
         and coalesce(p_image -> 'height', 'null'::jsonb) = 'null'::jsonb then null
    when jsonb_typeof(p_image -> 'width') is distinct from 'number'
         or jsonb_typeof(p_image -> 'height') is distinct from 'number'
      then l.rule
    when (p_image ->> 'width') !~ '^[0-9]{1,5}$' or (p_image ->> 'height') !~ '^[0-9]{1,5}$'
      then l.rule
    when (p_image ->> 'width')::integer not between 1 and l.side
         or (p_image ->> 'height')::integer not between 1 and l.side
      then l.rule
  end
  from (select side, 'must be whole numbers of pixels from 1 to ' || to_char(side, 'FM999,999') as rule
          from (select (public.draft_limits() ->> 'max_image_side_px')::integer as side) s) l
$_$;

COMMENT ON FUNCTION private.image_size_problem(jsonb) IS 'Why an image''s stated size cannot be used, or null: absent is fine (the estimate then assumes an A4 page at 300 dpi), present must be whole pixels from 1 to draft_limits().max_image_side_px.';

CREATE FUNCTION private.image_token_bound(p_pixels bigint, p_max_image_tokens integer, p_pages integer DEFAULT 1) RETURNS integer
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select coalesce(p_max_image_tokens * p_pages,
                  least(ceil(greatest(p_pixels, 0) / 196.0) + 65 * p_pages - 1, 2000000000)::integer)
$$;

COMMENT ON FUNCTION private.image_token_bound(bigint, integer, integer) IS 'Tokens of `p_pages` images of `p_pixels` in all: the model''s published maximum per image, else no vision model in use spends fewer than 196 pixels (14 x 14) on a token, plus 64 for separators per image (and 1 per image past the first for rounding each up).';

CREATE FUNCTION private.json_shape(p_value jsonb, OUT depth integer, OUT longest_array integer, OUT fields integer) RETURNS record
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  with recursive walk (v, level) as (
    select p_value, 0
    union all
    select child.v, w.level + 1
      from walk w
      cross join lateral (
        select e.value from jsonb_each(case when jsonb_typeof(w.v) = 'object' then w.v else '{}'::jsonb end) e
        union all
        select a.value from jsonb_array_elements(case when jsonb_typeof(w.v) = 'array' then w.v else '[]'::jsonb end) a
      ) as child (v)
     where w.level <= 16
  )
  select coalesce(max(level + case when v in ('{}'::jsonb, '[]'::jsonb) or jsonb_typeof(v) not in ('object', 'array')
                                   then 0 else 1 end), 0)::integer,
         coalesce(max(case when jsonb_typeof(v) = 'array' then jsonb_array_length(v) end), 0)::integer,
         (count(*) filter (where v in ('{}'::jsonb, '[]'::jsonb) or jsonb_typeof(v) not in ('object', 'array')))::integer
    from walk
$$;

COMMENT ON FUNCTION private.json_shape(jsonb) IS 'The shape of a JSON value, as the scorer sees it: how deep containers nest (a scalar is 0, {"a": 1} is 1), the longest array, and the fields (scalars and empty containers). The walk stops one level past the deepest allowed, so a value nested a million deep costs no more than one nested 17 deep.';

CREATE FUNCTION private.text_token_bound(p_prompt text, p_schema jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select octet_length(coalesce(p_prompt, '')) + octet_length(coalesce(p_schema::text, '')) + 512
$$;

COMMENT ON FUNCTION private.text_token_bound(text, jsonb) IS 'Tokens of the text a call sends: a token is never shorter than one byte, so the bytes of the prompt and the schema, and of the instructions and message framing around them, bound it.';

CREATE FUNCTION public.draft_limits() RETURNS jsonb
    LANGUAGE sql IMMUTABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.draft_limits() IS 'The limits every draft is held to, each account''s (unfinished drafts, stored images, checkouts an hour), and what the product promises beside them (the ceilings, the longest answer a call asks for, the largest image a provider is sent: send_max_side_px on its long edge, send_max_image_bytes encoded; how many times one report may be scored again: max_scorings_per_report; how many times a draft may ask each call: max_repeats): the database enforces them from here, and the wizard and the engine read them here.';

CREATE FUNCTION public.estimate_draft_cost(p_draft_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.estimate_draft_cost(uuid) IS 'The owner''s draft''s worst case (every call at its worst, by reserve_run''s formula, each as many times as config_data.repeats asks), and the ceilings it is held to.';

ALTER TABLE ONLY public.benchmark_drafts
    ADD CONSTRAINT benchmark_drafts_pkey PRIMARY KEY (id);

CREATE INDEX benchmark_drafts_user_id_idx ON public.benchmark_drafts USING btree (user_id);

CREATE TRIGGER benchmark_drafts_a_size BEFORE INSERT OR UPDATE ON public.benchmark_drafts FOR EACH ROW EXECUTE FUNCTION private.check_draft_size();

CREATE TRIGGER benchmark_drafts_b_open_drafts BEFORE INSERT ON public.benchmark_drafts FOR EACH ROW EXECUTE FUNCTION private.check_open_drafts();

CREATE TRIGGER benchmark_drafts_check_ready BEFORE INSERT OR UPDATE ON public.benchmark_drafts FOR EACH ROW EXECUTE FUNCTION private.check_ready_draft();

CREATE TRIGGER benchmark_drafts_updated_at BEFORE UPDATE ON public.benchmark_drafts FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

ALTER TABLE ONLY public.benchmark_drafts
    ADD CONSTRAINT benchmark_drafts_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

CREATE POLICY "Owners change their drafts until paid" ON public.benchmark_drafts FOR UPDATE TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) AND (status <> 'paid'::text))) WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (status = ANY (ARRAY['draft'::text, 'ready'::text]))));

CREATE POLICY "Owners create unpaid drafts" ON public.benchmark_drafts FOR INSERT TO authenticated WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (status = ANY (ARRAY['draft'::text, 'ready'::text]))));

CREATE POLICY "Owners delete their drafts until paid" ON public.benchmark_drafts FOR DELETE TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) AND (status <> 'paid'::text)));

CREATE POLICY "Owners read their drafts" ON public.benchmark_drafts FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

ALTER TABLE public.benchmark_drafts ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON FUNCTION private.call_worst_case(p_price jsonb, p_text_tokens integer, p_image_tokens integer, p_max_tokens integer, p_pages integer) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON TABLE public.benchmark_drafts FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT,DELETE ON TABLE public.benchmark_drafts TO authenticated;

GRANT INSERT(status),UPDATE(status) ON TABLE public.benchmark_drafts TO authenticated;

GRANT INSERT(config_data),UPDATE(config_data) ON TABLE public.benchmark_drafts TO authenticated;

GRANT INSERT(upload_data),UPDATE(upload_data) ON TABLE public.benchmark_drafts TO authenticated;

GRANT INSERT(schema_data),UPDATE(schema_data) ON TABLE public.benchmark_drafts TO authenticated;

GRANT INSERT(selected_models),UPDATE(selected_models) ON TABLE public.benchmark_drafts TO authenticated;

REVOKE ALL ON FUNCTION private.check_draft_limits(p_draft public.benchmark_drafts) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.check_draft_size() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.check_expected_json(p_expected jsonb, p_what text) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.check_open_drafts() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.check_ready_draft() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.draft_only_marked_paid(p_old public.benchmark_drafts, p_new public.benchmark_drafts) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.effective_schema(p_schema_data jsonb) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.repeats_asked(p_config_data jsonb) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.hard_ceiling_usd() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.image_pixels(p_image jsonb, p_max_side bigint) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.image_size_problem(p_image jsonb) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.image_token_bound(p_pixels bigint, p_max_image_tokens integer, p_pages integer) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.json_shape(p_value jsonb, OUT depth integer, OUT longest_array integer, OUT fields integer) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.text_token_bound(p_prompt text, p_schema jsonb) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.draft_limits() FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.draft_limits() TO authenticated;
GRANT ALL ON FUNCTION public.draft_limits() TO service_role;

REVOKE ALL ON FUNCTION public.estimate_draft_cost(p_draft_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.estimate_draft_cost(p_draft_id uuid) TO authenticated;
GRANT ALL ON FUNCTION public.estimate_draft_cost(p_draft_id uuid) TO service_role;
