-- The catalog follows the provider's models API (`modelpick catalog sync`,
-- src/engine/catalog/): a model is offered while the provider lists it as
-- reading images with a known prompt and completion price, and kept as
-- inactive when it stops (old reports name it; their prices are their own
-- snapshot). Every price a model has had is kept with the time it took
-- effect.

-- Prices exactly as the provider states them: per-token prices of a
-- millionth of a cent exist, and an image can cost $0.0000258.
alter table public.model_catalog
  alter column prompt_usd_per_mtok type numeric,
  alter column completion_usd_per_mtok type numeric,
  alter column image_usd type numeric,
  alter column request_usd type numeric,
  add constraint model_catalog_prices_bounded check (
    prompt_usd_per_mtok < 1000000 and completion_usd_per_mtok < 1000000
    and image_usd < 1000 and request_usd < 1000),
  -- The provider's permanent name for the model, which outlives `id`.
  add column canonical_slug text check (length(canonical_slug) <= 200),
  -- When the provider added the model (the wizard marks models of the
  -- last 30 days as new).
  add column provider_created_at timestamptz,
  add column context_length integer check (context_length > 0),
  add column max_completion_tokens integer check (max_completion_tokens > 0),
  -- Which of OpenRouter's `supported_parameters` it takes.
  add column takes_response_format boolean not null default false,
  add column takes_structured_outputs boolean not null default false,
  -- When the provider last listed it as offered.
  add column synced_at timestamptz,
  -- Why an inactive model is no longer offered, in words.
  add column inactive_reason text check (length(inactive_reason) <= 200);

-- The launch models as the provider describes them (007 typed them in).
update public.model_catalog
   set takes_response_format = supports_json_schema,
       takes_structured_outputs = supports_json_schema;

-- Every price a model has had, from when it took effect.
create table public.model_price_history (
  id bigint generated always as identity primary key,
  model_id text not null references public.model_catalog (id),
  prompt_usd_per_mtok numeric not null,
  completion_usd_per_mtok numeric not null,
  image_usd numeric not null,
  request_usd numeric not null,
  valid_from timestamptz not null default now()
);
create index model_price_history_model_time on public.model_price_history (model_id, valid_from desc);

alter table public.model_price_history enable row level security;
create policy "Signed-in users can read what models cost over time"
  on public.model_price_history for select
  to authenticated
  using (true);
revoke all on table public.model_price_history from public, anon, authenticated, service_role;
revoke all on sequence public.model_price_history_id_seq from public, anon, authenticated, service_role;
grant select on table public.model_price_history to authenticated;

insert into public.model_price_history
  (model_id, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd, valid_from)
select id, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd, created_at
  from public.model_catalog;

create or replace function private.record_model_price()
returns trigger
language plpgsql
set search_path = ''
as $$
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
revoke all on function private.record_model_price() from public, anon, authenticated, service_role;

create trigger model_catalog_price_history
  after insert or update of prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd
  on public.model_catalog
  for each row execute function private.record_model_price();

-- Each sync, kept 90 days for an operator: when, whether it worked, what
-- it changed or why it failed.
create table private.catalog_syncs (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  ok boolean not null,
  summary jsonb,
  error text check (length(error) <= 2000)
);
create index catalog_syncs_at on private.catalog_syncs (at desc);
revoke all on table private.catalog_syncs from public, anon, authenticated, service_role;
revoke all on sequence private.catalog_syncs_id_seq from public, anon, authenticated, service_role;

-- Makes the catalog what the provider lists. `p_offered`: the models to
-- offer, each {id, canonical_slug, display_name, provider, created (Unix
-- seconds), context_length, max_completion_tokens, prompt_usd_per_mtok,
-- completion_usd_per_mtok, image_usd, request_usd (decimal strings),
-- takes_response_format, takes_structured_outputs}. `p_refused`: models
-- the provider lists that cannot be offered, each {id, reason}. An offered
-- model is added, repriced or made active again; an active model not
-- offered becomes inactive with its reason (or "no longer listed"). An
-- empty offer changes nothing: a provider listing no vision model with a
-- price is broken, not a reason to withdraw every model.
create or replace function public.sync_model_catalog(p_offered jsonb, p_refused jsonb default '[]')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _summary jsonb;
  _deactivated integer;
begin
  if jsonb_typeof(p_offered) is distinct from 'array' or jsonb_array_length(p_offered) > 5000
     or jsonb_typeof(p_refused) is distinct from 'array' or jsonb_array_length(p_refused) > 5000 then
    raise exception 'the offered and refused models are lists of at most 5,000' using errcode = 'PT400';
  end if;
  if jsonb_array_length(p_offered) = 0 then
    raise exception 'the provider lists no model that reads images with a known price: the catalog is left as it was'
      using errcode = 'PT422';
  end if;
  if exists (select 1 from jsonb_array_elements(p_offered) m
              where coalesce(m ->> 'id', '') !~ '^[A-Za-z0-9][A-Za-z0-9._:/~@+-]{0,199}$') then
    raise exception 'a model id is empty, too long or has characters we do not use' using errcode = 'PT400';
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
      from jsonb_array_elements(p_offered) m
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
      from jsonb_array_elements(p_refused) r
     order by r ->> 'id'
  ), gone as (
    update public.model_catalog c
       set active = false,
           inactive_reason = coalesce(
             (select r.reason from refused r where r.id = c.id),
             'The provider no longer lists this model.')
     where c.active
       and not exists (select 1 from jsonb_array_elements(p_offered) m where m ->> 'id' = c.id)
    returning c.id
  )
  select count(*) into _deactivated from gone;

  _summary := _summary || jsonb_build_object('deactivated', _deactivated,
                                             'refused', jsonb_array_length(p_refused));
  insert into private.catalog_syncs (ok, summary) values (true, _summary);
  delete from private.catalog_syncs where at < now() - interval '90 days';
  return _summary;
end
$$;

-- A sync that failed, for the operator (the catalog was left as it was).
create or replace function public.record_catalog_sync_failure(p_error text)
returns void
language sql volatile security definer
set search_path = ''
as $$
  insert into private.catalog_syncs (ok, error) values (false, left(p_error, 2000));
$$;

-- Whether the engine should sync now: the catalog offers nothing yet, or
-- the last sync that worked is older than `p_every`. Failed syncs are
-- retried by the engine on its own backoff.
create or replace function public.catalog_sync_due(p_every interval)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select not exists (select 1 from public.model_catalog where active)
      or coalesce((select max(at) from private.catalog_syncs where ok), '-infinity') <= now() - p_every
$$;

revoke all on function public.sync_model_catalog(jsonb, jsonb) from public, anon, authenticated, service_role;
revoke all on function public.record_catalog_sync_failure(text) from public, anon, authenticated, service_role;
revoke all on function public.catalog_sync_due(interval) from public, anon, authenticated, service_role;
grant execute on function public.sync_model_catalog(jsonb, jsonb) to service_role;
grant execute on function public.record_catalog_sync_failure(text) to service_role;
grant execute on function public.catalog_sync_due(interval) to service_role;
