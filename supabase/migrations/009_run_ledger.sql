-- The engine's money ledger. Before a call is sent its worst-case cost is
-- reserved against the report's ceiling; when the call ends the reservation
-- is replaced by the run row and the call's actual cost, in one transaction.
-- A reservation left behind by an engine that died stays counted (the call
-- may have been billed), so the ceiling holds across crashes.

create table private.run_reservations (
  report_id uuid not null references public.reports (id) on delete cascade,
  model_id text not null,
  image_index integer not null,
  lease_token uuid not null,
  amount numeric(10, 6) not null check (amount >= 0),
  created_at timestamptz not null default now(),
  primary key (report_id, model_id, image_index)
);

revoke all on private.run_reservations from anon, authenticated, service_role;

alter table public.reports
  -- Worst-case cost of calls whose engine died before recording them.
  add column cost_unsettled numeric(10, 6) not null default 0 check (cost_unsettled >= 0);

-- Locks a report for a write by the holder of `p_lease_token`; raises PT410
-- when the lease is no longer held, so the engine stops.
create or replace function private.lock_leased_report(p_report_id uuid, p_lease_token uuid)
returns public.reports
language plpgsql
set search_path = ''
as $$
declare
  _report public.reports;
begin
  select * into _report from public.reports
   where id = p_report_id and lease_token = p_lease_token and status = 'running'
     for update;
  if not found then
    raise exception 'the lease on report % is no longer held', p_report_id using errcode = 'PT410';
  end if;
  return _report;
end
$$;

-- Reserves `p_amount` for one call if the report has no result for that
-- cell yet and the reservation keeps committed money (spent + reserved +
-- unsettled) within `p_ceiling`. False: do not send the call.
create or replace function public.reserve_run(
  p_report_id uuid,
  p_lease_token uuid,
  p_model_id text,
  p_image_index integer,
  p_amount numeric,
  p_ceiling numeric
) returns boolean
language plpgsql
set search_path = ''
as $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
begin
  if p_amount is null or p_amount < 0 or p_ceiling is null then
    raise exception 'amount and ceiling are required' using errcode = 'PT400';
  end if;
  if exists (select 1 from public.benchmark_runs b
              where b.report_id = p_report_id and b.model_id = p_model_id and b.image_index = p_image_index)
     or exists (select 1 from private.run_reservations r
                 where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index) then
    return false;
  end if;
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + p_amount > p_ceiling then
    return false;
  end if;
  insert into private.run_reservations (report_id, model_id, image_index, lease_token, amount)
  values (p_report_id, p_model_id, p_image_index, p_lease_token, p_amount);
  update public.reports set cost_reserved = cost_reserved + p_amount where id = p_report_id;
  return true;
end
$$;

-- Records a call's result: the run row, its actual cost in place of its
-- reservation, progress. Idempotent per cell: a second result for the same
-- cell changes nothing and returns false.
create or replace function public.record_run(
  p_report_id uuid,
  p_lease_token uuid,
  p_run jsonb
) returns boolean
language plpgsql
set search_path = ''
as $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _model text := p_run ->> 'model_id';
  _image integer := (p_run ->> 'image_index')::integer;
  _cost numeric := coalesce((p_run ->> 'cost')::numeric, 0);
  _reserved numeric;
  _inserted boolean;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = _model and r.image_index = _image
  returning r.amount into _reserved;

  insert into public.benchmark_runs (
    report_id, model_id, image_index, output_json, response_time_ms, prompt_tokens,
    completion_tokens, total_tokens, cost, passed, field_diffs, fields_total, fields_matched, error
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
    p_run ->> 'error'
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

-- Taking over a report whose engine died: its reservations become
-- unsettled money, still counted against the ceiling.
create or replace function private.settle_abandoned_reservations() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  _abandoned numeric;
begin
  with gone as (
    delete from private.run_reservations r
     where r.report_id = new.id and r.lease_token is distinct from new.lease_token
    returning r.amount
  )
  select coalesce(sum(amount), 0) into _abandoned from gone;
  if _abandoned > 0 then
    new.cost_unsettled := new.cost_unsettled + _abandoned;
    new.cost_reserved := greatest(new.cost_reserved - _abandoned, 0);
  end if;
  return new;
end
$$;

create trigger reports_settle_abandoned_reservations
  before update of lease_token on public.reports
  for each row when (new.lease_token is distinct from old.lease_token)
  execute function private.settle_abandoned_reservations();

revoke execute on function public.reserve_run(uuid, uuid, text, integer, numeric, numeric) from public, anon, authenticated, service_role;
revoke execute on function public.record_run(uuid, uuid, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.reserve_run(uuid, uuid, text, integer, numeric, numeric) to service_role;
grant execute on function public.record_run(uuid, uuid, jsonb) to service_role;
revoke all on function private.lock_leased_report(uuid, uuid) from public, anon, authenticated, service_role;
revoke all on function private.settle_abandoned_reservations() from public, anon, authenticated, service_role;
