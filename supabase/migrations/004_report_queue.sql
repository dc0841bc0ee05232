-- Reports double as the engine's job queue. A paid report is claimed with a
-- lease; the lease token is a fencing token that guards every heartbeat and
-- the final write, so an engine that lost its lease can never overwrite the
-- work of the engine that took over.

alter table public.reports
  add column paid_at timestamptz not null default now(),
  add column lease_owner text,
  add column lease_token uuid,
  add column lease_expires_at timestamptz,
  add column attempts integer not null default 0 check (attempts >= 0),
  add column runs_planned integer not null default 0 check (runs_planned >= 0),
  add column runs_done integer not null default 0 check (runs_done >= 0),
  add column cost_spent numeric(10, 6) not null default 0 check (cost_spent >= 0),
  add column cost_reserved numeric(10, 6) not null default 0 check (cost_reserved >= 0),
  add column started_at timestamptz,
  add column finished_at timestamptz,
  add column cut_short boolean not null default false,
  -- Why the report failed or was cut short, in words for the person who paid.
  add column status_reason text,
  add constraint reports_lease_only_while_running
    check ((status = 'running') = (lease_token is not null and lease_expires_at is not null)),
  add constraint reports_failure_has_reason
    check (status <> 'failed' or status_reason is not null);

create index reports_paid_queue_idx on public.reports (paid_at) where status = 'paid';
create index reports_running_lease_idx on public.reports (lease_expires_at) where status = 'running';

-- NOTIFY is only a wake-up call: delivered at commit, so the row is already
-- visible, and carrying just the id (payloads are capped at 8000 bytes).
create or replace function private.notify_report_paid() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status = 'paid' and (tg_op = 'INSERT' or old.status is distinct from 'paid') then
    perform pg_notify('report_paid', new.id::text);
  end if;
  return null;
end
$$;

create trigger reports_notify_paid after insert or update of status on public.reports
  for each row execute function private.notify_report_paid();

-- Claim the oldest runnable report: a paid one, or a running one whose lease
-- expired (its engine died). Concurrent callers never get the same row.
-- Returns no row when there is nothing to do.
create or replace function public.claim_next_report(p_worker text, p_lease_seconds integer default 90)
returns setof public.reports
language plpgsql
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
  update public.reports r
     set status = 'running',
         lease_owner = p_worker,
         lease_token = gen_random_uuid(),
         lease_expires_at = now() + make_interval(secs => p_lease_seconds),
         attempts = r.attempts + 1,
         started_at = coalesce(r.started_at, now())
   where r.id = (
     select c.id
       from public.reports c
      where c.status = 'paid'
         or (c.status = 'running' and c.lease_expires_at < now())
      order by c.paid_at, c.id
      limit 1
      for update skip locked
   )
  returning r.*;
end
$$;

-- Extend a lease. False means the lease is no longer ours: stop working on
-- the report and write nothing more.
create or replace function public.renew_report_lease(
  p_report_id uuid,
  p_lease_token uuid,
  p_lease_seconds integer default 90
) returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  update public.reports
     set lease_expires_at = now() + make_interval(secs => p_lease_seconds)
   where id = p_report_id and lease_token = p_lease_token and status = 'running';
  return found;
end
$$;

-- Give a report back untouched (graceful shutdown): it becomes `paid` again,
-- which notifies the other engines, and the attempt does not count.
create or replace function public.release_report(p_report_id uuid, p_lease_token uuid)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  update public.reports
     set status = 'paid',
         lease_owner = null,
         lease_token = null,
         lease_expires_at = null,
         attempts = greatest(attempts - 1, 0)
   where id = p_report_id and lease_token = p_lease_token and status = 'running';
  return found;
end
$$;

-- End a report as `complete` or `failed`. False means the lease is no longer
-- ours and nothing was written.
create or replace function public.finish_report(
  p_report_id uuid,
  p_lease_token uuid,
  p_status text,
  p_reason text default null,
  p_cut_short boolean default false
) returns boolean
language plpgsql
set search_path = ''
as $$
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
         runs_done = (select count(*) from public.benchmark_runs b where b.report_id = r.id)
   where r.id = p_report_id and r.lease_token = p_lease_token and r.status = 'running';
  return found;
end
$$;

revoke execute on function public.claim_next_report(text, integer) from public, anon, authenticated, service_role;
revoke execute on function public.renew_report_lease(uuid, uuid, integer) from public, anon, authenticated, service_role;
revoke execute on function public.release_report(uuid, uuid) from public, anon, authenticated, service_role;
revoke execute on function public.finish_report(uuid, uuid, text, text, boolean) from public, anon, authenticated, service_role;
grant execute on function public.claim_next_report(text, integer) to service_role;
grant execute on function public.renew_report_lease(uuid, uuid, integer) to service_role;
grant execute on function public.release_report(uuid, uuid) to service_role;
grant execute on function public.finish_report(uuid, uuid, text, text, boolean) to service_role;
revoke all on function private.notify_report_paid() from public, anon, authenticated, service_role;
