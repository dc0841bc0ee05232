-- Money and time cannot leak.
--
-- 1. A true hard ceiling. The worst case of a call is computed here, from
--    everything the call sends (prompt, schema, the image by its pixels or
--    the model's published maximum, the answer's max_tokens) at the prices
--    the report was paid with, so an engine cannot under-reserve; no
--    reservation ever takes a report's spent + reserved + unsettled money
--    past $7.00, whatever ceiling the engine asks for. A retry whose earlier
--    attempt may have been billed reserves another worst case first. A call
--    whose outcome is unknown is settled at its worst case.
-- 2. Attempts end. A report is claimed at most p_max_attempts times; the
--    claim that would exceed it ends the report instead, with a reason, and
--    a refund when nothing was delivered.
-- 3. The estimate shown before payment is the same worst case, summed.

-- What the product promises, beside the draft's limits.
create or replace function public.draft_limits() returns jsonb
language sql immutable security definer
set search_path = ''
as $$
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
    'hard_ceiling_usd', 7.00
  )
$$;

-- The most tokens one image costs on a model, by the rule its maker
-- publishes (OpenAI: tiles of 512 px, gpt-4o-mini's counts multiplied to
-- price images like gpt-4o; Anthropic: at most about 1.15 megapixels at 750
-- px a token; Qwen2.5-VL: 28 x 28 px a token up to its 12.8 megapixel
-- default; Llama 3.2 Vision: four 560 px tiles; Pixtral: 16 px patches up
-- to 1024 px). Null: no published maximum, so the engine bounds it by the
-- image's pixels (below).
alter table public.model_catalog
  add column max_image_tokens integer check (max_image_tokens > 0);

update public.model_catalog c
   set max_image_tokens = v.tokens
  from (values
    ('openai/gpt-4o', 1445),
    ('openai/gpt-4o-mini', 48169),
    ('anthropic/claude-3.5-sonnet', 1600),
    ('anthropic/claude-3-haiku', 1600),
    ('qwen/qwen-2.5-vl-72b-instruct', 16384),
    ('meta-llama/llama-3.2-11b-vision-instruct', 6404),
    ('mistralai/pixtral-12b', 4160),
    ('mistralai/pixtral-large-2411', 4160)
  ) as v (id, tokens)
 where c.id = v.id;

-- Tokens of an image with no published maximum: no vision model in use
-- spends fewer than 196 pixels (14 x 14) on a token, plus separators.
create or replace function private.image_token_bound(p_pixels bigint, p_max_image_tokens integer)
returns integer
language sql immutable
set search_path = ''
as $$
  select coalesce(p_max_image_tokens, least(ceil(greatest(p_pixels, 0) / 196.0) + 64, 2000000000)::integer)
$$;

-- Tokens of the text a call sends: a token is never shorter than one byte,
-- so the bytes of the prompt and the schema, and of the instructions and
-- message framing around them, bound it.
create or replace function private.text_token_bound(p_prompt text, p_schema jsonb)
returns integer
language sql immutable
set search_path = ''
as $$
  select octet_length(coalesce(p_prompt, '')) + octet_length(coalesce(p_schema::text, '')) + 512
$$;

-- The most one HTTP attempt can cost at `p_price` (a snapshotted price:
-- US dollars per million prompt and completion tokens, per image, per
-- request).
create or replace function private.call_worst_case(
  p_price jsonb,
  p_text_tokens integer,
  p_image_tokens integer,
  p_max_tokens integer
) returns numeric
language sql immutable
set search_path = ''
as $$
  select round(
    ((p_text_tokens + p_image_tokens)::numeric * (p_price ->> 'prompt_usd_per_mtok')::numeric
      + p_max_tokens::numeric * (p_price ->> 'completion_usd_per_mtok')::numeric) / 1000000
    + coalesce((p_price ->> 'image_usd')::numeric, 0)
    + coalesce((p_price ->> 'request_usd')::numeric, 0),
    6)
$$;

create or replace function private.hard_ceiling_usd() returns numeric
language sql immutable
set search_path = ''
as $$ select (public.draft_limits() ->> 'hard_ceiling_usd')::numeric $$;

-- The ledger: a reservation covers `attempts` attempts at `per_attempt`.
alter table private.run_reservations
  add column per_attempt numeric(10, 6) not null default 0 check (per_attempt >= 0),
  add column attempts integer not null default 1 check (attempts >= 1);
update private.run_reservations set per_attempt = amount;

-- How a run's cost is known: every HTTP attempt made, and how many of them
-- were settled at their worst case because their outcome is unknown.
alter table public.benchmark_runs
  add column attempts integer not null default 1 check (attempts >= 0),
  add column attempts_at_worst_case integer not null default 0
    check (attempts_at_worst_case between 0 and attempts);

drop function public.reserve_run(uuid, uuid, text, integer, numeric, numeric);

