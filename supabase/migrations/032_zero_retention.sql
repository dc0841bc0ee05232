-- zero retention (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "public"."sync_model_catalog"(jsonb, jsonb);

ALTER TABLE "public"."model_catalog"
  ADD COLUMN "zero_retention" boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION private.check_ready_draft()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
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
    if jsonb_typeof(_image -> 'path') is distinct from 'string'
       or (storage.foldername(_image ->> 'path'))[1] is distinct from new.user_id::text
       or not private.storage_name_is_safe(_image ->> 'path') then
      raise exception 'Every image must be stored under the owner''s own folder.'
        using errcode = 'check_violation', detail = left(coalesce(_image ->> 'path', 'missing path'), 200),
              hint = 'each part of the path is letters, digits, ".", "_" or "-", and is neither empty nor starts with a dot';
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

CREATE OR REPLACE FUNCTION public.sync_model_catalog (
  p_offered        jsonb,
  p_refused        jsonb  DEFAULT '[]'::jsonb,
  p_zero_retention text[] DEFAULT NULL::text[]
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _summary jsonb;
  _deactivated integer;
  _offered jsonb;
  _refused jsonb;
begin
  if jsonb_typeof(p_offered) is distinct from 'array' or jsonb_array_length(p_offered) > 5000
     or jsonb_typeof(p_refused) is distinct from 'array' or jsonb_array_length(p_refused) > 5000
     or coalesce(cardinality(p_zero_retention), 0) > 50000 then
    raise exception 'the offered and refused models are lists of at most 5,000, the zero-retention endpoints of at most 50,000'
      using errcode = 'PT400';
  end if;
  -- Each entry judged once (materialized: not re-evaluated per use).
  with entries as materialized (
    select m as model, private.catalog_entry_problem(m) as problem
      from jsonb_array_elements(p_offered) m
  )
  select coalesce(jsonb_agg(e.model) filter (where e.problem is null), '[]'::jsonb),
         p_refused || coalesce(jsonb_agg(jsonb_build_object('id', e.model ->> 'id', 'reason', e.problem))
                                 filter (where e.problem is not null), '[]'::jsonb)
    into _offered, _refused
    from entries e;
  if jsonb_array_length(_offered) = 0 then
    raise exception 'the provider lists no model that reads images with a known price: the catalog is left as it was'
      using errcode = 'PT422';
  end if;
  -- One sync at a time: two engines syncing at once write the same rows.
  perform pg_advisory_xact_lock(hashtext('modelpick.catalog_sync'));

  with incoming as (
    select distinct on (m ->> 'id')
           m ->> 'id' as id,
           left(nullif(m ->> 'canonical_slug', ''), 200) as canonical_slug,
           left(coalesce(nullif(btrim(m ->> 'display_name'), ''), m ->> 'id'), 200) as display_name,
           left(coalesce(nullif(btrim(m ->> 'provider'), ''), split_part(m ->> 'id', '/', 1)), 100) as provider,
           to_timestamp((m ->> 'created')::double precision) as provider_created_at,
           nullif((m ->> 'context_length')::integer, 0) as context_length,
           nullif((m ->> 'max_completion_tokens')::integer, 0) as max_completion_tokens,
           (m ->> 'prompt_usd_per_mtok')::numeric as prompt_usd_per_mtok,
           (m ->> 'completion_usd_per_mtok')::numeric as completion_usd_per_mtok,
           coalesce((m ->> 'image_usd')::numeric, 0) as image_usd,
           coalesce((m ->> 'request_usd')::numeric, 0) as request_usd,
           coalesce((m ->> 'takes_response_format')::boolean, false) as takes_response_format,
           coalesce((m ->> 'takes_structured_outputs')::boolean, false) as takes_structured_outputs
      from jsonb_array_elements(_offered) m
     order by m ->> 'id'
  ), before as (
    select c.* from public.model_catalog c join incoming i on i.id = c.id
  ), written as (
    insert into public.model_catalog as c
      (id, canonical_slug, display_name, provider, provider_created_at, context_length,
       max_completion_tokens, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd,
       takes_response_format, takes_structured_outputs, supports_json_schema, active, synced_at,
       inactive_reason)
    select i.id, i.canonical_slug, i.display_name, i.provider, i.provider_created_at, i.context_length,
           i.max_completion_tokens, i.prompt_usd_per_mtok, i.completion_usd_per_mtok, i.image_usd,
           i.request_usd, i.takes_response_format, i.takes_structured_outputs,
           i.takes_structured_outputs, true, now(), null
      from incoming i
    on conflict (id) do update
      set canonical_slug = excluded.canonical_slug,
          display_name = excluded.display_name,
          provider = excluded.provider,
          provider_created_at = excluded.provider_created_at,
          context_length = excluded.context_length,
          max_completion_tokens = excluded.max_completion_tokens,
          prompt_usd_per_mtok = excluded.prompt_usd_per_mtok,
          completion_usd_per_mtok = excluded.completion_usd_per_mtok,
          image_usd = excluded.image_usd,
          request_usd = excluded.request_usd,
          takes_response_format = excluded.takes_response_format,
          takes_structured_outputs = excluded.takes_structured_outputs,
          supports_json_schema = excluded.supports_json_schema,
          active = true,
          synced_at = excluded.synced_at,
          inactive_reason = null
    returning c.id
  )
  select jsonb_build_object(
           'offered', (select count(*) from written),
           'added', count(*) filter (where b.id is null),
           'reactivated', count(*) filter (where b.id is not null and not b.active),
           'repriced', count(*) filter (where b.id is not null and
             (b.prompt_usd_per_mtok, b.completion_usd_per_mtok, b.image_usd, b.request_usd)
             is distinct from
             (i.prompt_usd_per_mtok, i.completion_usd_per_mtok, i.image_usd, i.request_usd)))
    into _summary
    from incoming i left join before b on b.id = i.id;

  with refused as (
    select distinct on (r ->> 'id') r ->> 'id' as id, left(r ->> 'reason', 200) as reason
      from jsonb_array_elements(_refused) r
     order by r ->> 'id'
  ), gone as (
    update public.model_catalog c
       set active = false,
           inactive_reason = coalesce(
             (select r.reason from refused r where r.id = c.id),
             'The provider no longer lists this model.')
     where c.active
       and not exists (select 1 from jsonb_array_elements(_offered) m where m ->> 'id' = c.id)
    returning c.id
  )
  select count(*) into _deactivated from gone;

  -- Which models have an endpoint that keeps nothing, when the provider
  -- said (a listing that could not be read leaves the last answer).
  if p_zero_retention is not null then
    update public.model_catalog c
       set zero_retention = not c.zero_retention
     where c.zero_retention <> (c.id = any (p_zero_retention)
                                or coalesce(c.canonical_slug = any (p_zero_retention), false));
  end if;

  _summary := _summary || jsonb_build_object('deactivated', _deactivated,
                                             'refused', jsonb_array_length(_refused));
  insert into private.catalog_syncs (ok, summary) values (true, _summary);
  delete from private.catalog_syncs where at < now() - interval '90 days';
  return _summary;
end
$function$;


COMMENT ON FUNCTION "private"."check_ready_draft"() IS 'A ready draft''s images are under its owner''s folder, by a safe name, each with its expected JSON; its models are known, active and each chosen once, and, when it asks for zero data retention (config_data.zero_retention), each has such an endpoint.';

COMMENT ON FUNCTION "public"."sync_model_catalog"(jsonb, jsonb, text[]) IS 'Makes the catalog what the provider lists. `p_offered`: the models to offer, each {id, canonical_slug, display_name, provider, created (Unix seconds), context_length, max_completion_tokens, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd (decimal strings), takes_response_format, takes_structured_outputs}. `p_refused`: models the provider lists that cannot be offered, each {id, reason}. An offered model is added, repriced or made active again; one outside the catalog''s bounds (private.catalog_entry_problem) is refused with its reason while the rest syncs; an active model not offered becomes inactive with its reason (or "no longer listed"). An empty offer changes nothing: a provider listing no vision model with a price is broken, not a reason to withdraw every model. `p_zero_retention`: the model ids (or canonical slugs) of the provider''s zero-data-retention endpoints (OpenRouter''s GET /endpoints/zdr), which set each model''s zero_retention; null when that listing could not be read, which leaves them as they were. Returns what changed: {offered, added, repriced, reactivated, deactivated, refused}.';

REVOKE ALL ON FUNCTION "public"."sync_model_catalog"(jsonb, jsonb, text[]) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."sync_model_catalog"(jsonb, jsonb, text[]) TO "service_role";
