-- Doors a second review found, closed where they cannot be bypassed.
--
-- 1. A file any report uses is deleted (or replaced) only when its owner
--    asks for that report's images to be deleted (delete_report_images),
--    or when a retention period the operator sets ends; never as a side
--    effect of deleting a draft, whatever the client sends to Storage. A
--    report whose images were deleted says so, and is not run again.
-- 2. The 500 stored files of an account are counted one upload at a time
--    (parallel uploads cannot overshoot the limit).
-- 3. The catalog's price bounds are written once (private.catalog_price_problem),
--    used by the table's constraint and by sync_model_catalog, which keeps
--    a model outside them out with its reason and syncs the rest.

-- 1. Report images ----------------------------------------------------------------

-- When the owner had this report's images deleted (or retention did); the
-- report stays readable without them.
alter table public.reports add column images_deleted_at timestamptz;

-- "Which reports use this file" without reading every report.
create index reports_image_paths_idx on public.reports using gin (image_paths);

-- Whether a report still keeps the file `p_name`: one that uses it and
-- whose images were not deleted. The storage policies ask it as the
-- uploader, who may not read every column of reports.
create or replace function private.report_keeps_image(p_name text) returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.reports r
     where r.image_paths @> array[p_name]
       and r.images_deleted_at is null)
$$;

revoke all on function private.report_keeps_image(text) from public, anon, authenticated, service_role;
grant execute on function private.report_keeps_image(text) to authenticated;

drop policy "Owners delete their benchmark images" on storage.objects;
create policy "Owners delete their benchmark images"
  on storage.objects for delete
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = (select auth.uid()::text)
    and not private.report_keeps_image(name)
  );

drop policy "Owners replace their benchmark images" on storage.objects;
create policy "Owners replace their benchmark images"
  on storage.objects for update
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = (select auth.uid()::text)
    and not private.report_keeps_image(name)
  )
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = (select auth.uid()::text)
    and private.storage_name_is_safe(name)
  );

