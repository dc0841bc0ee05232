-- The engine's ledger in batches: calls reserved ahead together, and
-- results of calls that finish together, each in one round trip and one
-- transaction. Each cell still goes through reserve_run and record_run (016),
-- so the rules (the worst case computed here, the hard ceiling, one result
-- per cell, the lease's fence) are written once.

-- Reserves the cells of `p_cells` ([{model_id, image_index, image_pixels}],
-- at most 20) in order, each as reserve_run would, and stops at the first
-- the money does not allow: that one comes back with a null amount and
-- nothing after it is reserved.
create or replace function public.reserve_runs(
  p_report_id uuid,
  p_lease_token uuid,
  p_cells jsonb,
  p_max_tokens integer,
  p_soft_ceiling numeric
) returns table (model_id text, image_index integer, amount numeric)
language plpgsql security definer
set search_path = ''
as $$
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
                                 (_cell ->> 'image_pixels')::bigint, p_max_tokens, p_soft_ceiling);
    return next;
    exit when amount is null;
  end loop;
end
$$;

-- Records the runs of `p_runs` (a list of what record_run takes, at most
-- 50), each in place of its reservation: how many were new.
create or replace function public.record_runs(p_report_id uuid, p_lease_token uuid, p_runs jsonb)
returns integer
language plpgsql security definer
set search_path = ''
as $$
declare
  _run jsonb;
  _new integer := 0;
begin
  if jsonb_typeof(p_runs) is distinct from 'array' or jsonb_array_length(p_runs) > 50 then
    raise exception 'runs are a list of at most 50' using errcode = 'PT400';
  end if;
  for _run in select r from jsonb_array_elements(p_runs) r loop
    if public.record_run(p_report_id, p_lease_token, _run) then
      _new := _new + 1;
    end if;
  end loop;
  return _new;
end
$$;

revoke all on function public.reserve_runs(uuid, uuid, jsonb, integer, numeric) from public, anon, authenticated, service_role;
revoke all on function public.record_runs(uuid, uuid, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.reserve_runs(uuid, uuid, jsonb, integer, numeric) to service_role;
grant execute on function public.record_runs(uuid, uuid, jsonb) to service_role;
