-- image retention (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE TABLE "private"."image_deletions" (
  "name"      text                     NOT NULL,
  "queued_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "image_deletions_pkey" PRIMARY KEY (name)
);

CREATE OR REPLACE FUNCTION public.expire_report_images (
  p_days  integer,
  p_limit integer DEFAULT 20
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report record;
  _expired integer := 0;
begin
  if p_days is null or p_days not between 1 and 3650 or p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'images are kept 1 to 3650 days, and expired at most 1000 reports at a time'
      using errcode = 'PT400';
  end if;
  for _report in
    select r.id, r.user_id, r.image_paths from public.reports r
     where r.status in ('complete', 'failed') and r.images_deleted_at is null
       and r.finished_at < now() - make_interval(days => p_days)
     order by r.finished_at
     limit p_limit
       for update skip locked
  loop
    update public.reports r
       set images_deleted_at = now(), share_images = false
     where r.id = _report.id;
    -- A file another report keeps, or an unpaid draft of the owner's (a
    -- re-run being prepared) still uses, stays for them.
    insert into private.image_deletions (name)
    select p from unnest(_report.image_paths) p
     where not private.report_keeps_image(p)
       and not exists (
         select 1 from public.benchmark_drafts d
          cross join lateral jsonb_array_elements(d.upload_data -> 'images') e
          cross join lateral jsonb_array_elements(private.document_pages(e)) q
          where d.user_id = _report.user_id and d.status <> 'paid' and q ->> 'path' = p)
    on conflict do nothing;
    _expired := _expired + 1;
  end loop;
  return _expired;
end
$function$;


CREATE OR REPLACE FUNCTION public.image_deletions_done (
  p_names text[]
)
  RETURNS integer
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  with gone as (delete from private.image_deletions where name = any (p_names) returning 1)
  select count(*)::integer from gone
$function$;


CREATE OR REPLACE FUNCTION public.image_deletions_due (
  p_limit integer DEFAULT 100
)
  RETURNS text[]
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select coalesce(array_agg(name order by queued_at, name), '{}')
    from (select name, queued_at from private.image_deletions
           order by queued_at, name limit least(greatest(p_limit, 1), 1000)) d
$function$;


CREATE INDEX reports_images_kept_idx ON public.reports USING btree (finished_at)
  WHERE ((images_deleted_at IS NULL) AND (status = ANY (ARRAY['complete'::text, 'failed'::text])));

COMMENT ON FUNCTION "public"."expire_report_images"(integer, integer) IS 'Retention: up to p_limit finished reports whose images have been kept p_days since they finished let go of them, as their owner''s "delete images" does (the report stays readable, its link stops showing images); the files no report and no unpaid draft of the owner''s keeps any more wait in private.image_deletions for an engine to delete through Storage. Concurrent engines never take the same report. Answers how many reports let go. Service role only.';

COMMENT ON FUNCTION "public"."image_deletions_done"(text[]) IS 'These files are deleted from Storage: they wait no more. Service role only.';

COMMENT ON FUNCTION "public"."image_deletions_due"(integer) IS 'The files waiting to be deleted from Storage, oldest first, at most p_limit. Service role only.';

COMMENT ON TABLE "private"."image_deletions" IS 'Files in Storage no report keeps any more, waiting for an engine to delete them (Storage objects are deleted through Storage''s API only). A row goes once its file is gone, so a crash in between only deletes it again.';

REVOKE ALL ON FUNCTION "public"."expire_report_images"(integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."expire_report_images"(integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."image_deletions_done"(text[]) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."image_deletions_done"(text[]) TO "service_role";

REVOKE ALL ON FUNCTION "public"."image_deletions_due"(integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."image_deletions_due"(integer) TO "service_role";

REVOKE ALL ON TABLE "private"."image_deletions" FROM PUBLIC, "anon", "authenticated", "service_role";
