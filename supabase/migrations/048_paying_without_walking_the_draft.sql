-- paying without walking the draft (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "public"."finish_report"(uuid, uuid, text, text, boolean);

CREATE OR REPLACE FUNCTION private.check_draft_size()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if tg_op = 'UPDATE' and private.draft_only_marked_paid(old, new) then
    return new;
  end if;
  if octet_length(new.upload_data::text) > 4 * 1024 * 1024 then
    raise exception 'The images'' expected JSON together is %; the limit is 4 MB.',
      private.human_bytes(octet_length(new.upload_data::text))
      using errcode = 'check_violation';
  end if;
  if octet_length(new.schema_data::text) > 128 * 1024 or octet_length(new.config_data::text) > 16 * 1024 then
    raise exception 'The draft''s settings are too large.' using errcode = 'check_violation';
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION private.check_ready_draft()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _page jsonb;
  _unknown text;
begin
  if tg_op = 'UPDATE' and private.draft_only_marked_paid(old, new) then
    return new;
  end if;
  perform private.check_draft_limits(new);
  if new.status <> 'ready' then
    return new;
  end if;
  if jsonb_typeof(_images) is distinct from 'array' or jsonb_array_length(_images) = 0 then
    raise exception 'A ready draft needs at least one image.'
      using errcode = 'check_violation', hint = 'upload_data.images is empty';
  end if;
  for _image in select * from jsonb_array_elements(_images) loop
    for _page in select * from jsonb_array_elements(private.document_pages(_image)) loop
      if jsonb_typeof(_page -> 'path') is distinct from 'string'
         or (storage.foldername(_page ->> 'path'))[1] is distinct from new.user_id::text
         or not private.storage_name_is_safe(_page ->> 'path') then
        raise exception 'Every image must be stored under the owner''s own folder.'
          using errcode = 'check_violation', detail = left(coalesce(_page ->> 'path', 'missing path'), 200),
                hint = 'each part of the path is letters, digits, ".", "_" or "-", and is neither empty nor starts with a dot';
      end if;
    end loop;
    if _image -> 'path' is distinct from private.document_pages(_image) -> 0 -> 'path' then
      raise exception 'A document''s path is its first page''s.' using errcode = 'check_violation',
        detail = left(coalesce(_image ->> 'path', 'missing path'), 200);
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

CREATE OR REPLACE FUNCTION private.draft_only_marked_paid (
  p_old public.benchmark_drafts,
  p_new public.benchmark_drafts
)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select p_new.status = 'paid'
     and (p_new.user_id, p_new.config_data, p_new.upload_data, p_new.schema_data, p_new.selected_models)
         is not distinct from
         (p_old.user_id, p_old.config_data, p_old.upload_data, p_old.schema_data, p_old.selected_models)
$function$;


CREATE OR REPLACE FUNCTION public.finish_report (
  p_report_id   uuid,
  p_lease_token uuid,
  p_status      text,
  p_reason      text    DEFAULT NULL::text,
  p_cut_short   boolean DEFAULT false,
  p_figures     jsonb   DEFAULT NULL::jsonb
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_status is null or p_status not in ('complete', 'failed') then
    raise exception 'a report finishes as complete or failed, not %', coalesce(p_status, 'null')
      using errcode = 'PT400';
  end if;
  if p_status = 'failed' and coalesce(btrim(p_reason), '') = '' then
    raise exception 'a failed report needs a reason' using errcode = 'PT400';
  end if;
  update public.reports r
     set status = p_status,
         status_reason = nullif(btrim(p_reason), ''),
         cut_short = coalesce(p_cut_short, false),
         finished_at = now(),
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         runs_done = (select count(*) from public.benchmark_runs b where b.report_id = r.id),
         figures = coalesce(p_figures, r.figures)
   where r.id = p_report_id and r.lease_token = p_lease_token and r.status = 'running';
  return found;
end
$function$;


COMMENT ON FUNCTION "private"."draft_only_marked_paid"(public.benchmark_drafts, public.benchmark_drafts) IS 'An update that marks a draft paid and changes nothing a buyer wrote (what fulfill_checkout does): the draft was held to its limits when it was written and made ready, so paying for it neither walks it again (the costliest part of a Stripe delivery) nor fails on a limit tightened since.';

COMMENT ON FUNCTION "public"."finish_report"(uuid, uuid, text, text, boolean, jsonb) IS 'Ends a report as complete or failed (a failure needs a reason a person can read), clears the lease, records finished_at and runs_done, and stores `p_figures` (computed once by the engine) when given, in the same write: the figures a finished report shows are never missing for a moment. Fenced: a stale token writes nothing and gets false.';

COMMENT ON FUNCTION "public"."record_report_figures"(uuid, uuid, jsonb) IS 'Stores a report''s figures (computed once by the engine) while the lease is held; false when it is not. The engine stores them with finish_report; this stays for engines of the previous release while a deploy rolls.';

REVOKE ALL ON FUNCTION "private"."draft_only_marked_paid"(public.benchmark_drafts, public.benchmark_drafts) FROM PUBLIC, "anon", "authenticated", "service_role";



REVOKE ALL ON FUNCTION "public"."finish_report"(uuid, uuid, text, text, boolean, jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."finish_report"(uuid, uuid, text, text, boolean, jsonb) TO "service_role";
