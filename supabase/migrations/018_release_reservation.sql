-- A reservation made ahead for a call that is then never sent (the report
-- stopped admitting: its time ran out, it is handed back) is given back,
-- so that committed money counts only calls that may have been billed.
-- The engine reserves the next call while the current ones are in flight,
-- so that a free slot starts a call without waiting for the database.

create or replace function public.release_reservation(
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
  _amount numeric;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.lease_token = p_lease_token
  returning r.amount into _amount;
  if _amount is null then
    return false;
  end if;
  update public.reports set cost_reserved = greatest(cost_reserved - _amount, 0) where id = p_report_id;
  return true;
end
$$;

revoke all on function public.release_reservation(uuid, uuid, text, integer) from public, anon, authenticated, service_role;
grant execute on function public.release_reservation(uuid, uuid, text, integer) to service_role;
