-- Follow-ups are claimed the way reports are.
--
-- Until now every engine's sweep read the follow-ups due (a plain select)
-- and did them: two engines could send the same email or refund at once,
-- and both could count the same failure. Now an engine claims a batch with
-- FOR UPDATE SKIP LOCKED under a lease (a fencing token and an expiry), the
-- claim counts the attempt, and only the holder of the lease can record
-- the follow-up done or failed. A follow-up whose engine died is claimed
-- again once its lease expires.
--
-- Also here: the schema answers are held to (the user's, else the inferred
-- one) is decided in one place, private.effective_schema, which payment
-- (fulfill_checkout) and the estimate use.

alter table private.followups
  add column lease_token uuid,
  add column lease_expires_at timestamptz;

drop function public.due_followups(integer);
drop function public.complete_followup(bigint, text);
drop function public.fail_followup(bigint, text, integer, integer, integer);

-- Claims up to `p_limit` follow-ups whose time has come, the
-- longest-waiting first, for `p_lease_seconds`; concurrent callers never
-- get the same one. Each comes with what doing it needs (see 017) and the
-- lease token that fences its completion or failure.
create or replace function public.claim_followups(
  p_worker text,
  p_limit integer default 50,
  p_lease_seconds integer default 120
) returns table (
  id bigint,
  lease_token uuid,
  subject text,
  kind text,
  attempts integer,
  report_id uuid,
  stripe_session_id text,
  status text,
  status_reason text,
  email text,
  refund_state text
)
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  return query
  with claimed as (
    update private.followups f
       set lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           attempts = f.attempts + 1
     where f.id in (
       select c.id from private.followups c
        where c.done_at is null and c.next_attempt_at <= now()
          and (c.lease_expires_at is null or c.lease_expires_at < now())
        order by c.next_attempt_at, c.created_at
        limit greatest(least(p_limit, 1000), 0)
        for update skip locked)
    returning f.*
  )
  select f.id, f.lease_token,
         case when f.report_id is not null then 'report' else 'session' end,
         f.kind, f.attempts,
         coalesce(r.id, (select dr.id from public.reports dr where dr.draft_id = s.draft_id
                          order by dr.created_at limit 1)),
         coalesce(r.stripe_session_id, s.stripe_session_id),
         coalesce(r.status, s.status),
         coalesce(r.status_reason, s.detail),
         u.email::text,
         case
           when coalesce(r.refund_id, s.refund_id) is not null then 'refunded'
           when refund.id is null then 'none'
           when refund.alerted_at is not null then 'failing'
           else 'pending'
         end
    from claimed f
    left join public.reports r on r.id = f.report_id
    left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
    left join auth.users u on u.id = coalesce(r.user_id, s.user_id)
    left join private.followups refund
      on refund.kind = 'refund'
     and (refund.report_id = f.report_id or refund.stripe_session_id = f.stripe_session_id)
   order by f.next_attempt_at, f.created_at;
end
$$;

