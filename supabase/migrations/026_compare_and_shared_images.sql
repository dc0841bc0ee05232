-- Two reports side by side, and the documents' images for link holders
-- by the owner's choice.
--
-- read_report() says when the report was paid, and gives each document a
-- key: the SHA-256 of its file's path, so the same file in two reports (a
-- re-run's documents are its earlier report's files) is known as the same
-- document without its path (which names the owner) being shown. The
-- sidecar's /api/compare reads both reports through it, as the caller.
--
-- `share_images`, off by default: when on, the sidecar signs short-lived
-- URLs of that report's images for whoever holds its share link
-- (shared_report_images, for the service role only); when off, none.
-- Rotating the link keeps the setting; revoking it ends the access.

alter table public.reports add column share_images boolean not null default false;
grant select (share_images) on public.reports to authenticated;

create or replace function public.set_report_image_sharing(p_report_id uuid, p_on boolean)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _on boolean;
begin
  update public.reports r set share_images = coalesce(p_on, false)
   where r.id = p_report_id and r.user_id = auth.uid()
  returning r.share_images into _on;
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  return _on;
end
$$;

-- The image paths of a report for the holder of its share link, when its
-- owner lets link holders see them; null otherwise (a wrong or revoked
-- token, images not shared: all the same).
create or replace function public.shared_report_images(p_report_id uuid, p_share_token text)
returns text[]
language sql stable security definer
set search_path = ''
as $$
  select r.image_paths from public.reports r
   where r.id = p_report_id
     and p_share_token is not null
     and r.share_token = p_share_token
     and r.share_images
$$;

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
    'paid_at', r.paid_at,
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
               'key', encode(sha256(convert_to(coalesce(d.image ->> 'path', ''), 'UTF8')), 'hex'),
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
    'refunded_at', case when p_share_token is null then r.refunded_at end,
    -- Whether link holders see the document images (the owner's choice).
    'share_images', r.share_images
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$$;

revoke all on function public.set_report_image_sharing(uuid, boolean) from public, anon, authenticated, service_role;
revoke all on function public.shared_report_images(uuid, text) from public, anon, authenticated, service_role;
revoke all on function public.read_report(uuid, text) from public, anon, authenticated, service_role;
grant execute on function public.set_report_image_sharing(uuid, boolean) to authenticated;
grant execute on function public.shared_report_images(uuid, text) to service_role;
grant execute on function public.read_report(uuid, text) to anon, authenticated;
