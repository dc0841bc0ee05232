-- The wizard's drafts, the paid reports, the models one can pick, and who may
-- read or change each of them.

-- Helpers used by policies live outside `public` so PostgREST never exposes
-- them as RPC endpoints.
create schema if not exists private;
grant usage on schema private to anon, authenticated, service_role;

create or replace function private.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- The `x-share-token` request header, as PostgREST exposes it to the
-- transaction. Null when absent, or when the request did not come through
-- PostgREST at all.
create or replace function private.request_share_token() returns text
language sql stable
set search_path = ''
as $$
  select nullif(
    (nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-share-token'),
    ''
  )
$$;

grant execute on function private.request_share_token() to anon, authenticated, service_role;

-- model_catalog -------------------------------------------------------------
-- The vision models a draft may select, with the prices the engine budgets
-- with, in the shape of OpenRouter's `pricing`: US dollars per million prompt
-- and completion tokens, per input image and per request.

create table public.model_catalog (
  id text primary key,
  display_name text not null,
  provider text not null,
  prompt_usd_per_mtok numeric(12, 6) not null check (prompt_usd_per_mtok >= 0),
  completion_usd_per_mtok numeric(12, 6) not null check (completion_usd_per_mtok >= 0),
  image_usd numeric(12, 6) not null default 0 check (image_usd >= 0),
  request_usd numeric(12, 6) not null default 0 check (request_usd >= 0),
  supports_json_schema boolean not null default false,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

revoke all on function private.set_updated_at() from public, anon, authenticated, service_role;

create trigger model_catalog_updated_at before update on public.model_catalog
  for each row execute function private.set_updated_at();

alter table public.model_catalog enable row level security;

create policy "Anyone can read the model catalog"
  on public.model_catalog for select
  to anon, authenticated
  using (true);

revoke all on public.model_catalog from anon, authenticated, service_role;
grant select on public.model_catalog to anon, authenticated;

-- benchmark_drafts ----------------------------------------------------------
-- `upload_data` is {"images": [{"path": "<user id>/…", "expected": {…}}, …]};
-- `schema_data` is {"prompt": "…", "userSchema": {…}|null, "inferredSchema": {…}|null}.

create table public.benchmark_drafts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  status text not null default 'draft' check (status in ('draft', 'ready', 'paid')),
  config_data jsonb not null default '{}'::jsonb,
  upload_data jsonb not null default '{"images": []}'::jsonb,
  schema_data jsonb not null default '{}'::jsonb,
  selected_models text[] not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index benchmark_drafts_user_id_idx on public.benchmark_drafts (user_id);

create trigger benchmark_drafts_updated_at before update on public.benchmark_drafts
  for each row execute function private.set_updated_at();

-- A draft may only become `ready` when it can actually be run: the engine
-- downloads every image with the service-role key, so a path outside the
-- owner's own folder would hand them someone else's file.
create or replace function private.check_ready_draft() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _unknown text;
begin
  if new.status <> 'ready' then
    return new;
  end if;
  if jsonb_typeof(_images) is distinct from 'array' or jsonb_array_length(_images) = 0 then
    raise exception 'A ready draft needs at least one image.'
      using errcode = 'check_violation', hint = 'upload_data.images is empty';
  end if;
  if jsonb_array_length(_images) > 50 then
    raise exception 'A draft holds at most 50 images.' using errcode = 'check_violation';
  end if;
  for _image in select * from jsonb_array_elements(_images) loop
    if jsonb_typeof(_image -> 'path') is distinct from 'string'
       or (storage.foldername(_image ->> 'path'))[1] is distinct from new.user_id::text
       or position('..' in _image ->> 'path') > 0 then
      raise exception 'Every image must be stored under the owner''s own folder.'
        using errcode = 'check_violation', detail = coalesce(_image ->> 'path', 'missing path');
    end if;
    if jsonb_typeof(_image -> 'expected') is distinct from 'object' then
      raise exception 'Every image needs the JSON object expected from it.'
        using errcode = 'check_violation', detail = _image ->> 'path';
    end if;
  end loop;
  if cardinality(new.selected_models) = 0 then
    raise exception 'A ready draft needs at least one model.' using errcode = 'check_violation';
  end if;
  if cardinality(new.selected_models) > 10 then
    raise exception 'A draft selects at most 10 models.' using errcode = 'check_violation';
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
  if coalesce(btrim(new.schema_data ->> 'prompt'), '') = '' then
    raise exception 'A ready draft needs an extraction prompt.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;

revoke all on function private.check_ready_draft() from public, anon, authenticated, service_role;

create trigger benchmark_drafts_check_ready before insert or update on public.benchmark_drafts
  for each row execute function private.check_ready_draft();

alter table public.benchmark_drafts enable row level security;

create policy "Owners read their drafts"
  on public.benchmark_drafts for select
  to authenticated
  using (user_id = auth.uid());

create policy "Owners create unpaid drafts"
  on public.benchmark_drafts for insert
  to authenticated
  with check (user_id = auth.uid() and status in ('draft', 'ready'));

create policy "Owners change their drafts until paid"
  on public.benchmark_drafts for update
  to authenticated
  using (user_id = auth.uid() and status <> 'paid')
  with check (user_id = auth.uid() and status in ('draft', 'ready'));

create policy "Owners delete their drafts until paid"
  on public.benchmark_drafts for delete
  to authenticated
  using (user_id = auth.uid() and status <> 'paid');

-- Granted per column in 011_least_privilege.
revoke all on public.benchmark_drafts from anon, authenticated, service_role;

-- reports -------------------------------------------------------------------
-- One per successful payment, created only by `fulfill_checkout`.

create table public.reports (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  draft_id uuid references public.benchmark_drafts (id) on delete set null,
  status text not null default 'paid' check (status in ('paid', 'running', 'complete', 'failed')),
  config_snapshot jsonb not null,
  image_paths text[] not null,
  extraction_prompt text not null,
  json_schema jsonb,
  -- 244 random bits; unguessable, and only ever matched exactly.
  share_token text not null unique
    default replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index reports_user_id_idx on public.reports (user_id);

create trigger reports_updated_at before update on public.reports
  for each row execute function private.set_updated_at();

alter table public.reports enable row level security;

create policy "Owners read their reports"
  on public.reports for select
  to authenticated
  using (user_id = auth.uid());

-- Exactly one report per token, and only for a caller who sends that token:
-- there is no way to list shared reports.
create policy "Share-token holders read that report"
  on public.reports for select
  to anon, authenticated
  using (share_token = private.request_share_token());

-- Granted per column in 011_least_privilege.
revoke all on public.reports from anon, authenticated, service_role;
