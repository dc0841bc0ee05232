-- Follow-ups after a report ends (the completion email; the refund of a
-- paid report that produced nothing) are scheduled one row per report and
-- kind, each with its own attempts and backoff. One that keeps failing
-- waits for its next attempt and never stands in front of the others, and
-- the email does not wait for the refund. After a number of failed attempts
-- an operator is alerted, once: the engine logs it at error level and the
-- row shows in private.stuck_followups.

create table private.report_followups (
  report_id uuid not null references public.reports (id) on delete cascade,
  kind text not null check (kind in ('email', 'refund')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  last_error text,
  done_at timestamptz,
  alerted_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (report_id, kind)
);

create index report_followups_due_idx on private.report_followups (next_attempt_at)
  where done_at is null;

-- What an operator looks at: follow-ups that failed often enough to alert.
create view private.stuck_followups as
select f.report_id, f.kind, f.attempts, f.last_error, f.alerted_at, f.next_attempt_at,
       r.status, r.stripe_session_id, r.finished_at
  from private.report_followups f
  join public.reports r on r.id = f.report_id
 where f.done_at is null and f.alerted_at is not null;

-- A report that ends is owed its email, and its refund if it failed after
-- a payment.
create or replace function private.schedule_followups() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into private.report_followups (report_id, kind)
  values (new.id, 'email')
  on conflict do nothing;
  if new.status = 'failed' and new.stripe_session_id is not null then
    insert into private.report_followups (report_id, kind)
    values (new.id, 'refund')
    on conflict do nothing;
  end if;
  return null;
end
$$;

create trigger reports_schedule_followups
  after update of status on public.reports
  for each row
  when (new.status in ('complete', 'failed') and old.status is distinct from new.status)
  execute function private.schedule_followups();

-- Reports that ended before this migration and are still owed something.
insert into private.report_followups (report_id, kind)
select id, 'email' from public.reports
 where status in ('complete', 'failed') and email_sent_at is null
on conflict do nothing;
insert into private.report_followups (report_id, kind)
select id, 'refund' from public.reports
 where status = 'failed' and refund_id is null and stripe_session_id is not null
on conflict do nothing;

drop function public.pending_report_followups(integer);
drop function public.record_report_email_sent(uuid);
drop function public.record_report_refund(uuid, text);
drop function public.record_report_followup_error(uuid, text);

-- Follow-ups whose time has come, the longest-waiting first, with what
-- doing them needs. `refund_state` tells a failed report's email what to
-- say: 'refunded', 'pending', 'failing' (an operator has been alerted) or
-- 'none' (nothing was paid, so nothing is refunded).
create or replace function public.due_report_followups(p_limit integer default 50)
returns table (
  report_id uuid,
  kind text,
  attempts integer,
  status text,
  status_reason text,
  email text,
  stripe_session_id text,
  refund_state text
)
language sql stable security definer
set search_path = ''
as $$
  select f.report_id, f.kind, f.attempts, r.status, r.status_reason, u.email::text,
         r.stripe_session_id,
         case
           when r.refund_id is not null then 'refunded'
           when refund.report_id is null then 'none'
           when refund.alerted_at is not null then 'failing'
           else 'pending'
         end
    from private.report_followups f
    join public.reports r on r.id = f.report_id
    join auth.users u on u.id = r.user_id
    left join private.report_followups refund
      on refund.report_id = f.report_id and refund.kind = 'refund'
   where f.done_at is null and f.next_attempt_at <= now()
   order by f.next_attempt_at, f.created_at
   limit greatest(least(p_limit, 1000), 0)
$$;

-- A follow-up is done: the email went out, or the refund was made (its
-- Stripe id recorded on the report). False when it was done already.
create or replace function public.complete_report_followup(
  p_report_id uuid,
  p_kind text,
  p_refund_id text default null
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_kind = 'refund' and coalesce(btrim(p_refund_id), '') = '' then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
  update private.report_followups
     set done_at = now(), last_error = null
   where report_id = p_report_id and kind = p_kind and done_at is null;
  if not found then
    return false;
  end if;
  if p_kind = 'email' then
    update public.reports set email_sent_at = now(), followup_error = null where id = p_report_id;
  else
    update public.reports set refund_id = p_refund_id, refunded_at = now(), followup_error = null
     where id = p_report_id;
  end if;
  return true;
end
$$;

-- A follow-up failed: the next attempt waits twice as long as the last
-- (from p_base_seconds, at most p_cap_seconds, with 20% jitter). True
-- exactly once, when the failures reach p_alert_after: alert an operator.
create or replace function public.fail_report_followup(
  p_report_id uuid,
  p_kind text,
  p_error text,
  p_base_seconds integer,
  p_cap_seconds integer,
  p_alert_after integer
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _attempts integer;
begin
  if p_base_seconds is null or p_base_seconds < 1 or p_cap_seconds is null or p_cap_seconds < p_base_seconds
     or p_alert_after is null or p_alert_after < 1 then
    raise exception 'backoff needs 1 <= base <= cap and an alert threshold of at least 1'
      using errcode = 'PT400';
  end if;
  update private.report_followups f
     set attempts = f.attempts + 1,
         last_error = left(p_error, 1000),
         next_attempt_at = now() + make_interval(secs =>
           least(p_cap_seconds, p_base_seconds * power(2, least(f.attempts, 30)))
           * (0.8 + random() * 0.4)),
         alerted_at = case when f.attempts + 1 >= p_alert_after then coalesce(f.alerted_at, now())
                           else f.alerted_at end
   where f.report_id = p_report_id and f.kind = p_kind and f.done_at is null
  returning f.attempts into _attempts;
  update public.reports set followup_error = left(p_kind || ': ' || p_error, 1000) where id = p_report_id;
  return coalesce(_attempts = p_alert_after, false);
end
$$;

revoke all on private.report_followups from anon, authenticated, service_role;
revoke all on private.stuck_followups from anon, authenticated, service_role;
revoke all on function private.schedule_followups() from public, anon, authenticated, service_role;
revoke all on function public.due_report_followups(integer) from public, anon, authenticated, service_role;
revoke all on function public.complete_report_followup(uuid, text, text) from public, anon, authenticated, service_role;
revoke all on function public.fail_report_followup(uuid, text, text, integer, integer, integer) from public, anon, authenticated, service_role;
grant execute on function public.due_report_followups(integer) to service_role;
grant execute on function public.complete_report_followup(uuid, text, text) to service_role;
grant execute on function public.fail_report_followup(uuid, text, text, integer, integer, integer) to service_role;