-- A claimed follow-up is done: the email went out, or the refund was made
-- (its Stripe id recorded on the report or the session). False when the
-- lease is no longer held (it expired and another engine has it, or it is
-- done already): nothing is written.
create or replace function public.complete_followup(
  p_id bigint,
  p_lease_token uuid,
  p_refund_id text default null
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _f private.followups;
begin
  select * into _f from private.followups f
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
     for update;
  if not found then
    return false;
  end if;
  if _f.kind = 'refund' and coalesce(btrim(p_refund_id), '') = '' then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
  update private.followups f
     set done_at = now(), last_error = null, lease_token = null, lease_expires_at = null
   where f.id = p_id;
  if _f.kind = 'email' and _f.report_id is not null then
    update public.reports set email_sent_at = now(), followup_error = null where id = _f.report_id;
  elsif _f.kind = 'refund' and _f.report_id is not null then
    update public.reports set refund_id = p_refund_id, refunded_at = now(), followup_error = null
     where id = _f.report_id;
  elsif _f.kind = 'refund' then
    update public.checkout_sessions set refund_id = p_refund_id, refunded_at = now(), status = 'refunded'
     where stripe_session_id = _f.stripe_session_id;
  end if;
  return true;
end
$$;

-- A claimed follow-up failed: its lease ends, and the next claim waits
-- twice as long as the last (from p_base_seconds, at most p_cap_seconds,
-- with 20% jitter); the claim counted the attempt. `alert`: true exactly
-- once, when the attempts reach p_alert_after (alert an operator);
-- `held`: false when the lease is no longer held (nothing written).
create or replace function public.fail_followup(
  p_id bigint,
  p_lease_token uuid,
  p_error text,
  p_base_seconds integer,
  p_cap_seconds integer,
  p_alert_after integer,
  out held boolean,
  out alert boolean
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _f private.followups;
begin
  if p_base_seconds is null or p_base_seconds < 1 or p_cap_seconds is null or p_cap_seconds < p_base_seconds
     or p_alert_after is null or p_alert_after < 1 then
    raise exception 'backoff needs 1 <= base <= cap and an alert threshold of at least 1'
      using errcode = 'PT400';
  end if;
  update private.followups f
     set last_error = left(p_error, 1000),
         lease_token = null,
         lease_expires_at = null,
         next_attempt_at = now() + make_interval(secs =>
           least(p_cap_seconds, p_base_seconds * power(2, least(greatest(f.attempts - 1, 0), 30)))
           * (0.8 + random() * 0.4)),
         alerted_at = case when f.attempts >= p_alert_after then coalesce(f.alerted_at, now())
                           else f.alerted_at end
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
  returning * into _f;
  held := found;
  if held and _f.report_id is not null then
    update public.reports set followup_error = left(_f.kind || ': ' || p_error, 1000) where id = _f.report_id;
  end if;
  alert := coalesce(held and _f.attempts = p_alert_after, false);
end
$$;

revoke all on function public.claim_followups(text, integer, integer) from public, anon, authenticated, service_role;
revoke all on function public.complete_followup(bigint, uuid, text) from public, anon, authenticated, service_role;
revoke all on function public.fail_followup(bigint, uuid, text, integer, integer, integer) from public, anon, authenticated, service_role;
grant execute on function public.claim_followups(text, integer, integer) to service_role;
grant execute on function public.complete_followup(bigint, uuid, text) to service_role;
grant execute on function public.fail_followup(bigint, uuid, text, integer, integer, integer) to service_role;

-- The effective schema --------------------------------------------------------

-- The schema answers are held to: the user's own, else the inferred one
-- (`schema_data` is {"prompt", "userSchema", "inferredSchema"}).
create or replace function private.effective_schema(p_schema_data jsonb) returns jsonb
language sql immutable
set search_path = ''
as $$
  select coalesce(nullif(p_schema_data -> 'userSchema', 'null'::jsonb),
                  nullif(p_schema_data -> 'inferredSchema', 'null'::jsonb))
$$;

revoke all on function private.effective_schema(jsonb) from public, anon, authenticated, service_role;

-- Payment snapshots the draft with its effective schema; the estimate
-- counts the same schema (both as before, now from the one function).
create or replace function public.fulfill_checkout(
  p_stripe_session_id text,
  p_draft_id uuid,
  p_user_id uuid
) returns table (report_id uuid, created boolean)
language plpgsql security definer
set search_path = ''
as $$
declare
  _draft public.benchmark_drafts;
  _report_id uuid;
  _report_draft_id uuid;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' or p_draft_id is null or p_user_id is null then
    raise exception 'session id, draft id and user id are all required' using errcode = 'PT400';
  end if;

  select * into _draft from public.benchmark_drafts d where d.id = p_draft_id for update;
  if not found then
    raise exception 'draft % does not exist', p_draft_id using errcode = 'PT404';
  end if;
  if _draft.user_id <> p_user_id then
    raise exception 'draft % does not belong to user %', p_draft_id, p_user_id using errcode = 'PT403';
  end if;

  if _draft.status = 'ready' then
    insert into public.reports (
      user_id, draft_id, stripe_session_id, status, config_snapshot,
      image_paths, extraction_prompt, json_schema, runs_planned
    )
    select
      _draft.user_id,
      _draft.id,
      p_stripe_session_id,
      'paid',
      jsonb_build_object(
        'config_data', _draft.config_data,
        'upload_data', _draft.upload_data,
        'schema_data', _draft.schema_data,
        'selected_models', to_jsonb(_draft.selected_models),
        'model_prices', (
          select coalesce(jsonb_object_agg(c.id, jsonb_build_object(
                   'display_name', c.display_name,
                   'prompt_usd_per_mtok', c.prompt_usd_per_mtok,
                   'completion_usd_per_mtok', c.completion_usd_per_mtok,
                   'image_usd', c.image_usd,
                   'request_usd', c.request_usd,
                   'supports_json_schema', c.supports_json_schema)), '{}'::jsonb)
            from public.model_catalog c
           where c.id = any (_draft.selected_models))
      ),
      array(select i ->> 'path'
              from jsonb_array_elements(_draft.upload_data -> 'images') with ordinality as e (i, n)
             order by n),
      _draft.schema_data ->> 'prompt',
      private.effective_schema(_draft.schema_data),
      jsonb_array_length(_draft.upload_data -> 'images') * cardinality(_draft.selected_models)
    on conflict (stripe_session_id) do nothing
    returning id into _report_id;

    if _report_id is not null then
      update public.benchmark_drafts set status = 'paid' where id = _draft.id;
      return query select _report_id, true;
      return;
    end if;
  end if;

  select r.id, r.draft_id into _report_id, _report_draft_id
    from public.reports r
   where r.stripe_session_id = p_stripe_session_id;
  if found then
    if _report_draft_id is distinct from p_draft_id then
      raise exception 'checkout session % paid for another draft', p_stripe_session_id
        using errcode = 'PT409';
    end if;
    return query select _report_id, false;
    return;
  end if;

  if _draft.status = 'paid' then
    raise exception 'draft % was already paid through another checkout session', p_draft_id
      using errcode = 'PT409';
  end if;
  raise exception 'draft % is not ready to be paid for (status %)', p_draft_id, _draft.status
    using errcode = 'PT422';
end
$$;

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
    _draft.schema_data ->> 'prompt', private.effective_schema(_draft.schema_data));
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
