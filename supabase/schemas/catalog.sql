-- catalog.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- The model catalog: the models a draft may choose, their prices over time,
-- and the sync that keeps them what the provider lists.

set check_function_bodies = off;

CREATE FUNCTION private.catalog_entry_problem(p_model jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
declare
  _decimal constant text := '^[0-9]{1,20}(\.[0-9]{1,30})?$';
  _count constant text := '^[0-9]{1,10}$';
begin
  if jsonb_typeof(p_model) is distinct from 'object'
     or coalesce(p_model ->> 'id', '') !~ '^[A-Za-z0-9][A-Za-z0-9._:/~@+-]{0,199}$' then
    return 'The provider''s id for this model is not one we can use.';
  end if;
  if coalesce(p_model ->> 'prompt_usd_per_mtok', '') !~ _decimal
     or coalesce(p_model ->> 'completion_usd_per_mtok', '') !~ _decimal
     or coalesce(p_model ->> 'image_usd', '0') !~ _decimal
     or coalesce(p_model ->> 'request_usd', '0') !~ _decimal then
    return 'The provider gives no fixed price for this model.';
  end if;
  -- When the provider added it: Unix seconds, at most in the year 9999.
  if coalesce(p_model -> 'created', 'null') <> 'null'
     and ((p_model ->> 'created') !~ '^[0-9]{1,12}$' or (p_model ->> 'created')::bigint > 253402300799) then
    return 'The provider''s date for this model is not a date we can use.';
  end if;
  if (coalesce(p_model -> 'context_length', 'null') <> 'null'
      and ((p_model ->> 'context_length') !~ _count or (p_model ->> 'context_length')::bigint > 2147483647))
     or (coalesce(p_model -> 'max_completion_tokens', 'null') <> 'null'
      and ((p_model ->> 'max_completion_tokens') !~ _count or (p_model ->> 'max_completion_tokens')::bigint > 2147483647)) then
    return 'The provider''s token counts for this model are not ones we can use.';
  end if;
  return private.catalog_price_problem(
    (p_model ->> 'prompt_usd_per_mtok')::numeric,
    (p_model ->> 'completion_usd_per_mtok')::numeric,
    coalesce((p_model ->> 'image_usd')::numeric, 0),
    coalesce((p_model ->> 'request_usd')::numeric, 0));
end
$_$;

COMMENT ON FUNCTION private.catalog_entry_problem(jsonb) IS 'Why an entry of sync_model_catalog''s offer cannot be offered, or null. Nothing here casts text it has not checked, so one odd entry is a reason, never an error that stops the sync.';

CREATE FUNCTION private.catalog_price_problem(p_prompt_usd_per_mtok numeric, p_completion_usd_per_mtok numeric, p_image_usd numeric, p_request_usd numeric) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $_$
  select case
    when p_prompt_usd_per_mtok is null or p_completion_usd_per_mtok is null
         or p_image_usd is null or p_request_usd is null
      then 'The provider gives no fixed price for this model.'
    when least(p_prompt_usd_per_mtok, p_completion_usd_per_mtok, p_image_usd, p_request_usd) < 0
      then 'The provider gives no fixed price for this model.'
    when p_prompt_usd_per_mtok >= 1000000 or p_completion_usd_per_mtok >= 1000000
         or p_image_usd >= 1000 or p_request_usd >= 1000
      then 'The provider''s price for this model is past what we accept ($1 a token, $1,000 an image or request).'
  end
$_$;

COMMENT ON FUNCTION private.catalog_price_problem(numeric, numeric, numeric, numeric) IS 'Why these prices cannot be stored, or null: every price known and not negative, a token under $1 (a million tokens under $1,000,000), an image or a request under $1,000.';

CREATE FUNCTION private.record_model_price() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if tg_op = 'INSERT'
     or (new.prompt_usd_per_mtok, new.completion_usd_per_mtok, new.image_usd, new.request_usd)
        is distinct from
        (old.prompt_usd_per_mtok, old.completion_usd_per_mtok, old.image_usd, old.request_usd) then
    insert into public.model_price_history
      (model_id, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd)
    values (new.id, new.prompt_usd_per_mtok, new.completion_usd_per_mtok, new.image_usd, new.request_usd);
  end if;
  return null;
end
$$;

CREATE FUNCTION public.catalog_sync_due(p_every interval) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select not exists (select 1 from public.model_catalog where active)
      or coalesce((select max(at) from private.catalog_syncs where ok), '-infinity') <= now() - p_every
$$;

COMMENT ON FUNCTION public.catalog_sync_due(interval) IS 'Whether the engine should sync now: the catalog offers nothing yet, or the last sync that worked is older than `p_every`. Failed syncs are retried by the engine on its own backoff.';

CREATE FUNCTION public.record_catalog_sync_failure(p_error text) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  insert into private.catalog_syncs (ok, error) values (false, left(p_error, 2000));
  select private.raise_operator_alert('catalog_sync', to_char(now() at time zone 'utc', 'YYYY-MM-DD'),
           format('The model catalog has not synced since %s: its prices may be stale. Last error: %s',
                  coalesce((select max(at)::text from private.catalog_syncs where ok), 'it was set up'),
                  left(p_error, 500)))
   where not exists (select 1 from private.catalog_syncs
                      where ok and at > now() - interval '1 day');
$$;

COMMENT ON FUNCTION public.record_catalog_sync_failure(text) IS 'Keeps a sync that failed for an operator (the catalog was left as it was); when no sync has worked for a day, an operator is alerted (once a day).';

CREATE FUNCTION public.sync_model_catalog(p_offered jsonb, p_refused jsonb DEFAULT '[]'::jsonb, p_zero_retention text[] DEFAULT NULL::text[]) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
$$;

COMMENT ON FUNCTION public.sync_model_catalog(jsonb, jsonb, text[]) IS 'Makes the catalog what the provider lists. `p_offered`: the models to offer, each {id, canonical_slug, display_name, provider, created (Unix seconds), context_length, max_completion_tokens, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd (decimal strings), takes_response_format, takes_structured_outputs}. `p_refused`: models the provider lists that cannot be offered, each {id, reason}. An offered model is added, repriced or made active again; one outside the catalog''s bounds (private.catalog_entry_problem) is refused with its reason while the rest syncs; an active model not offered becomes inactive with its reason (or "no longer listed"). An empty offer changes nothing: a provider listing no vision model with a price is broken, not a reason to withdraw every model. `p_zero_retention`: the model ids (or canonical slugs) of the provider''s zero-data-retention endpoints (OpenRouter''s GET /endpoints/zdr), which set each model''s zero_retention; null when that listing could not be read, which leaves them as they were. Returns what changed: {offered, added, repriced, reactivated, deactivated, refused}.';

CREATE TABLE private.catalog_syncs (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    ok boolean NOT NULL,
    summary jsonb,
    error text,
    CONSTRAINT catalog_syncs_error_check CHECK ((length(error) <= 2000))
);

COMMENT ON TABLE private.catalog_syncs IS 'Each sync, kept 90 days for an operator: when, whether it worked, what it changed or why it failed.';

ALTER TABLE private.catalog_syncs ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME private.catalog_syncs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.model_catalog (
    id text NOT NULL,
    display_name text NOT NULL,
    provider text NOT NULL,
    prompt_usd_per_mtok numeric NOT NULL,
    completion_usd_per_mtok numeric NOT NULL,
    image_usd numeric DEFAULT 0 NOT NULL,
    request_usd numeric DEFAULT 0 NOT NULL,
    supports_json_schema boolean DEFAULT false NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    max_image_tokens integer,
    canonical_slug text,
    provider_created_at timestamp with time zone,
    context_length integer,
    max_completion_tokens integer,
    takes_response_format boolean DEFAULT false NOT NULL,
    takes_structured_outputs boolean DEFAULT false NOT NULL,
    synced_at timestamp with time zone,
    inactive_reason text,
    zero_retention boolean DEFAULT false NOT NULL,
    CONSTRAINT model_catalog_canonical_slug_check CHECK ((length(canonical_slug) <= 200)),
    CONSTRAINT model_catalog_completion_usd_per_mtok_check CHECK ((completion_usd_per_mtok >= (0)::numeric)),
    CONSTRAINT model_catalog_context_length_check CHECK ((context_length > 0)),
    CONSTRAINT model_catalog_image_usd_check CHECK ((image_usd >= (0)::numeric)),
    CONSTRAINT model_catalog_inactive_reason_check CHECK ((length(inactive_reason) <= 200)),
    CONSTRAINT model_catalog_max_completion_tokens_check CHECK ((max_completion_tokens > 0)),
    CONSTRAINT model_catalog_max_image_tokens_check CHECK ((max_image_tokens > 0)),
    CONSTRAINT model_catalog_prices_bounded CHECK ((private.catalog_price_problem(prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd) IS NULL)),
    CONSTRAINT model_catalog_prompt_usd_per_mtok_check CHECK ((prompt_usd_per_mtok >= (0)::numeric)),
    CONSTRAINT model_catalog_request_usd_check CHECK ((request_usd >= (0)::numeric))
);

CREATE TABLE public.model_price_history (
    id bigint NOT NULL,
    model_id text NOT NULL,
    prompt_usd_per_mtok numeric NOT NULL,
    completion_usd_per_mtok numeric NOT NULL,
    image_usd numeric NOT NULL,
    request_usd numeric NOT NULL,
    valid_from timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE public.model_price_history IS 'Every price a model has had, from when it took effect.';

ALTER TABLE public.model_price_history ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.model_price_history_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

ALTER TABLE ONLY private.catalog_syncs
    ADD CONSTRAINT catalog_syncs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.model_catalog
    ADD CONSTRAINT model_catalog_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.model_price_history
    ADD CONSTRAINT model_price_history_pkey PRIMARY KEY (id);

CREATE INDEX catalog_syncs_at ON private.catalog_syncs USING btree (at DESC);

CREATE INDEX model_price_history_model_time ON public.model_price_history USING btree (model_id, valid_from DESC);

CREATE TRIGGER model_catalog_price_history AFTER INSERT OR UPDATE OF prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd ON public.model_catalog FOR EACH ROW EXECUTE FUNCTION private.record_model_price();

CREATE TRIGGER model_catalog_updated_at BEFORE UPDATE ON public.model_catalog FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

ALTER TABLE ONLY public.model_price_history
    ADD CONSTRAINT model_price_history_model_id_fkey FOREIGN KEY (model_id) REFERENCES public.model_catalog(id);

CREATE POLICY "Anyone can read the model catalog" ON public.model_catalog FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY "Signed-in users can read what models cost over time" ON public.model_price_history FOR SELECT TO authenticated USING (true);

ALTER TABLE public.model_catalog ENABLE ROW LEVEL SECURITY;

ALTER TABLE public.model_price_history ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON FUNCTION private.catalog_entry_problem(p_model jsonb) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.catalog_price_problem(p_prompt_usd_per_mtok numeric, p_completion_usd_per_mtok numeric, p_image_usd numeric, p_request_usd numeric) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.record_model_price() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.catalog_sync_due(p_every interval) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.catalog_sync_due(p_every interval) TO service_role;

REVOKE ALL ON FUNCTION public.record_catalog_sync_failure(p_error text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_catalog_sync_failure(p_error text) TO service_role;

REVOKE ALL ON FUNCTION public.sync_model_catalog(p_offered jsonb, p_refused jsonb, p_zero_retention text[]) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.sync_model_catalog(p_offered jsonb, p_refused jsonb, p_zero_retention text[]) TO service_role;

REVOKE ALL ON TABLE public.model_catalog FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.model_catalog TO anon;
GRANT SELECT ON TABLE public.model_catalog TO authenticated;

REVOKE ALL ON TABLE public.model_price_history FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.model_price_history TO authenticated;

REVOKE ALL ON TABLE private.catalog_syncs FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE private.catalog_syncs_id_seq FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.model_price_history_id_seq FROM PUBLIC, anon, authenticated, service_role;
