-- schema.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- The schemas, what every other file relies on (the updated_at trigger, the
-- share token, a file name Storage may hold), and the default privileges that
-- keep new objects from the API roles under either of Supabase's settings.

set check_function_bodies = off;

CREATE SCHEMA private;

-- New objects are granted to no API role, whichever way "default privileges
-- for new entities" is set; every file grants what each object needs.
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA private REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA private REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA private REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE FUNCTION private.human_bytes(p_bytes bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select case when p_bytes < 1024 then p_bytes || ' bytes'
              when p_bytes < 1048576 then trim(to_char(p_bytes / 1024.0, 'FM999990.0')) || ' KB'
              else trim(to_char(p_bytes / 1048576.0, 'FM999990.0')) || ' MB' end
$$;

COMMENT ON FUNCTION private.human_bytes(bigint) IS '"80 KB", "9.5 KB", "512 bytes": sizes as a person reads them.';

CREATE FUNCTION private.new_share_token() RETURNS text
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  select encode(extensions.gen_random_bytes(32), 'hex')
$$;

CREATE FUNCTION private.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  new.updated_at := now();
  return new;
end
$$;

CREATE FUNCTION private.storage_name_is_safe(p_name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $_$
  select coalesce(
    octet_length(p_name) <= 512
      and p_name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){1,7}$',
    false)
$_$;

REVOKE ALL ON FUNCTION private.human_bytes(p_bytes bigint) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.new_share_token() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.set_updated_at() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.storage_name_is_safe(p_name text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION private.storage_name_is_safe(p_name text) TO authenticated;
