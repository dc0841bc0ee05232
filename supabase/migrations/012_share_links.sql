-- Reading a report: its owner, or anyone holding its share link, through two
-- functions that return only what a report shows (models, documents,
-- scores, costs, latencies, runs) and never who paid, how, or what the
-- engine keeps for itself. The owner can rotate the link or revoke it.

create or replace function private.new_share_token() returns text
language sql volatile
set search_path = ''
as $$
  select encode(extensions.gen_random_bytes(32), 'hex')
$$;

-- A revoked link is no token at all: nothing matches null.
alter table public.reports
  alter column share_token drop not null,
  alter column share_token set default private.new_share_token();

-- Whether the caller may read the report: its owner (no token given), or a
-- holder of its current share token.
create or replace function private.readable_report(p_report_id uuid, p_share_token text)
returns boolean
language sql stable
set search_path = ''
as $$
  select exists (
    select 1 from public.reports r
     where r.id = p_report_id
       and case when p_share_token is null then r.user_id = auth.uid()
                else r.share_token = p_share_token end
  )
$$;

-- The report as its page shows it, or null when the caller may not read it
-- (no such report, someone else's, a wrong or revoked token: all the same).
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

-- Every call of the report, for the same readers.
create or replace function public.read_report_runs(p_report_id uuid, p_share_token text default null)
returns table (
  model_id text,
  image_index integer,
  output_json text,
  response_time_ms integer,
  prompt_tokens integer,
  completion_tokens integer,
  total_tokens integer,
  cost numeric,
  passed boolean,
  field_diffs jsonb,
  fields_total integer,
  fields_matched integer,
  error text
)
language sql stable security definer
set search_path = ''
as $$
  select b.model_id, b.image_index, b.output_json, b.response_time_ms, b.prompt_tokens,
         b.completion_tokens, b.total_tokens, b.cost, b.passed, b.field_diffs, b.fields_total,
         b.fields_matched, b.error
    from public.benchmark_runs b
   where b.report_id = p_report_id
     and private.readable_report(p_report_id, p_share_token)
   order by b.image_index, b.model_id
$$;

-- A new link for the owner's report; the old one stops working at once.
create or replace function public.rotate_report_share_token(p_report_id uuid)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _token text;
begin
  update public.reports
     set share_token = private.new_share_token()
   where id = p_report_id and user_id = auth.uid()
  returning share_token into _token;
  if _token is null then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  return _token;
end
$$;

-- No link at all until the owner rotates a new one.
create or replace function public.revoke_report_share_token(p_report_id uuid)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  update public.reports set share_token = null
   where id = p_report_id and user_id = auth.uid();
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
end
$$;

-- The report a Checkout Session paid for, if it has one: the success page
-- asks the database before it asks Stripe.
create or replace function public.checkout_session_report(p_stripe_session_id text)
returns uuid
language sql stable security definer
set search_path = ''
as $$
  select r.id from public.reports r where r.stripe_session_id = p_stripe_session_id
$$;

revoke all on function private.new_share_token() from public, anon, authenticated, service_role;
revoke all on function private.readable_report(uuid, text) from public, anon, authenticated, service_role;
revoke all on function public.read_report(uuid, text) from public, anon, authenticated, service_role;
revoke all on function public.read_report_runs(uuid, text) from public, anon, authenticated, service_role;
revoke all on function public.rotate_report_share_token(uuid) from public, anon, authenticated, service_role;
revoke all on function public.revoke_report_share_token(uuid) from public, anon, authenticated, service_role;
revoke all on function public.checkout_session_report(text) from public, anon, authenticated, service_role;
grant execute on function public.read_report(uuid, text) to anon, authenticated;
grant execute on function public.read_report_runs(uuid, text) to anon, authenticated;
grant execute on function public.rotate_report_share_token(uuid) to authenticated;
grant execute on function public.revoke_report_share_token(uuid) to authenticated;
grant execute on function public.checkout_session_report(text) to service_role;
