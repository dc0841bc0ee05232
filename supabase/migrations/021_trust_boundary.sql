-- Against a hostile client: what one account, one request or one payment
-- can make us do is bounded, and each refusal is a sentence its owner
-- understands.
--
-- 1. Storage object names follow one rule (private.storage_name_is_safe),
--    the same in the storage policies, in check_ready_draft and in the
--    engine (src/engine/images.rs): parts of letters, digits, '.', '_' and
--    '-', none empty or starting with a dot. Nothing a URL parser would
--    rewrite ('.', '..', '%2e', '\') can name a file other than the one the
--    report locks.
-- 2. An image's width and height are whole pixels from 1 to 20,000, so the
--    estimate's arithmetic is on small numbers.
-- 3. One settlement per Checkout Session, stored: a session owed a refund
--    (or refunded) never becomes a report, whoever asks and however often.
-- 4. The success page looks up at Stripe only sessions we created
--    (checkout_session_state).
-- 5. Per-account limits no real buyer meets: 50 unfinished drafts, 500
--    stored files, 20 checkouts started an hour.

-- 1. Storage names ----------------------------------------------------------------

create or replace function private.storage_name_is_safe(p_name text) returns boolean
language sql immutable
set search_path = ''
as $$
  select coalesce(
    octet_length(p_name) <= 512
      and p_name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}){1,7}$',
    false)
$$;

revoke all on function private.storage_name_is_safe(text) from public, anon, authenticated, service_role;
-- The storage policies call it as the uploader (the schema stays closed:
-- nobody can name it, a stored policy needs no lookup).
grant execute on function private.storage_name_is_safe(text) to authenticated;

-- 5. Stored files: at most 500 per account. Raised as Storage's own
-- refusal (42501), whose message Storage passes on to the client.
create or replace function private.check_storage_quota(p_user_id uuid) returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
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

drop policy "Owners upload into their own folder" on storage.objects;
create policy "Owners upload into their own folder"
  on storage.objects for insert
  to authenticated
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
    and private.storage_name_is_safe(name)
    and private.check_storage_quota(auth.uid())
  );

drop policy "Owners replace their benchmark images" on storage.objects;
create policy "Owners replace their benchmark images"
  on storage.objects for update
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
    and not exists (
      select 1 from public.reports r
       where r.status in ('paid', 'running') and objects.name = any (r.image_paths)
    )
  )
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
    and private.storage_name_is_safe(name)
  );

-- 2. Image sizes, on every save -----------------------------------------------

-- Why an image's stated size cannot be used, or null: absent is fine (the
-- estimate then assumes an A4 page at 300 dpi), present must be whole
-- pixels from 1 to 20,000.
create or replace function private.image_size_problem(p_image jsonb) returns text
language sql immutable
set search_path = ''
as $$
  -- A CASE's branches are tried in order, so nothing is cast before its
  -- text is known to be a short whole number.
  select case
    when coalesce(p_image -> 'width', 'null'::jsonb) = 'null'::jsonb
         and coalesce(p_image -> 'height', 'null'::jsonb) = 'null'::jsonb then null
    when jsonb_typeof(p_image -> 'width') is distinct from 'number'
         or jsonb_typeof(p_image -> 'height') is distinct from 'number'
      then 'must be whole numbers of pixels from 1 to 20,000'
    when (p_image ->> 'width') !~ '^[0-9]{1,5}$' or (p_image ->> 'height') !~ '^[0-9]{1,5}$'
      then 'must be whole numbers of pixels from 1 to 20,000'
    when (p_image ->> 'width')::integer not between 1 and 20000
         or (p_image ->> 'height')::integer not between 1 and 20000
      then 'must be whole numbers of pixels from 1 to 20,000'
  end
$$;

-- Pixels of an image as the estimate counts them.
create or replace function private.image_pixels(p_image jsonb) returns bigint
language sql immutable
set search_path = ''
as $$
  select case when private.image_size_problem(p_image) is null
                   and jsonb_typeof(p_image -> 'width') = 'number'
              then (p_image ->> 'width')::bigint * (p_image ->> 'height')::bigint
              else 2480 * 3508 end
$$;

revoke all on function private.image_size_problem(jsonb) from public, anon, authenticated, service_role;
revoke all on function private.image_pixels(jsonb) from public, anon, authenticated, service_role;

create or replace function private.check_draft_limits(p_draft public.benchmark_drafts) returns void
language plpgsql
set search_path = ''
as $$
declare
  _limits jsonb := public.draft_limits();
  _images jsonb := p_draft.upload_data -> 'images';
  _image jsonb;
  _n integer := 0;
  _what text;
  _problem text;
  _schema text;
  _bytes integer;
