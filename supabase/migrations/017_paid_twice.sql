-- Paid twice, refunded automatically.
--
-- A paid Checkout Session we created that cannot become a report (its
-- draft already has one through another session, was deleted, is no
-- longer ready, or the amount is not our price) is `refund_owed`: its
-- refund and an email to its payer are follow-ups like a failed report's,
-- and the refund's id is recorded on the session (`refunded`).
--
-- Every session we create is recorded `open`, so that creating a new one
-- for a draft can expire the draft's older open ones at Stripe: normally
-- there is only ever one to pay.

alter table public.checkout_sessions
  add column refund_id text,
  add column refunded_at timestamptz,
  drop constraint checkout_sessions_status_check,
  add constraint checkout_sessions_status_check check (status in (
    'open', 'awaiting_payment', 'paid', 'payment_failed', 'expired', 'rejected', 'refund_owed', 'refunded'));

create index checkout_sessions_open_idx on public.checkout_sessions (draft_id) where status = 'open';

-- Records a session's state (see 008). `open` only records a session not
-- yet known; paid, refund_owed and refunded are final for everything here.
create or replace function public.record_checkout_session(
  p_stripe_session_id text,
  p_status text,
  p_draft_id uuid default null,
  p_amount_total integer default null,
  p_currency text default null,
  p_detail text default null
) returns text
language plpgsql security definer
set search_path = ''
as $$
declare
  _status text;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' then
    raise exception 'session id is required' using errcode = 'PT400';
  end if;
  if p_status is null or p_status not in ('open', 'awaiting_payment', 'payment_failed', 'expired', 'rejected', 'refund_owed') then
    raise exception 'cannot record a session as %', coalesce(p_status, 'null') using errcode = 'PT400';
  end if;
  insert into public.checkout_sessions as s
    (stripe_session_id, draft_id, user_id, status, amount_total, currency, detail)
  select p_stripe_session_id, d.id, d.user_id, p_status, p_amount_total, p_currency, p_detail
    from (select 1) as one
    left join public.benchmark_drafts d on d.id = p_draft_id
  on conflict (stripe_session_id) do update
    set status = excluded.status,
        detail = excluded.detail,
        amount_total = coalesce(excluded.amount_total, s.amount_total),
        currency = coalesce(excluded.currency, s.currency)
    where s.status not in ('paid', 'refund_owed', 'refunded') and p_status <> 'open'
  returning s.status into _status;
  if _status is null then
    select s.status into _status from public.checkout_sessions s where s.stripe_session_id = p_stripe_session_id;
  end if;
  return _status;
end
$$;

-- A new session for a draft: recorded `open`, and the ids of the draft's
-- other open sessions returned, for the caller to expire at Stripe.
create or replace function public.open_checkout_session(p_stripe_session_id text, p_draft_id uuid)
returns text[]
language plpgsql security definer
set search_path = ''
as $$
begin
  perform public.record_checkout_session(p_stripe_session_id, 'open', p_draft_id);
  return array(
    select s.stripe_session_id from public.checkout_sessions s
     where s.draft_id = p_draft_id and s.status = 'open' and s.stripe_session_id <> p_stripe_session_id
     order by s.created_at);
end
$$;

-- Follow-ups now serve reports and sessions alike: one row per subject and
-- kind, named by an id of its own.
alter table private.report_followups rename to followups;
drop view private.stuck_followups;
alter table private.followups
  drop constraint report_followups_pkey,
  add column id bigint generated always as identity primary key,
  alter column report_id drop not null,
  add column stripe_session_id text references public.checkout_sessions (stripe_session_id) on delete cascade,
  add constraint followups_one_subject check (num_nonnulls(report_id, stripe_session_id) = 1),
  add constraint followups_report_kind unique (report_id, kind),
  add constraint followups_session_kind unique (stripe_session_id, kind);
alter index private.report_followups_due_idx rename to followups_due_idx;

create view private.stuck_followups as
select f.id, f.report_id, f.stripe_session_id, f.kind, f.attempts, f.last_error, f.alerted_at, f.next_attempt_at,
       coalesce(r.status, s.status) as status
  from private.followups f
  left join public.reports r on r.id = f.report_id
  left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
 where f.done_at is null and f.alerted_at is not null;

