-- One home per limit: draft_limits() also states each account's limits
-- (50 unfinished drafts, 500 stored images, 20 checkouts an hour) and the
-- 20,000 px side, and the functions that enforce them read them there;
-- reserve_run and reserve_runs take the answer length and the soft ceiling
-- from it too, instead of from the engine. Generated from supabase/schemas
-- by scripts/db-diff.
--
-- reserve_run and reserve_runs lose their last two arguments: push the
-- database, then the binary, right after. An older engine in between
-- fails to reserve and stops; its report is claimed again when its lease
-- expires (one of the report's three attempts).

SET local check_function_bodies = off;

DROP FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint, integer, numeric);

DROP FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb, integer, numeric);

CREATE OR REPLACE FUNCTION private.check_open_drafts()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _limit integer;
begin
  if auth.role() is distinct from 'authenticated' then
    return new;
  end if;
  perform pg_advisory_xact_lock(hashtextextended('open-drafts:' || new.user_id::text, 0));
  _limit := (public.draft_limits() ->> 'max_open_drafts')::integer;
  if (select count(*) from public.benchmark_drafts d
       where d.user_id = new.user_id and d.status <> 'paid') >= _limit then
    raise exception 'You have % unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.',
      _limit using errcode = 'check_violation';
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION private.check_storage_quota (
  p_user_id uuid
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION private.image_size_problem (
  p_image jsonb
)
  RETURNS text
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  -- A CASE's branches are tried in order, so nothing is cast before its
  -- text is known to be a short whole number.
  -- The side's limit (draft_limits().max_image_side_px) has at most 5
  -- digits, so a longer number is refused before it is cast.
  select case
    when coalesce(p_image -> 'width', 'null'::jsonb) = 'null'::jsonb
         and coalesce(p_image -> 'height', 'null'::jsonb) = 'null'::jsonb then null
    when jsonb_typeof(p_image -> 'width') is distinct from 'number'
         or jsonb_typeof(p_image -> 'height') is distinct from 'number'
      then l.rule
    when (p_image ->> 'width') !~ '^[0-9]{1,5}$' or (p_image ->> 'height') !~ '^[0-9]{1,5}$'
      then l.rule
    when (p_image ->> 'width')::integer not between 1 and l.side
         or (p_image ->> 'height')::integer not between 1 and l.side
      then l.rule
  end
  from (select side, 'must be whole numbers of pixels from 1 to ' || to_char(side, 'FM999,999') as rule
          from (select (public.draft_limits() ->> 'max_image_side_px')::integer as side) s) l
$function$;

CREATE OR REPLACE FUNCTION public.admit_checkout (
  p_user_id uuid
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _window constant interval := interval '1 hour';
  _limit constant integer := (public.draft_limits() ->> 'max_checkouts_per_hour')::integer;
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
$function$;

CREATE OR REPLACE FUNCTION public.draft_limits()
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'max_images', 50,
    'max_image_bytes', 10485760,
    'max_models', 10,
    'max_expected_bytes', 65536,
    'max_depth', 16,
    'max_array_items', 200,
    'max_fields', 2000,
    'max_prompt_bytes', 8192,
    'max_schema_bytes', 32768,
    'max_answer_tokens', 1024,
    'soft_ceiling_usd', 6.50,
    'hard_ceiling_usd', 7.00,
    'max_image_side_px', 20000,
    'max_open_drafts', 50,
    'max_stored_images', 500,
    'max_checkouts_per_hour', 20
  )
$function$;

CREATE OR REPLACE FUNCTION public.reserve_run (
  p_report_id    uuid,
  p_lease_token  uuid,
  p_model_id     text,
  p_image_index  integer,
  p_image_pixels bigint
)
  RETURNS numeric
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _price jsonb := _report.config_snapshot -> 'model_prices' -> p_model_id;
  _limits constant jsonb := public.draft_limits();
  _amount numeric;
begin
  if p_image_pixels is null or p_image_pixels < 0 then
    raise exception 'an image''s pixels are required' using errcode = 'PT400';
  end if;
  if jsonb_typeof(_price -> 'prompt_usd_per_mtok') is distinct from 'number'
     or jsonb_typeof(_price -> 'completion_usd_per_mtok') is distinct from 'number' then
    raise exception 'no price is known for model %', p_model_id using errcode = 'PT422';
  end if;
  if exists (select 1 from public.benchmark_runs b
              where b.report_id = p_report_id and b.model_id = p_model_id and b.image_index = p_image_index)
     or exists (select 1 from private.run_reservations r
                 where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index) then
    raise exception 'model % on image % has a result or a call in flight already', p_model_id, p_image_index
      using errcode = 'PT409';
  end if;
  _amount := private.call_worst_case(
    _price,
    private.text_token_bound(_report.extraction_prompt, _report.json_schema),
    private.image_token_bound(p_image_pixels,
      (select c.max_image_tokens from public.model_catalog c where c.id = p_model_id)),
    (_limits ->> 'max_answer_tokens')::integer);
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _amount
       > least((_limits ->> 'soft_ceiling_usd')::numeric, (_limits ->> 'hard_ceiling_usd')::numeric) then
    return null;
  end if;
  insert into private.run_reservations (report_id, model_id, image_index, lease_token, amount, per_attempt)
  values (p_report_id, p_model_id, p_image_index, p_lease_token, _amount, _amount);
  update public.reports set cost_reserved = cost_reserved + _amount where id = p_report_id;
  return _amount;
end
$function$;


CREATE OR REPLACE FUNCTION public.reserve_runs (
  p_report_id   uuid,
  p_lease_token uuid,
  p_cells       jsonb
)
  RETURNS TABLE (
    model_id    text,
    image_index integer,
    amount      numeric
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _cell jsonb;
begin
  if jsonb_typeof(p_cells) is distinct from 'array' or jsonb_array_length(p_cells) > 20 then
    raise exception 'cells are a list of at most 20' using errcode = 'PT400';
  end if;
  for _cell in select c from jsonb_array_elements(p_cells) c loop
    model_id := _cell ->> 'model_id';
    image_index := (_cell ->> 'image_index')::integer;
    amount := public.reserve_run(p_report_id, p_lease_token, model_id, image_index,
                                 (_cell ->> 'image_pixels')::bigint);
    return next;
    exit when amount is null;
  end loop;
end
$function$;


COMMENT ON FUNCTION "private"."check_open_drafts"() IS 'Unfinished drafts: at most draft_limits().max_open_drafts per account, for what a user''s own session inserts (operators and the service role are not counted). Serialised per account, so that parallel inserts cannot slip past the count.';

COMMENT ON FUNCTION "private"."check_storage_quota"(uuid) IS 'Stored files: at most draft_limits().max_stored_images per account, raised as Storage''s own refusal (42501), whose message Storage passes on to the client. Volatile and serialised per account: a second upload waits until the first one''s transaction ends, then counts it.';

COMMENT ON FUNCTION "private"."image_size_problem"(jsonb) IS 'Why an image''s stated size cannot be used, or null: absent is fine (the estimate then assumes an A4 page at 300 dpi), present must be whole pixels from 1 to draft_limits().max_image_side_px.';

COMMENT ON FUNCTION "public"."draft_limits"() IS 'The limits every draft is held to, each account''s (unfinished drafts, stored images, checkouts an hour), and what the product promises beside them (the ceilings, the longest answer a call asks for): the database enforces them from here, and the wizard and the engine read them here.';

COMMENT ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint) IS 'Computes one call''s worst case from the report''s prompt, schema and snapshotted price, the image''s pixels (or the model''s max_image_tokens) and an answer of draft_limits().max_answer_tokens, reserves it and returns it; null when committed money (spent + reserved + unsettled) would pass draft_limits().soft_ceiling_usd (or the hard ceiling, were it lower): the engine names no limit of its own. PT422 for a model without a price, PT409 for a cell with a result or a reservation. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb) IS 'Reserves the cells of `p_cells` ([{model_id, image_index, image_pixels}], at most 20) in order, each as reserve_run would, and stops at the first the money does not allow: that one comes back with a null amount and nothing after it is reserved.';

COMMENT ON TABLE "private"."checkout_admissions" IS 'Checkouts: at most draft_limits().max_checkouts_per_hour started an hour per account, counted before Stripe is asked (each one is a Stripe request).';

REVOKE ALL ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint) TO "service_role";

REVOKE ALL ON FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb) TO "service_role";
