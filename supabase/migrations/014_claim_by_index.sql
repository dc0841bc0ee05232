-- Claiming a report walks an index to the first claimable row instead of
-- sorting every paid report: with a backlog of thousands (a busy day, or
-- engines catching up after an outage) the old single query scanned and
-- sorted them all on every claim. A report whose engine died (lease
-- expired) is resumed before a new one is started: it was paid earlier.

drop index if exists public.reports_paid_queue_idx;
create index reports_paid_queue_idx on public.reports (paid_at, id) where status = 'paid';

create or replace function public.claim_next_report(p_worker text, p_lease_seconds integer default 90)
returns setof public.reports
language plpgsql security definer
set search_path = ''
as $$
declare
  _id uuid;
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  select c.id into _id
    from public.reports c
   where c.status = 'running' and c.lease_expires_at < now()
   order by c.lease_expires_at
   limit 1
   for update skip locked;
  if _id is null then
    select c.id into _id
      from public.reports c
     where c.status = 'paid'
     order by c.paid_at, c.id
     limit 1
     for update skip locked;
  end if;
  if _id is null then
    return;
  end if;
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
end
$$;
