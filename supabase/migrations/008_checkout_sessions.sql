-- What Stripe told us about each Checkout Session that is not (yet) a paid
-- report: awaiting a delayed payment, failed, expired, or refused because it
-- did not match the price. A paid session is recorded by fulfill_checkout
-- (below) in the same transaction as its report, and nothing downgrades it.

create table public.checkout_sessions (
  stripe_session_id text primary key,
  draft_id uuid references public.benchmark_drafts (id) on delete set null,
  user_id uuid references auth.users (id) on delete cascade,
  status text not null check (status in ('awaiting_payment', 'paid', 'payment_failed', 'expired', 'rejected')),
  detail text,
  amount_total integer,
  currency text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index checkout_sessions_draft_id_idx on public.checkout_sessions (draft_id);

create trigger checkout_sessions_updated_at before update on public.checkout_sessions
  for each row execute function private.set_updated_at();

alter table public.checkout_sessions enable row level security;

create policy "Owners read their checkout sessions"
  on public.checkout_sessions for select
  to authenticated
  using (user_id = auth.uid());

-- Granted per column in 011_least_privilege.
revoke all on public.checkout_sessions from anon, authenticated, service_role;

-- Records a session's state, for the draft it names (its owner comes from
-- the draft; an unknown draft is recorded as none). `paid` is final: a late `expired` or
-- `payment_failed` (Stripe does not order its events) changes nothing.
-- Returns the status the session has afterwards.
create or replace function public.record_checkout_session(
  p_stripe_session_id text,
  p_status text,
  p_draft_id uuid default null,
  p_amount_total integer default null,
  p_currency text default null,
  p_detail text default null
) returns text
language plpgsql
set search_path = ''
as $$
declare
  _status text;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' then
    raise exception 'session id is required' using errcode = 'PT400';
  end if;
  if p_status is null or p_status not in ('awaiting_payment', 'payment_failed', 'expired', 'rejected') then
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
    where s.status <> 'paid'
  returning s.status into _status;
  if _status is null then
    select s.status into _status from public.checkout_sessions s where s.stripe_session_id = p_stripe_session_id;
  end if;
  return _status;
end
$$;

revoke execute on function public.record_checkout_session(text, text, uuid, integer, text, text) from public, anon, authenticated, service_role;
grant execute on function public.record_checkout_session(text, text, uuid, integer, text, text) to service_role;

-- fulfill_checkout now also marks the session paid, in the same transaction
-- as the report it creates.
create or replace function private.mark_checkout_paid() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.checkout_sessions (stripe_session_id, draft_id, user_id, status)
  values (new.stripe_session_id, new.draft_id, new.user_id, 'paid')
  on conflict (stripe_session_id) do update set status = 'paid', detail = null;
  return null;
end
$$;

create trigger reports_mark_checkout_paid after insert on public.reports
  for each row when (new.stripe_session_id is not null)
  execute function private.mark_checkout_paid();
revoke all on function private.mark_checkout_paid() from public, anon, authenticated, service_role;
