-- Run a report's documents again, on other models: a new draft of the
-- owner's with the same documents (the same files, where they are: no
-- second copy), expected JSON, schema and prompt, as the report was paid
-- for, and no model picked. The draft remembers where it came from
-- (`config_data.source_report`: id, name, when it was paid and its models),
-- so the wizard can mark the models already benchmarked and those added
-- since. The files stay locked against change or deletion while a paid or
-- running report uses them (002, 021), this new one's too once it is paid.
-- A draft made here counts toward the owner's 50 unfinished drafts (021).
create or replace function public.draft_from_report(p_report_id uuid)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _report public.reports;
  _name text;
  _draft_id uuid;
begin
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = auth.uid();
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  _name := coalesce(nullif(btrim(_report.config_snapshot #>> '{config_data,name}'), ''), 'Your benchmark');
  insert into public.benchmark_drafts (user_id, status, config_data, upload_data, schema_data, selected_models)
  values (
    _report.user_id,
    'draft',
    coalesce(_report.config_snapshot -> 'config_data', '{}'::jsonb) || jsonb_build_object(
      'name', left(_name, 110) || ', again',
      'source_report', jsonb_build_object(
        'id', _report.id,
        'name', left(_name, 120),
        'paid_at', _report.paid_at,
        'models', coalesce(_report.config_snapshot -> 'selected_models', '[]'::jsonb))),
    jsonb_build_object('images', coalesce(_report.config_snapshot #> '{upload_data,images}', '[]'::jsonb)),
    coalesce(_report.config_snapshot -> 'schema_data', '{}'::jsonb),
    '{}'
  )
  returning id into _draft_id;
  return _draft_id;
end
$$;

revoke all on function public.draft_from_report(uuid) from public, anon, authenticated, service_role;
grant execute on function public.draft_from_report(uuid) to authenticated;