-- Reserves the worst case of one call before it is sent: the amount
-- reserved, or null when that would take committed money (spent + reserved
-- + unsettled) past `p_soft_ceiling` or the hard ceiling, whichever is
-- lower. PT422: the model has no price in the report, so it must not be
-- called. PT409: the cell has a result or a reservation already.
create or replace function public.reserve_run(
  p_report_id uuid,
  p_lease_token uuid,
  p_model_id text,
  p_image_index integer,
  p_image_pixels bigint,
  p_max_tokens integer,
  p_soft_ceiling numeric
) returns numeric
language plpgsql security definer
set search_path = ''
as $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _price jsonb := _report.config_snapshot -> 'model_prices' -> p_model_id;
  _amount numeric;
begin
  if p_image_pixels is null or p_image_pixels < 0 or p_max_tokens is null or p_max_tokens not between 1 and 100000
     or p_soft_ceiling is null then
    raise exception 'image pixels, max tokens and a ceiling are required' using errcode = 'PT400';
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
    p_max_tokens);
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _amount
       > least(p_soft_ceiling, private.hard_ceiling_usd()) then
    return null;
  end if;
  insert into private.run_reservations (report_id, model_id, image_index, lease_token, amount, per_attempt)
  values (p_report_id, p_model_id, p_image_index, p_lease_token, _amount, _amount);
  update public.reports set cost_reserved = cost_reserved + _amount where id = p_report_id;
  return _amount;
end
$$;

-- Another attempt of a call whose earlier attempt may have been billed (its
-- outcome is unknown): reserves one more worst case, if the hard ceiling
-- allows. False: do not send it.
create or replace function public.reserve_retry(
  p_report_id uuid,
  p_lease_token uuid,
  p_model_id text,
  p_image_index integer
) returns boolean
language plpgsql security definer
set search_path = ''
as $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _per_attempt numeric;
begin
  select r.per_attempt into _per_attempt
    from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index;
  if not found then
    raise exception 'model % on image % has no call in flight', p_model_id, p_image_index using errcode = 'PT404';
  end if;
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _per_attempt > private.hard_ceiling_usd() then
    return false;
  end if;
  update private.run_reservations r
     set amount = r.amount + _per_attempt, attempts = r.attempts + 1
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index;
  update public.reports set cost_reserved = cost_reserved + _per_attempt where id = p_report_id;
  return true;
end
$$;

-- Records a call's result in place of its reservation. Its cost is what
-- the provider reported (`cost`) plus the worst case of every attempt whose
-- outcome is unknown (`attempts_at_worst_case`). Idempotent per cell.
create or replace function public.record_run(
  p_report_id uuid,
  p_lease_token uuid,
  p_run jsonb
) returns boolean
language plpgsql security definer
set search_path = ''
as $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _model text := p_run ->> 'model_id';
  _image integer := (p_run ->> 'image_index')::integer;
  _at_worst integer := coalesce((p_run ->> 'attempts_at_worst_case')::integer, 0);
  _reserved numeric;
  _per_attempt numeric;
  _cost numeric;
  _inserted boolean;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = _model and r.image_index = _image
  returning r.amount, r.per_attempt into _reserved, _per_attempt;
  _cost := coalesce((p_run ->> 'cost')::numeric, 0) + _at_worst * coalesce(_per_attempt, 0);

  insert into public.benchmark_runs (
    report_id, model_id, image_index, output_json, response_time_ms, prompt_tokens,
    completion_tokens, total_tokens, cost, passed, field_diffs, fields_total, fields_matched, error,
    attempts, attempts_at_worst_case
  ) values (
    p_report_id, _model, _image, p_run ->> 'output_json',
    coalesce((p_run ->> 'response_time_ms')::integer, 0),
    coalesce((p_run ->> 'prompt_tokens')::integer, 0),
    coalesce((p_run ->> 'completion_tokens')::integer, 0),
    coalesce((p_run ->> 'total_tokens')::integer, 0),
    _cost,
    coalesce((p_run ->> 'passed')::boolean, false),
    coalesce(p_run -> 'field_diffs', '[]'::jsonb),
    coalesce((p_run ->> 'fields_total')::integer, 0),
    coalesce((p_run ->> 'fields_matched')::integer, 0),
    p_run ->> 'error',
    coalesce((p_run ->> 'attempts')::integer, 1),
    _at_worst
  )
  on conflict (report_id, model_id, image_index) do nothing
  returning true into _inserted;

  update public.reports
     set cost_reserved = greatest(cost_reserved - coalesce(_reserved, 0), 0),
         cost_spent = cost_spent + case when _inserted then _cost else 0 end,
         runs_done = runs_done + case when _inserted then 1 else 0 end
   where id = p_report_id;
  return coalesce(_inserted, false);
end
$$;

-- Ends a report its engines could not finish in `p_attempts` claims: what
-- was delivered is kept (complete, cut short); with nothing delivered it
-- fails, which schedules its refund (013).
create or replace function private.give_up_report(p_report_id uuid, p_attempts integer)
returns void
language plpgsql
set search_path = ''
as $$
declare
  _delivered integer;
  _planned integer;