create or replace function private.schedule_followups() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into private.followups (report_id, kind)
  values (new.id, 'email')
  on conflict do nothing;
  if new.status = 'failed' and new.stripe_session_id is not null then
    insert into private.followups (report_id, kind)
    values (new.id, 'refund')
    on conflict do nothing;
  end if;
  return null;
end
$$;

create or replace function private.schedule_session_refund() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into private.followups (stripe_session_id, kind)
  values (new.stripe_session_id, 'refund'), (new.stripe_session_id, 'email')
  on conflict do nothing;
  return null;
end
$$;

create trigger checkout_sessions_schedule_refund
  after insert or update of status on public.checkout_sessions
  for each row when (new.status = 'refund_owed')
  execute function private.schedule_session_refund();

drop function public.due_report_followups(integer);
drop function public.complete_report_followup(uuid, text, text);
drop function public.fail_report_followup(uuid, text, text, integer, integer, integer);

-- Follow-ups whose time has come, the longest-waiting first, with what
-- doing them needs. `subject` is 'report' or 'session'; a session's
-- `report_id` is its draft's report, when there is one (the one the payer
-- did get). `refund_state`: 'refunded', 'pending', 'failing' (an operator
-- has been alerted) or 'none' (nothing was paid, so nothing is refunded).
create or replace function public.due_followups(p_limit integer default 50)
returns table (
  id bigint,
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
language sql stable security definer
set search_path = ''
as $$
  select f.id,
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
    from private.followups f
    left join public.reports r on r.id = f.report_id
    left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
    left join auth.users u on u.id = coalesce(r.user_id, s.user_id)
    left join private.followups refund
      on refund.kind = 'refund'
     and (refund.report_id = f.report_id or refund.stripe_session_id = f.stripe_session_id)
   where f.done_at is null and f.next_attempt_at <= now()
   order by f.next_attempt_at, f.created_at
   limit greatest(least(p_limit, 1000), 0)
$$;

-- A follow-up is done: the email went out, or the refund was made (its
-- Stripe id recorded on the report or the session). False when it was
-- done already.
create or replace function public.complete_followup(p_id bigint, p_refund_id text default null)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _f private.followups;
begin
  update private.followups f
     set done_at = now(), last_error = null
   where f.id = p_id and f.done_at is null
  returning * into _f;
  if not found then
    return false;
  end if;
  if _f.kind = 'refund' and coalesce(btrim(p_refund_id), '') = '' then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
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

-- A follow-up failed: the next attempt waits twice as long as the last
-- (from p_base_seconds, at most p_cap_seconds, with 20% jitter). True
-- exactly once, when the failures reach p_alert_after: alert an operator.
create or replace function public.fail_followup(
  p_id bigint,
  p_error text,
  p_base_seconds integer,
  p_cap_seconds integer,
  p_alert_after integer
) returns boolean
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
     set attempts = f.attempts + 1,
         last_error = left(p_error, 1000),
         next_attempt_at = now() + make_interval(secs =>
           least(p_cap_seconds, p_base_seconds * power(2, least(f.attempts, 30)))
           * (0.8 + random() * 0.4)),
         alerted_at = case when f.attempts + 1 >= p_alert_after then coalesce(f.alerted_at, now())
                           else f.alerted_at end
   where f.id = p_id and f.done_at is null
  returning * into _f;
  if _f.report_id is not null then
    update public.reports set followup_error = left(_f.kind || ': ' || p_error, 1000) where id = _f.report_id;
  end if;
  return coalesce(_f.attempts = p_alert_after, false);
end
$$;

-- What a payer sees of their sessions now includes the refund.
grant select (refund_id, refunded_at) on public.checkout_sessions to authenticated;

revoke all on private.followups from anon, authenticated, service_role;
revoke all on private.stuck_followups from anon, authenticated, service_role;
revoke all on function private.schedule_session_refund() from public, anon, authenticated, service_role;
revoke all on function public.open_checkout_session(text, uuid) from public, anon, authenticated, service_role;
revoke all on function public.due_followups(integer) from public, anon, authenticated, service_role;
revoke all on function public.complete_followup(bigint, text) from public, anon, authenticated, service_role;
revoke all on function public.fail_followup(bigint, text, integer, integer, integer) from public, anon, authenticated, service_role;
grant execute on function public.open_checkout_session(text, uuid) to service_role;
grant execute on function public.due_followups(integer) to service_role;
grant execute on function public.complete_followup(bigint, text) to service_role;
grant execute on function public.fail_followup(bigint, text, integer, integer, integer) to service_role;
