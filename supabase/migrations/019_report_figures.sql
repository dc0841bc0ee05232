-- The figures a finished report shows its buyer (src/figures/):
-- intervals, the verdict per priority, the per-field map. The engine
-- computes them once, from every recorded run, just before it finishes the
-- report, under its lease; the page reads them through read_report(), so
-- the owner and share-link holders see exactly what was stored, under the
-- report's own rules, and nothing is recomputed in the browser.

alter table public.reports
  add column figures jsonb,
  add constraint reports_figures_size check (figures is null or octet_length(figures::text) <= 2 * 1024 * 1024);

create or replace function public.record_report_figures(p_report_id uuid, p_lease_token uuid, p_figures jsonb)
returns boolean
language sql security definer
set search_path = ''
as $$
  with stored as (
    update public.reports r
       set figures = p_figures
     where r.id = p_report_id and r.lease_token = p_lease_token and r.status = 'running'
    returning 1
  )
  select exists (select 1 from stored)
$$;

revoke all on function public.record_report_figures(uuid, uuid, jsonb) from public, anon, authenticated, service_role;
grant execute on function public.record_report_figures(uuid, uuid, jsonb) to service_role;

create or replace function public.read_report(p_report_id uuid, p_share_token text default null)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id,
    'name', r.config_snapshot -> 'config_data' ->> 'name',
    'status', r.status,
    'status_reason', r.status_reason,
    'cut_short', r.cut_short,
    'created_at', r.created_at,
    'started_at', r.started_at,
    'finished_at', r.finished_at,
    'runs_planned', r.runs_planned,
    'runs_done', r.runs_done,
    'cost_spent', r.cost_spent,
    'figures', r.figures,
    'prompt', r.extraction_prompt,
    'json_schema', r.json_schema,
    'models', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'id', m.id,
               'display_name', coalesce(r.config_snapshot -> 'model_prices' -> m.id ->> 'display_name', m.id),
               'prices', (r.config_snapshot -> 'model_prices' -> m.id) - 'display_name'
             ) order by m.n), '[]'::jsonb)
        from jsonb_array_elements_text(r.config_snapshot -> 'selected_models') with ordinality as m (id, n)),
    'documents', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'index', d.n - 1,
               'name', coalesce(d.image ->> 'name', storage.filename(d.image ->> 'path')),
               'expected', d.image -> 'expected'
             ) order by d.n), '[]'::jsonb)
        from jsonb_array_elements(r.config_snapshot -> 'upload_data' -> 'images') with ordinality as d (image, n)),
    'summary', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'report_id' order by s.model_id), '[]'::jsonb)
        from public.report_model_summary s
       where s.report_id = r.id),
    -- Only the owner learns the link, and whether the payment was refunded.
    'owner', p_share_token is null,
    'share_token', case when p_share_token is null then r.share_token end,
    'refunded_at', case when p_share_token is null then r.refunded_at end
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$$;