begin
  select count(b.id) filter (where b.error is null), r.runs_planned into _delivered, _planned
    from public.reports r
    left join public.benchmark_runs b on b.report_id = r.id
   where r.id = p_report_id
   group by r.runs_planned;
  update public.reports r
     set status = case when _delivered > 0 then 'complete' else 'failed' end,
         cut_short = _delivered > 0,
         status_reason = case
           when _delivered > 0 then format(
             'Stopped after %s interrupted attempts: %s of %s runs were made.',
             p_attempts, (select count(*) from public.benchmark_runs b where b.report_id = r.id), _planned)
           else format(
             'The benchmark was interrupted %s times and could not finish. You will be refunded.', p_attempts)
         end,
         finished_at = now(),
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         runs_done = (select count(*) from public.benchmark_runs b where b.report_id = r.id)
   where r.id = p_report_id;
end
$$;

drop function public.claim_next_report(text, integer);

-- Claims the report that waited longest (one whose engine died first). A
-- report already claimed `p_max_attempts` times is not run again: it ends
-- here (give_up_report) and the next one is looked at.
create or replace function public.claim_next_report(
  p_worker text,
  p_lease_seconds integer default 90,
  p_max_attempts integer default 3
) returns setof public.reports
language plpgsql security definer
set search_path = ''
as $$
declare
  _id uuid;
  _attempts integer;
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  if p_max_attempts is null or p_max_attempts not between 1 and 1000 then
    raise exception 'attempts must be between 1 and 1000' using errcode = 'PT400';
  end if;
  -- Bounded: each pass either claims a report or ends one for good.
  for _pass in 1..20 loop
    _id := null;
    select c.id, c.attempts into _id, _attempts
      from public.reports c
     where c.status = 'running' and c.lease_expires_at < now()
     order by c.lease_expires_at
     limit 1
     for update skip locked;
    if _id is null then
      select c.id, c.attempts into _id, _attempts
        from public.reports c
       where c.status = 'paid'
       order by c.paid_at, c.id
       limit 1
       for update skip locked;
    end if;
    if _id is null then
      return;
    end if;
    if _attempts < p_max_attempts then
      return query
      update public.reports r
         set status = 'running',
             lease_owner = p_worker,
             lease_token = gen_random_uuid(),
             lease_expires_at = now() + make_interval(secs => p_lease_seconds),
             attempts = r.attempts + 1,
             started_at = coalesce(r.started_at, now())
       where r.id = _id
      returning r.*;
      return;
    end if;
    perform private.give_up_report(_id, _attempts);
  end loop;
end
$$;

-- The worst case of a draft, as it would be run now: every selected model
-- on every image, each call at its worst case (image pixels as the wizard
-- measured them, else those of an A4 page scanned at 300 dpi). The owner's
-- own drafts only.
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
  select coalesce(jsonb_object_agg(c.id, round(per_model.worst, 6)), '{}'::jsonb), coalesce(sum(per_model.worst), 0)
    into _models, _total
    from public.model_catalog c
    cross join lateral (
      select coalesce(sum(private.call_worst_case(
               to_jsonb(c),
               _text_tokens,
               private.image_token_bound(
                 case when jsonb_typeof(i -> 'width') = 'number' and jsonb_typeof(i -> 'height') = 'number'
                      then least((i ->> 'width')::numeric * (i ->> 'height')::numeric, 1e12)::bigint
                      else 2480 * 3508 end,
                 c.max_image_tokens),
               (_limits ->> 'max_answer_tokens')::integer)), 0) as worst
        from jsonb_array_elements(coalesce(_draft.upload_data -> 'images', '[]'::jsonb)) i
    ) per_model
   where c.id = any (_draft.selected_models);
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

revoke all on function private.give_up_report(uuid, integer) from public, anon, authenticated, service_role;
revoke all on function public.reserve_run(uuid, uuid, text, integer, bigint, integer, numeric) from public, anon, authenticated, service_role;
revoke all on function public.reserve_retry(uuid, uuid, text, integer) from public, anon, authenticated, service_role;
revoke all on function public.record_run(uuid, uuid, jsonb) from public, anon, authenticated, service_role;
revoke all on function public.claim_next_report(text, integer, integer) from public, anon, authenticated, service_role;
revoke all on function public.estimate_draft_cost(uuid) from public, anon, authenticated, service_role;
grant execute on function public.reserve_run(uuid, uuid, text, integer, bigint, integer, numeric) to service_role;
grant execute on function public.reserve_retry(uuid, uuid, text, integer) to service_role;
grant execute on function public.record_run(uuid, uuid, jsonb) to service_role;
grant execute on function public.claim_next_report(text, integer, integer) to service_role;
grant execute on function public.estimate_draft_cost(uuid) to authenticated, service_role;