begin
  if jsonb_typeof(_images) = 'array' then
    if jsonb_array_length(_images) > (_limits ->> 'max_images')::integer then
      raise exception 'A benchmark holds at most % images; this one has %.',
        (_limits ->> 'max_images')::integer, jsonb_array_length(_images)
        using errcode = 'check_violation';
    end if;
    for _image in select * from jsonb_array_elements(_images) loop
      _n := _n + 1;
      _what := format('image %s (%s)', _n,
        coalesce(_image ->> 'name', regexp_replace(coalesce(_image ->> 'path', '?'), '^.*/', '')));
      _problem := private.image_size_problem(_image);
      if _problem is not null then
        raise exception 'The width and height of % %.', _what, _problem using errcode = 'check_violation';
      end if;
      if _image ? 'expected' then
        perform private.check_expected_json(_image -> 'expected', 'expected JSON of ' || _what);
      end if;
    end loop;
  end if;
  _bytes := octet_length(coalesce(p_draft.schema_data ->> 'prompt', ''));
  if _bytes > (_limits ->> 'max_prompt_bytes')::integer then
    raise exception 'The prompt is %; the limit is %.', private.human_bytes(_bytes),
      private.human_bytes((_limits ->> 'max_prompt_bytes')::integer)
      using errcode = 'check_violation';
  end if;
  foreach _schema in array array['userSchema', 'inferredSchema'] loop
    _bytes := octet_length(coalesce(p_draft.schema_data -> _schema, 'null'::jsonb)::text);
    if _bytes > (_limits ->> 'max_schema_bytes')::integer then
      raise exception 'The JSON schema is %; the limit is %.', private.human_bytes(_bytes),
        private.human_bytes((_limits ->> 'max_schema_bytes')::integer)
        using errcode = 'check_violation';
    end if;
  end loop;
  if cardinality(p_draft.selected_models) > (_limits ->> 'max_models')::integer then
    raise exception 'A benchmark compares at most % models; this one has %.',
      (_limits ->> 'max_models')::integer, cardinality(p_draft.selected_models)
      using errcode = 'check_violation';
  end if;
end
$$;

-- 1. A ready draft's images are under its owner's folder, by a safe name.
create or replace function private.check_ready_draft() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _unknown text;
begin
  perform private.check_draft_limits(new);
  if new.status <> 'ready' then
    return new;
  end if;
  if jsonb_typeof(_images) is distinct from 'array' or jsonb_array_length(_images) = 0 then
    raise exception 'A ready draft needs at least one image.'
      using errcode = 'check_violation', hint = 'upload_data.images is empty';
  end if;
  for _image in select * from jsonb_array_elements(_images) loop
    if jsonb_typeof(_image -> 'path') is distinct from 'string'
       or (storage.foldername(_image ->> 'path'))[1] is distinct from new.user_id::text
       or not private.storage_name_is_safe(_image ->> 'path') then
      raise exception 'Every image must be stored under the owner''s own folder.'
        using errcode = 'check_violation', detail = left(coalesce(_image ->> 'path', 'missing path'), 200),
              hint = 'each part of the path is letters, digits, ".", "_" or "-", and is neither empty nor starts with a dot';
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
  if coalesce(btrim(new.schema_data ->> 'prompt'), '') = '' then
    raise exception 'A ready draft needs an extraction prompt.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;

-- The same worst case, on image sizes that are checked small numbers.
create or replace function public.estimate_draft_cost(p_draft_id uuid) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  _draft public.benchmark_drafts;
  _limits jsonb := public.draft_limits();
  _text_tokens integer;
  _models jsonb;
  _total numeric;
begin
  select * into _draft from public.benchmark_drafts d
   where d.id = p_draft_id and (d.user_id = auth.uid() or auth.role() = 'service_role');
  if not found then
    raise exception 'no draft % among yours', p_draft_id using errcode = 'PT404';
  end if;
  _text_tokens := private.text_token_bound(
    _draft.schema_data ->> 'prompt',
    coalesce(nullif(_draft.schema_data -> 'userSchema', 'null'::jsonb),
             nullif(_draft.schema_data -> 'inferredSchema', 'null'::jsonb)));
  -- Each image is measured once, each model's price read once: the sum
  -- below is a plain product of the two lists.
  with images as materialized (
    select private.image_pixels(i) as pixels
      from jsonb_array_elements(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) i
  ), models as materialized (
    select c.id, to_jsonb(c) as price, c.max_image_tokens
      from public.model_catalog c
     where c.id = any (_draft.selected_models)
  ), per_model as (
    select m.id,
           coalesce(sum(private.call_worst_case(
             m.price,
             _text_tokens,
             private.image_token_bound(i.pixels, m.max_image_tokens),
             (_limits ->> 'max_answer_tokens')::integer)), 0) as worst
      from models m
      left join images i on true
     group by m.id
  )
  select coalesce(jsonb_object_agg(p.id, round(p.worst, 6)), '{}'::jsonb), coalesce(sum(p.worst), 0)
    into _models, _total
    from per_model p;
  return jsonb_build_object(
    'calls', jsonb_array_length(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) * cardinality(_draft.selected_models),
    'worst_case_usd', round(_total, 6),
    'worst_case_by_model_usd', _models,
    'soft_ceiling_usd', (_limits ->> 'soft_ceiling_usd')::numeric,
    'hard_ceiling_usd', (_limits ->> 'hard_ceiling_usd')::numeric,
    'may_stop_at_ceiling', _total > (_limits ->> 'soft_ceiling_usd')::numeric
  );
