-- What a hosted Supabase database is before the project's migrations run,
-- as it is today (late 2026), applied by a superuser to a plain PostgreSQL
-- so that `supabase/migrations` run here unchanged and are refused here
-- whatever hosted Supabase would refuse:
--
-- * the API roles (`anon`, `authenticated`, `service_role`, `authenticator`)
--   and NO default grants in `public`: a new table, view or function is
--   reachable through the Data API only once a migration grants it;
-- * `project_owner` plays hosted Supabase's `postgres`: migrations, seed and
--   the engine run as it; NOSUPERUSER, BYPASSRLS, a member of the API roles,
--   NOT a member of `supabase_auth_admin` or `supabase_storage_admin`;
-- * `auth` tables owned by `supabase_auth_admin`, with row-level security on;
--   `project_owner` may read and write their rows but not change them;
-- * `storage` tables owned by `supabase_storage_admin`, refusing direct
--   deletes (storage-api migration 0055) unless the session sets
--   `storage.allow_delete_query`; `project_owner` may manage policies on
--   them (supautils' `policy_grants`) and nothing else about them;
-- * the platform's schemas (`auth`, `storage`, the local supautils stand-in)
--   owned by `supabase_admin`, as on hosted Supabase, so `supabase db reset
--   --db-url` leaves them alone as it does there;
-- * no `supabase_migrations` schema: the Supabase CLI makes it, as the
--   project role, when it applies the migrations.
--
-- Sources: supabase/postgres init-scripts and migrations (roles, grants,
-- demote-postgres, revoke_admin_roles_from_postgres), supabase/auth
-- migrations (auth.uid(), auth.jwt(), users, identities, sessions,
-- refresh_tokens), supabase/storage migrations (buckets, objects,
-- foldername, protect_delete). Only the columns the project and the local
-- stand-ins touch are kept, with the same names and types as the real ones.

-- Roles are cluster-wide, so every database created here shares them; each
-- is created once and (re)set to what hosted Supabase has. A role of that
-- name this bootstrap did not make (its comment says who did) belongs to
-- something else on the server: it is left alone, and nothing goes on,
-- unless the caller allows resetting it (MODELPICK_RESET_ROLES=1, passed as
-- the setting modelpick.reset_roles).
do $$
declare
  _role text;
  _foreign text[] := array[]::text[];
begin
  foreach _role in array array['anon', 'authenticated', 'service_role', 'authenticator',
                                'supabase_auth_admin', 'supabase_storage_admin', 'supabase_admin',
                                'project_owner'] loop
    if not exists (select 1 from pg_roles where rolname = _role) then
      execute format('create role %I', _role);
      execute format('comment on role %I is %L', _role, 'modelpick local stand-in (scripts/db-reset)');
    elsif shobj_description((select oid from pg_roles where rolname = _role), 'pg_authid')
          is distinct from 'modelpick local stand-in (scripts/db-reset)' then
      _foreign := _foreign || _role;
    end if;
  end loop;
  if cardinality(_foreign) > 0 and current_setting('modelpick.reset_roles', true) is distinct from 'on' then
    raise exception 'this PostgreSQL server already has the roles % and they were not made by scripts/db-reset', array_to_string(_foreign, ', ')
      using hint = 'db-reset would change their attributes and passwords. Set MODELPICK_RESET_ROLES=1 to let it, or point MODELPICK_ADMIN_URL and DATABASE_URL at another server.';
  end if;
  foreach _role in array _foreign loop
    execute format('comment on role %I is %L', _role, 'modelpick local stand-in (scripts/db-reset)');
  end loop;
end
$$;

alter role anon nologin inherit nosuperuser nobypassrls;
alter role authenticated nologin inherit nosuperuser nobypassrls;
alter role service_role nologin inherit nosuperuser bypassrls;
alter role authenticator login noinherit nosuperuser nobypassrls password 'postgres';
alter role supabase_auth_admin login noinherit nosuperuser nocreaterole password 'postgres';
alter role supabase_storage_admin login noinherit nosuperuser password 'postgres';
-- Hosted Supabase's platform superuser; here only the owner of the
-- platform's schemas (it never logs in, and needs no more).
alter role supabase_admin nologin noinherit nosuperuser;
alter role project_owner login inherit nosuperuser nocreatedb nocreaterole bypassrls password 'postgres';

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
grant anon, authenticated, service_role to authenticator;
-- Storage switches to the caller's role for every object operation.
grant authenticator to supabase_storage_admin;
grant anon, authenticated, service_role, authenticator to project_owner;
-- Hosted Supabase revoked both admin roles from `postgres` in 2025.
do $$
begin
  if pg_has_role('project_owner', 'supabase_auth_admin', 'member') then
    revoke supabase_auth_admin from project_owner;
  end if;
  if pg_has_role('project_owner', 'supabase_storage_admin', 'member') then
    revoke supabase_storage_admin from project_owner;
  end if;
end
$$;

-- The database belongs to the project role, as hosted Supabase's does to
-- `postgres`: it creates schemas, and owns `public` (pg_database_owner).
do $$
begin
  execute format('alter database %I owner to project_owner', current_database());
end
$$;

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to project_owner, anon, authenticated, service_role;

-- The API roles may look into `public`, and no more: since 2026-10-30 no
-- default privileges grant them what the project creates there.
grant usage on schema public to anon, authenticated, service_role;

-- auth ----------------------------------------------------------------------

create schema if not exists auth;
alter schema auth owner to supabase_admin;
grant usage on schema auth to project_owner, anon, authenticated, service_role;
grant all on schema auth to supabase_auth_admin;
revoke create on schema auth from project_owner;

create or replace function auth.uid() returns uuid
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable set search_path = ''
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  banned_until timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_partial_key on auth.users (email) where is_sso_user = false;

create table if not exists auth.identities (
  id uuid primary key default gen_random_uuid(),
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  unique (provider_id, provider)
);

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet
);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

