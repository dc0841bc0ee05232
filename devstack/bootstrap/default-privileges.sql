-- Supabase's "Default privileges for new entities" switch (Dashboard ->
-- Integrations -> Data API), turned on: what every project did until
-- 2026, and what an owner can still choose. Every table, sequence and
-- function the project role creates in `public` is then granted to all
-- three API roles unless the migration that creates it revokes it.
-- `scripts/db-reset --default-privileges` applies it before the
-- migrations, so the grants and RLS suites can prove the migrations right
-- under this setting too.
alter default privileges for role project_owner in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role project_owner in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges for role project_owner in schema public
  grant all on functions to anon, authenticated, service_role;