end
$$;

-- 5. Unfinished drafts: at most 50 per account, for what a user's own
-- session inserts (operators and the service role are not counted).
-- Serialised per account, so that parallel inserts cannot slip past the
-- count.
create or replace function private.check_open_drafts() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' then
    return new;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('open-drafts:' || new.user_id::text, 0));
  if (select count(*) from public.benchmark_drafts d
       where d.user_id = new.user_id and d.status <> 'paid') >= 50 then
    raise exception 'You have 50 unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.'
      using errcode = 'check_violation';
  end if;
  return new;
end
$$;

revoke all on function private.check_open_drafts() from public, anon, authenticated, service_role;

create trigger benchmark_drafts_b_open_drafts before insert on public.benchmark_drafts
  for each row execute function private.check_open_drafts();

-- 3. One settlement per session -------------------------------------------------

-- The session row a report is made for is marked paid in the report's own
-- transaction; a session already owed a refund (or refunded) refuses it,
-- and the report is not made. The upsert locks the row, so a refund being
-- recorded at the same moment either comes first (and the report is
-- refused) or waits and then leaves the paid session alone.
create or replace function private.mark_checkout_paid() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.checkout_sessions as s (stripe_session_id, draft_id, user_id, status)
  values (new.stripe_session_id, new.draft_id, new.user_id, 'paid')
  on conflict (stripe_session_id) do update set status = 'paid', detail = null
    where s.status not in ('refund_owed', 'refunded');
  if not found then
    raise exception 'checkout session % is owed a refund, so it cannot become a report', new.stripe_session_id
      using errcode = 'PT410';
  end if;
  return null;
end
$$;

revoke all on function private.mark_checkout_paid() from public, anon, authenticated, service_role;

-- 4. What the success page may ask --------------------------------------------

-- A session we created (or Stripe told us about): its state and report.
-- No row: we never made it, so nobody asks Stripe about it.
create or replace function public.checkout_session_state(p_stripe_session_id text)
returns table (status text, report_id uuid)
language sql stable security definer
set search_path = ''
as $$
  select s.status, r.id
    from public.checkout_sessions s
    left join public.reports r on r.stripe_session_id = s.stripe_session_id
   where s.stripe_session_id = p_stripe_session_id
$$;

revoke all on function public.checkout_session_state(text) from public, anon, authenticated, service_role;
grant execute on function public.checkout_session_state(text) to service_role;

drop function public.checkout_session_report(text);

-- 5. Checkouts: at most 20 started an hour per account, counted before
-- Stripe is asked (each one is a Stripe request).
create table private.checkout_admissions (
  user_id uuid not null references auth.users (id) on delete cascade,
  admitted_at timestamptz not null default now()
);

create index checkout_admissions_user_idx on private.checkout_admissions (user_id, admitted_at);

revoke all on private.checkout_admissions from anon, authenticated, service_role;

-- Admits one checkout for the account (true), or refuses (PT429) with when
-- the next one may start.
create or replace function public.admit_checkout(p_user_id uuid) returns boolean
language plpgsql security definer
set search_path = ''
as $$
declare
  _window constant interval := interval '1 hour';
  _limit constant integer := 20;
  _oldest timestamptz;
begin
  if p_user_id is null then
    raise exception 'a user id is required' using errcode = 'PT400';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('checkout-admissions:' || p_user_id::text, 0));
  delete from private.checkout_admissions a
   where a.user_id = p_user_id and a.admitted_at < now() - _window;
  select min(a.admitted_at) into _oldest
    from (select a.admitted_at from private.checkout_admissions a
           where a.user_id = p_user_id order by a.admitted_at desc limit _limit) a
   having count(*) >= _limit;
  if _oldest is not null then
    raise exception 'You have started % checkouts in the last hour, the most we allow. Try again in % minutes.',
      _limit, greatest(1, ceil(extract(epoch from (_oldest + _window - now())) / 60)::integer)
      using errcode = 'PT429';
  end if;
  insert into private.checkout_admissions (user_id) values (p_user_id);
  return true;
end
$$;

revoke all on function public.admit_checkout(uuid) from public, anon, authenticated, service_role;
grant execute on function public.admit_checkout(uuid) to service_role;