-- The owner's explicit "delete this report's images": a finished report
-- of theirs lets go of its files, and the answer is the files no report
-- keeps any more, which the page then deletes through Storage (the only
-- way Storage's objects are deleted). A file another of their reports
-- still keeps stays, for that report. Asking again changes nothing.
create or replace function public.delete_report_images(p_report_id uuid)
returns text[]
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _report public.reports;
begin
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = (select auth.uid())
   for update;
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if _report.status not in ('complete', 'failed') then
    raise exception 'This report is still running and needs its images. Delete them once it has finished.'
      using errcode = 'PT409';
  end if;
  update public.reports r
     set images_deleted_at = coalesce(r.images_deleted_at, now()), share_images = false
   where r.id = _report.id;
  return coalesce((
    select array_agg(p order by p) from unnest(_report.image_paths) p
     where not private.report_keeps_image(p)), '{}');
end
$$;

revoke all on function public.delete_report_images(uuid) from public, anon, authenticated, service_role;
grant execute on function public.delete_report_images(uuid) to authenticated;

-- A report whose images were deleted shows none to link holders.
create or replace function public.shared_report_images(p_report_id uuid, p_share_token text)
returns text[]
language sql stable security definer
set search_path = ''
as $$
  select r.image_paths from public.reports r
   where r.id = p_report_id
     and p_share_token is not null
     and r.share_token = p_share_token
     and r.share_images
     and r.images_deleted_at is null
$$;

revoke all on function public.shared_report_images(uuid, text) from public, anon, authenticated, service_role;
grant execute on function public.shared_report_images(uuid, text) to service_role;

-- read_report() as in 026, and when the report's images were deleted.
create or replace function public.read_report(p_report_id uuid, p_share_token text default null)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id,
    'name', r.config_snapshot -> 'config_data' ->> 'name',
    'status', r.status,
    'status_reason', r.status_reason,
    'cut_short', r.cut_short,
    'created_at', r.created_at,
    'paid_at', r.paid_at,
    'started_at', r.started_at,
    'finished_at', r.finished_at,
    'runs_planned', r.runs_planned,
    'runs_done', r.runs_done,
    'cost_spent', r.cost_spent,
    'figures', r.figures,
    'prompt', r.extraction_prompt,
    'json_schema', r.json_schema,
    'models', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'id', m.id,
               'display_name', coalesce(r.config_snapshot -> 'model_prices' -> m.id ->> 'display_name', m.id),
               'prices', (r.config_snapshot -> 'model_prices' -> m.id) - 'display_name'
             ) order by m.n), '[]'::jsonb)
        from jsonb_array_elements_text(r.config_snapshot -> 'selected_models') with ordinality as m (id, n)),
    'documents', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'index', d.n - 1,
               'name', coalesce(d.image ->> 'name', storage.filename(d.image ->> 'path')),
               'key', encode(sha256(convert_to(coalesce(d.image ->> 'path', ''), 'UTF8')), 'hex'),
               'expected', d.image -> 'expected'
             ) order by d.n), '[]'::jsonb)
        from jsonb_array_elements(r.config_snapshot -> 'upload_data' -> 'images') with ordinality as d (image, n)),
    'summary', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'report_id' order by s.model_id), '[]'::jsonb)
        from public.report_model_summary s
       where s.report_id = r.id),
    -- Only the owner learns the link, and whether the payment was refunded.
    'owner', p_share_token is null,
    'share_token', case when p_share_token is null then r.share_token end,
    'refunded_at', case when p_share_token is null then r.refunded_at end,
    -- Whether link holders see the document images (the owner's choice).
    'share_images', r.share_images and r.images_deleted_at is null,
    'images_deleted_at', r.images_deleted_at
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$$;

revoke all on function public.read_report(uuid, text) from public, anon, authenticated, service_role;
grant execute on function public.read_report(uuid, text) to anon, authenticated;

-- draft_from_report() as in 025, refusing a report whose images are gone.
create or replace function public.draft_from_report(p_report_id uuid)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _report public.reports;
  _name text;
  _draft_id uuid;
begin
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = auth.uid();
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if _report.images_deleted_at is not null then
    raise exception 'This report''s document images were deleted, so it cannot be run again. Start a new benchmark with the documents.'
      using errcode = 'PT409';
  end if;
  _name := coalesce(nullif(btrim(_report.config_snapshot #>> '{config_data,name}'), ''), 'Your benchmark');
  insert into public.benchmark_drafts (user_id, status, config_data, upload_data, schema_data, selected_models)
  values (
    _report.user_id,
    'draft',
    coalesce(_report.config_snapshot -> 'config_data', '{}'::jsonb) || jsonb_build_object(
      'name', left(_name, 110) || ', again',
      'source_report', jsonb_build_object(
        'id', _report.id,
        'name', left(_name, 120),
        'paid_at', _report.paid_at,
        'models', coalesce(_report.config_snapshot -> 'selected_models', '[]'::jsonb))),
    jsonb_build_object('images', coalesce(_report.config_snapshot #> '{upload_data,images}', '[]'::jsonb)),
    coalesce(_report.config_snapshot -> 'schema_data', '{}'::jsonb),
    '{}'
  )
  returning id into _draft_id;
  return _draft_id;
end
$$;

revoke all on function public.draft_from_report(uuid) from public, anon, authenticated, service_role;
grant execute on function public.draft_from_report(uuid) to authenticated;

-- 2. Stored files, counted one upload at a time ------------------------------------

-- As in 021, but volatile and serialised per account: a second upload
-- waits until the first one's transaction ends, then counts it.
create or replace function private.check_storage_quota(p_user_id uuid) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('stored-objects:' || p_user_id::text, 0));
  if (select count(*) from storage.objects o
       where o.bucket_id = 'benchmark-images'
         -- The user's folder as a range name_prefix_search can walk.
         and o.name ~>=~ (p_user_id::text || '/') and o.name ~<~ (p_user_id::text || '0')) >= 500 then
    raise exception 'You have stored 500 document images, the most one account may keep. Delete drafts you no longer need to upload more.'
      using errcode = 'insufficient_privilege';
  end if;
  return true;
end
$$;

revoke all on function private.check_storage_quota(uuid) from public, anon, authenticated, service_role;
grant execute on function private.check_storage_quota(uuid) to authenticated;

-- 3. The catalog's bounds, once ----------------------------------------------------

-- Why these prices cannot be stored, or null: every price known and not
-- negative, a token under $1 (a million tokens under $1,000,000), an image
-- or a request under $1,000.
create or replace function private.catalog_price_problem(
  p_prompt_usd_per_mtok numeric, p_completion_usd_per_mtok numeric,
  p_image_usd numeric, p_request_usd numeric) returns text
language sql immutable
set search_path = ''
as $$
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
$$;

revoke all on function private.catalog_price_problem(numeric, numeric, numeric, numeric) from public, anon, authenticated, service_role;

alter table public.model_catalog
  drop constraint model_catalog_prices_bounded,
  add constraint model_catalog_prices_bounded check (
    private.catalog_price_problem(prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd) is null);

-- Why an entry of sync_model_catalog's offer cannot be offered, or null.
-- Nothing here casts text it has not checked, so one odd entry is a
-- reason, never an error that stops the sync.
create or replace function private.catalog_entry_problem(p_model jsonb) returns text
language plpgsql immutable
set search_path = ''
as $$
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
$$;

revoke all on function private.catalog_entry_problem(jsonb) from public, anon, authenticated, service_role;

-- sync_model_catalog() as in 024, but an offered model outside the
-- catalog's bounds is refused with its reason, and the rest syncs.
create or replace function public.sync_model_catalog(p_offered jsonb, p_refused jsonb default '[]')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _summary jsonb;
  _deactivated integer;
  _offered jsonb;
  _refused jsonb;
begin
  if jsonb_typeof(p_offered) is distinct from 'array' or jsonb_array_length(p_offered) > 5000
     or jsonb_typeof(p_refused) is distinct from 'array' or jsonb_array_length(p_refused) > 5000 then
    raise exception 'the offered and refused models are lists of at most 5,000' using errcode = 'PT400';
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

  _summary := _summary || jsonb_build_object('deactivated', _deactivated,
                                             'refused', jsonb_array_length(_refused));
  insert into private.catalog_syncs (ok, summary) values (true, _summary);
  delete from private.catalog_syncs where at < now() - interval '90 days';
  return _summary;
end
$$;

revoke all on function public.sync_model_catalog(jsonb, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.sync_model_catalog(jsonb, jsonb) to service_role;
