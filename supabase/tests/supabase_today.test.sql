-- The database these tests run on is what hosted Supabase is today, so a
-- test passes here only where it would pass there: the tests run as a role
-- that is no superuser and no admin of auth or storage, nothing new is
-- granted to the API roles by default, Storage refuses direct deletes, and
-- the auth tables have row-level security on.
begin;
select plan(7);

select is((select rolsuper from pg_roles where rolname = current_user), false,
          'the tests run as a role that is not a superuser');
select ok(not pg_has_role(current_user, 'supabase_auth_admin', 'member')
          and not pg_has_role(current_user, 'supabase_storage_admin', 'member'),
          'nor a member of the auth or storage admin roles');

create table public.probe_new_table (id int);
create function public.probe_new_function() returns int language sql as 'select 1';
select ok(not has_table_privilege('anon', 'public.probe_new_table', 'select')
          and not has_table_privilege('authenticated', 'public.probe_new_table', 'select')
          and not has_table_privilege('service_role', 'public.probe_new_table', 'select'),
          'a new table is granted to no API role');
select ok(not has_function_privilege('anon', 'public.probe_new_function()', 'execute'),
          'a new function is executable by nobody else');

select throws_ok($$delete from storage.objects where false$$, '42501',
                 'Direct deletion from storage tables is not allowed. Use the Storage API instead.',
                 'storage.objects refuses a direct delete');
select throws_ok($$delete from storage.buckets where false$$, '42501',
                 'Direct deletion from storage tables is not allowed. Use the Storage API instead.',
                 'storage.buckets refuses a direct delete');
select ok((select relrowsecurity from pg_class where oid = 'auth.users'::regclass),
          'auth.users has row-level security on');

select * from finish();
rollback;