do $$
declare
  _table text;
begin
  foreach _table in array array['users', 'identities', 'sessions', 'refresh_tokens'] loop
    execute format('alter table auth.%I owner to supabase_auth_admin', _table);
    execute format('alter table auth.%I enable row level security', _table);
  end loop;
end
$$;
alter sequence auth.refresh_tokens_id_seq owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt()
  to anon, authenticated, service_role;
-- supabase/postgres 20211115181400_update-auth-permissions: the project
-- role reads and writes auth rows (the seed creates the demo user).
grant all on all tables in schema auth to project_owner;
grant all on all sequences in schema auth to project_owner;

-- storage -------------------------------------------------------------------

create schema if not exists storage;
alter schema storage owner to supabase_admin;
grant all on schema storage to supabase_storage_admin;
grant usage on schema storage to project_owner, anon, authenticated, service_role;
revoke create on schema storage from project_owner;

create table if not exists storage.buckets (
  id text primary key,
  name text not null unique,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  public boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[]
);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now(),
  metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  version text,
  owner_id text,
  unique (bucket_id, name)
);

-- storage-api migration 0002: prefix searches (a user's folder) use this.
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);

create or replace function storage.foldername(name text) returns text[]
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
begin
  select string_to_array(name, '/') into _parts;
  return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $$
declare
  _parts text[];
  _filename text;
begin
  select string_to_array(name, '/') into _parts;
  select _parts[array_length(_parts, 1)] into _filename;
  return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

-- storage-api migration 0055-prevent-direct-deletes: deletes go through the
-- Storage API, which sets the setting for its own statements.
create or replace function storage.protect_delete() returns trigger
language plpgsql
as $$
begin
  if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.',
            errcode = '42501';
  end if;
  return null;
end
$$;

drop trigger if exists protect_buckets_delete on storage.buckets;
create trigger protect_buckets_delete before delete on storage.buckets
  for each statement execute function storage.protect_delete();
drop trigger if exists protect_objects_delete on storage.objects;
create trigger protect_objects_delete before delete on storage.objects
  for each statement execute function storage.protect_delete();

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter function storage.foldername(text) owner to supabase_storage_admin;
alter function storage.filename(text) owner to supabase_storage_admin;
alter function storage.extension(text) owner to supabase_storage_admin;
alter function storage.protect_delete() owner to supabase_storage_admin;
grant all on storage.buckets, storage.objects to project_owner, anon, authenticated, service_role;
grant execute on all functions in schema storage to project_owner, anon, authenticated, service_role;
-- Supabase's own setup gives `postgres` these default privileges in
-- `storage`; no project can change them, so the local platform has them too.
alter default privileges for role project_owner in schema storage
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role project_owner in schema storage
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role project_owner in schema storage
  grant all on sequences to anon, authenticated, service_role;

-- supautils' policy_grants: on hosted Supabase `postgres` may create, alter
-- and drop policies on the storage tables without owning them (supautils
-- runs just that statement with elevated rights). Here the project role is
-- lent ownership of both tables for the one policy statement and the owner
-- is put back when it ends; a failed statement rolls the loan back with it.
create schema if not exists supautils_local;
alter schema supautils_local owner to supabase_admin;
revoke all on schema supautils_local from public;

create or replace function supautils_local.lend_storage_tables() returns event_trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if session_user::text = 'project_owner' and tg_tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY') then
    alter table storage.objects owner to project_owner;
    alter table storage.buckets owner to project_owner;
  end if;
end
$$;

create or replace function supautils_local.return_storage_tables() returns event_trigger
language plpgsql security definer set search_path = ''
as $$
begin
  if tg_tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY') then
    alter table storage.objects owner to supabase_storage_admin;
    alter table storage.buckets owner to supabase_storage_admin;
  end if;
end
$$;

drop event trigger if exists supautils_local_lend_storage_tables;
create event trigger supautils_local_lend_storage_tables on ddl_command_start
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
  execute function supautils_local.lend_storage_tables();
drop event trigger if exists supautils_local_return_storage_tables;
create event trigger supautils_local_return_storage_tables on ddl_command_end
  when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
  execute function supautils_local.return_storage_tables();
