-- What happens after a report ends: the completion email (sent once) and,
-- for a paid report that produced nothing, the refund. Both are recorded
-- here; the engine retries until they are, and the idempotency keys it
-- sends make a retry after a crash harmless.

alter table public.reports
  add column email_sent_at timestamptz,
  add column refund_id text,
  add column refunded_at timestamptz,
  -- The last reason a follow-up failed, for operators.
  add column followup_error text;

create index reports_followups_idx on public.reports (finished_at)
  where status in ('complete', 'failed') and (email_sent_at is null or refund_id is null);

-- Finished reports still owed an email or a refund, oldest first.
create or replace function public.pending_report_followups(p_limit integer default 20)
returns table (report_id uuid, status text, email text, stripe_session_id text, needs_email boolean, needs_refund boolean)
language sql stable
set search_path = ''
as $$
  select r.id, r.status, u.email::text, r.stripe_session_id,
         r.email_sent_at is null,
         r.status = 'failed' and r.refund_id is null and r.stripe_session_id is not null
    from public.reports r
    join auth.users u on u.id = r.user_id
   where r.status in ('complete', 'failed')
     and (r.email_sent_at is null
          or (r.status = 'failed' and r.refund_id is null and r.stripe_session_id is not null))
   order by r.finished_at
   limit greatest(p_limit, 0)
$$;

create or replace function public.record_report_email_sent(p_report_id uuid) returns boolean
language sql
set search_path = ''
as $$
  update public.reports set email_sent_at = now(), followup_error = null
   where id = p_report_id and email_sent_at is null
  returning true
$$;

create or replace function public.record_report_refund(p_report_id uuid, p_refund_id text) returns boolean
language sql
set search_path = ''
as $$
  update public.reports set refund_id = p_refund_id, refunded_at = now(), followup_error = null
   where id = p_report_id and status = 'failed' and refund_id is null
  returning true
$$;

create or replace function public.record_report_followup_error(p_report_id uuid, p_error text) returns void
language sql
set search_path = ''
as $$
  update public.reports set followup_error = left(p_error, 1000) where id = p_report_id
$$;

revoke execute on function public.pending_report_followups(integer) from public, anon, authenticated, service_role;
revoke execute on function public.record_report_email_sent(uuid) from public, anon, authenticated, service_role;
revoke execute on function public.record_report_refund(uuid, text) from public, anon, authenticated, service_role;
revoke execute on function public.record_report_followup_error(uuid, text) from public, anon, authenticated, service_role;
grant execute on function public.pending_report_followups(integer) to service_role;
grant execute on function public.record_report_email_sent(uuid) to service_role;
grant execute on function public.record_report_refund(uuid, text) to service_role;
grant execute on function public.record_report_followup_error(uuid, text) to service_role;
