-- One row per (report, model, image): what the model answered, how long it
-- took, what it cost, and how it scored. The row is the proof that a call was
-- made, so the unique key is what keeps a resumed report from repeating or
-- double-billing a call.

alter table public.reports add column if not exists stripe_session_id text unique;

create table public.benchmark_runs (
  id uuid primary key default gen_random_uuid(),
  report_id uuid not null references public.reports (id) on delete cascade,
  model_id text not null,
  image_index integer not null check (image_index >= 0),
  output_json text,
  response_time_ms integer not null default 0 check (response_time_ms >= 0),
  prompt_tokens integer not null default 0 check (prompt_tokens >= 0),
  completion_tokens integer not null default 0 check (completion_tokens >= 0),
  total_tokens integer not null default 0 check (total_tokens >= 0),
  cost numeric(10, 6) not null default 0 check (cost >= 0),
  passed boolean not null default false,
  field_diffs jsonb not null default '[]'::jsonb,
  -- Leaf fields compared and leaf fields that matched, for field accuracy.
  fields_total integer not null default 0 check (fields_total >= 0),
  fields_matched integer not null default 0 check (fields_matched between 0 and fields_total),
  error text,
  created_at timestamptz not null default now(),
  constraint benchmark_runs_one_call_per_cell unique (report_id, model_id, image_index)
);

create index idx_benchmark_runs_report_id on public.benchmark_runs (report_id);
create index idx_benchmark_runs_report_model on public.benchmark_runs (report_id, model_id);

alter table public.benchmark_runs enable row level security;

-- A run is readable exactly when its report is: by the owner, or by a caller
-- holding that report's share token (the reports policies decide, under the
-- caller's own role).
create policy "Runs are readable with their report"
  on public.benchmark_runs for select
  to anon, authenticated
  using (exists (select 1 from public.reports r where r.id = benchmark_runs.report_id));

-- Granted in 011_least_privilege.
revoke all on public.benchmark_runs from anon, authenticated, service_role;
