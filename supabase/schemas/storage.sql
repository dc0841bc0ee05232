-- storage.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Our policies on Storage's objects: who may upload, read, replace and delete
-- files in the benchmark-images bucket, and the per-account quota.

set check_function_bodies = off;

CREATE FUNCTION private.check_storage_quota(p_user_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _limit constant integer := (public.draft_limits() ->> 'max_stored_images')::integer;
begin
  perform pg_advisory_xact_lock(hashtextextended('stored-objects:' || p_user_id::text, 0));
  if (select count(*) from storage.objects o
       where o.bucket_id = 'benchmark-images'
         -- The user's folder as a range name_prefix_search can walk.
         and o.name ~>=~ (p_user_id::text || '/') and o.name ~<~ (p_user_id::text || '0')) >= _limit then
    raise exception 'You have stored % document images, the most one account may keep. Delete drafts you no longer need to upload more.',
      _limit using errcode = 'insufficient_privilege';
  end if;
  return true;
end
$$;

COMMENT ON FUNCTION private.check_storage_quota(uuid) IS 'Stored files: at most draft_limits().max_stored_images per account, raised as Storage''s own refusal (42501), whose message Storage passes on to the client. Volatile and serialised per account: a second upload waits until the first one''s transaction ends, then counts it.';

REVOKE ALL ON FUNCTION private.check_storage_quota(p_user_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION private.check_storage_quota(p_user_id uuid) TO authenticated;

-- The policies (Storage owns the table; Supabase lets the project role
-- create policies on it). The bucket itself is a row, created by migration
-- 002_storage.sql.
CREATE POLICY "Owners delete their benchmark images" ON storage.objects FOR DELETE TO authenticated USING (((bucket_id = 'benchmark-images'::text) AND ((storage.foldername(name))[1] = ( SELECT (auth.uid())::text AS uid)) AND (NOT private.report_keeps_image(name))));

CREATE POLICY "Owners read their benchmark images" ON storage.objects FOR SELECT TO authenticated USING (((bucket_id = 'benchmark-images'::text) AND ((storage.foldername(name))[1] = ( SELECT (auth.uid())::text AS uid))));

CREATE POLICY "Owners replace their benchmark images" ON storage.objects FOR UPDATE TO authenticated USING (((bucket_id = 'benchmark-images'::text) AND ((storage.foldername(name))[1] = ( SELECT (auth.uid())::text AS uid)) AND (NOT private.report_keeps_image(name)))) WITH CHECK (((bucket_id = 'benchmark-images'::text) AND ((storage.foldername(name))[1] = ( SELECT (auth.uid())::text AS uid)) AND private.storage_name_is_safe(name)));

CREATE POLICY "Owners upload into their own folder" ON storage.objects FOR INSERT TO authenticated WITH CHECK (((bucket_id = 'benchmark-images'::text) AND ((storage.foldername(name))[1] = ( SELECT (auth.uid())::text AS uid)) AND private.storage_name_is_safe(name) AND private.check_storage_quota(( SELECT auth.uid() AS uid))));
