-- ledger.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- The money ledger: each call's worst case reserved before it is sent, what it
-- cost recorded in its place, the ceilings no report passes, and the per-model
-- summary.

set check_function_bodies = off;

CREATE FUNCTION private.settle_abandoned_reservations() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

COMMENT ON FUNCTION private.settle_abandoned_reservations() IS 'Taking over a report whose engine died: its reservations become unsettled money, still counted against the ceiling.';

CREATE FUNCTION public.record_run(p_report_id uuid, p_lease_token uuid, p_run jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _model text := p_run ->> 'model_id';
  _image integer := (p_run ->> 'image_index')::integer;
  _repeat integer := coalesce((p_run ->> 'repeat')::integer, 0);
  _at_worst integer := coalesce((p_run ->> 'attempts_at_worst_case')::integer, 0);
  _reserved numeric;
  _per_attempt numeric;
  _cost numeric;
  _inserted boolean;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = _model and r.image_index = _image
     and r.repeat = _repeat
  returning r.amount, r.per_attempt into _reserved, _per_attempt;
  _cost := coalesce((p_run ->> 'cost')::numeric, 0) + _at_worst * coalesce(_per_attempt, 0);

  insert into public.benchmark_runs (
    report_id, model_id, image_index, output_json, response_time_ms, prompt_tokens,
    completion_tokens, total_tokens, cost, passed, field_diffs, fields_total, fields_matched, error,
    attempts, attempts_at_worst_case, unavailable, repeat
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
    p_run ->> 'error',
    coalesce((p_run ->> 'attempts')::integer, 1),
    _at_worst,
    coalesce((p_run ->> 'unavailable')::boolean, false),
    _repeat
  )
  on conflict (report_id, model_id, image_index, repeat) do nothing
  returning true into _inserted;

  update public.reports
     set cost_reserved = greatest(cost_reserved - coalesce(_reserved, 0), 0),
         cost_spent = cost_spent + case when _inserted then _cost else 0 end,
         runs_done = runs_done + case when _inserted then 1 else 0 end
   where id = p_report_id;
  return coalesce(_inserted, false);
end
$$;

COMMENT ON FUNCTION public.record_run(uuid, uuid, jsonb) IS 'Records a call''s result in place of its reservation. Its cost is what the provider reported (`cost`) plus the worst case of every attempt whose outcome is unknown (`attempts_at_worst_case`). Idempotent per call (model, document and `repeat`, 0 unless the report asks each call more than once).';

CREATE FUNCTION public.record_runs(p_report_id uuid, p_lease_token uuid, p_runs jsonb) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

COMMENT ON FUNCTION public.record_runs(uuid, uuid, jsonb) IS 'Records the runs of `p_runs` (a list of what record_run takes, at most 50), each in place of its reservation: how many were new.';

CREATE FUNCTION public.release_reservation(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer DEFAULT 0) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _amount numeric;
begin
  delete from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat and r.lease_token = p_lease_token
  returning r.amount into _amount;
  if _amount is null then
    return false;
  end if;
  update public.reports set cost_reserved = greatest(cost_reserved - _amount, 0) where id = p_report_id;
  return true;
end
$$;

COMMENT ON FUNCTION public.release_reservation(uuid, uuid, text, integer, integer) IS 'Gives back the reservation of a call that will never be sent. Fenced by the lease (PT410).';

CREATE FUNCTION public.reserve_retry(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer DEFAULT 0) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _per_attempt numeric;
begin
  select r.per_attempt into _per_attempt
    from private.run_reservations r
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat;
  if not found then
    raise exception 'model % on image % has no call in flight', p_model_id, p_image_index using errcode = 'PT404';
  end if;
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _per_attempt > private.hard_ceiling_usd() then
    return false;
  end if;
  update private.run_reservations r
     set amount = r.amount + _per_attempt, attempts = r.attempts + 1
   where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
     and r.repeat = p_repeat;
  update public.reports set cost_reserved = cost_reserved + _per_attempt where id = p_report_id;
  return true;
end
$$;

COMMENT ON FUNCTION public.reserve_retry(uuid, uuid, text, integer, integer) IS 'Another worst case for a retry after a possibly billed attempt, within the hard ceiling only: false means do not send it. Fenced by the lease (PT410).';

CREATE FUNCTION public.reserve_run(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_image_pixels bigint, p_repeat integer DEFAULT 0) RETURNS numeric
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports := private.lock_leased_report(p_report_id, p_lease_token);
  _price jsonb := _report.config_snapshot -> 'model_prices' -> p_model_id;
  _limits constant jsonb := public.draft_limits();
  -- The document's pages, as paid for: the engine states their pixels as
  -- sent, never how many there are.
  _pages constant integer := jsonb_array_length(private.document_pages(
    coalesce(_report.config_snapshot -> 'upload_data' -> 'images' -> p_image_index, '{}'::jsonb)));
  _amount numeric;
begin
  if p_image_pixels is null or p_image_pixels < 0 then
    raise exception 'an image''s pixels are required' using errcode = 'PT400';
  end if;
  if p_repeat is null or p_repeat < 0
     or p_repeat >= private.repeats_asked(_report.config_snapshot -> 'config_data') then
    raise exception 'this report asks each call % times; repeat % is not one of them',
      private.repeats_asked(_report.config_snapshot -> 'config_data'), p_repeat using errcode = 'PT400';
  end if;
  if jsonb_typeof(_price -> 'prompt_usd_per_mtok') is distinct from 'number'
     or jsonb_typeof(_price -> 'completion_usd_per_mtok') is distinct from 'number' then
    raise exception 'no price is known for model %', p_model_id using errcode = 'PT422';
  end if;
  if exists (select 1 from public.benchmark_runs b
              where b.report_id = p_report_id and b.model_id = p_model_id and b.image_index = p_image_index
                and b.repeat = p_repeat)
     or exists (select 1 from private.run_reservations r
                 where r.report_id = p_report_id and r.model_id = p_model_id and r.image_index = p_image_index
                   and r.repeat = p_repeat) then
    raise exception 'model % on image % (repeat %) has a result or a call in flight already',
      p_model_id, p_image_index, p_repeat using errcode = 'PT409';
  end if;
  _amount := private.call_worst_case(
    _price,
    private.text_token_bound(_report.extraction_prompt, _report.json_schema),
    private.image_token_bound(p_image_pixels,
      (select c.max_image_tokens from public.model_catalog c where c.id = p_model_id), _pages),
    (_limits ->> 'max_answer_tokens')::integer,
    _pages);
  if _report.cost_spent + _report.cost_reserved + _report.cost_unsettled + _amount
       > least((_limits ->> 'soft_ceiling_usd')::numeric, (_limits ->> 'hard_ceiling_usd')::numeric) then
    return null;
  end if;
  insert into private.run_reservations (report_id, model_id, image_index, repeat, lease_token, amount, per_attempt)
  values (p_report_id, p_model_id, p_image_index, p_repeat, p_lease_token, _amount, _amount);
  update public.reports set cost_reserved = cost_reserved + _amount where id = p_report_id;
  return _amount;
end
$$;

COMMENT ON FUNCTION public.reserve_run(uuid, uuid, text, integer, bigint, integer) IS 'Computes one call''s worst case from the report''s prompt, schema and snapshotted price, the document''s pages (how many, from the snapshot; their pixels as sent, `p_image_pixels` in all, or the model''s max_image_tokens per page; the image price per page) and an answer of draft_limits().max_answer_tokens, reserves it and returns it; null when committed money (spent + reserved + unsettled) would pass draft_limits().soft_ceiling_usd (or the hard ceiling, were it lower): the engine names no limit of its own. PT422 for a model without a price, PT400 for a `p_repeat` the report does not ask for (0 up to its repeats, less one), PT409 for a call with a result or a reservation. Fenced by the lease (PT410).';

CREATE FUNCTION public.reserve_runs(p_report_id uuid, p_lease_token uuid, p_cells jsonb) RETURNS TABLE(model_id text, image_index integer, amount numeric)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
                                 (_cell ->> 'image_pixels')::bigint,
                                 coalesce((_cell ->> 'repeat')::integer, 0));
    return next;
    exit when amount is null;
  end loop;
end
$$;

COMMENT ON FUNCTION public.reserve_runs(uuid, uuid, jsonb) IS 'Reserves the cells of `p_cells` ([{model_id, image_index, image_pixels, repeat}], at most 20; repeat 0 when left out) in order, each as reserve_run would, and stops at the first the money does not allow: that one comes back with a null amount and nothing after it is reserved.';

CREATE TABLE private.run_reservations (
    report_id uuid NOT NULL,
    model_id text NOT NULL,
    image_index integer NOT NULL,
    lease_token uuid NOT NULL,
    amount numeric(10,6) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    per_attempt numeric(10,6) DEFAULT 0 NOT NULL,
    attempts integer DEFAULT 1 NOT NULL,
    repeat integer DEFAULT 0 NOT NULL,
    CONSTRAINT run_reservations_amount_check CHECK ((amount >= (0)::numeric)),
    CONSTRAINT run_reservations_attempts_check CHECK ((attempts >= 1)),
    CONSTRAINT run_reservations_per_attempt_check CHECK ((per_attempt >= (0)::numeric))
);

CREATE TABLE public.benchmark_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    report_id uuid NOT NULL,
    model_id text NOT NULL,
    image_index integer NOT NULL,
    output_json text,
    response_time_ms integer DEFAULT 0 NOT NULL,
    prompt_tokens integer DEFAULT 0 NOT NULL,
    completion_tokens integer DEFAULT 0 NOT NULL,
    total_tokens integer DEFAULT 0 NOT NULL,
    cost numeric(10,6) DEFAULT 0 NOT NULL,
    passed boolean DEFAULT false NOT NULL,
    field_diffs jsonb DEFAULT '[]'::jsonb NOT NULL,
    fields_total integer DEFAULT 0 NOT NULL,
    fields_matched integer DEFAULT 0 NOT NULL,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 1 NOT NULL,
    attempts_at_worst_case integer DEFAULT 0 NOT NULL,
    unavailable boolean DEFAULT false NOT NULL,
    repeat integer DEFAULT 0 NOT NULL,
    CONSTRAINT benchmark_runs_repeat_check CHECK ((repeat >= 0)),
    CONSTRAINT benchmark_runs_unavailable_has_its_reason CHECK (((NOT unavailable) OR (error IS NOT NULL))),
    CONSTRAINT benchmark_runs_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT benchmark_runs_check CHECK (((fields_matched >= 0) AND (fields_matched <= fields_total))),
    CONSTRAINT benchmark_runs_check1 CHECK (((attempts_at_worst_case >= 0) AND (attempts_at_worst_case <= attempts))),
    CONSTRAINT benchmark_runs_completion_tokens_check CHECK ((completion_tokens >= 0)),
    CONSTRAINT benchmark_runs_cost_check CHECK ((cost >= (0)::numeric)),
    CONSTRAINT benchmark_runs_fields_total_check CHECK ((fields_total >= 0)),
    CONSTRAINT benchmark_runs_image_index_check CHECK ((image_index >= 0)),
    CONSTRAINT benchmark_runs_prompt_tokens_check CHECK ((prompt_tokens >= 0)),
    CONSTRAINT benchmark_runs_response_time_ms_check CHECK ((response_time_ms >= 0)),
    CONSTRAINT benchmark_runs_total_tokens_check CHECK ((total_tokens >= 0))
);

CREATE VIEW public.report_model_summary WITH (security_invoker='true') AS
 SELECT b.report_id,
    b.model_id,
    (count(*))::integer AS runs,
    (count(*) FILTER (WHERE b.passed))::integer AS passed,
    (count(*) FILTER (WHERE (b.error IS NOT NULL)))::integer AS errors,
    round(((count(*) FILTER (WHERE b.passed))::numeric / (count(*))::numeric), 4) AS accuracy,
        CASE
            WHEN (sum(b.fields_total) > 0) THEN round(((sum(b.fields_matched))::numeric / (sum(b.fields_total))::numeric), 4)
            ELSE NULL::numeric
        END AS field_accuracy,
    (sum(b.cost))::numeric(10,6) AS total_cost,
    (percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((b.response_time_ms)::double precision)) FILTER (WHERE (b.error IS NULL)))::integer AS median_latency_ms,
    (percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY ((b.response_time_ms)::double precision)) FILTER (WHERE (b.error IS NULL)))::integer AS p95_latency_ms
   FROM public.benchmark_runs b
  GROUP BY b.report_id, b.model_id;

COMMENT ON VIEW public.report_model_summary IS 'Per report and model: runs, passed, errors, accuracy, field_accuracy, total_cost, median_latency_ms, p95_latency_ms. Security-invoker: readable exactly where the runs are.';

ALTER TABLE ONLY private.run_reservations
    ADD CONSTRAINT run_reservations_pkey PRIMARY KEY (report_id, model_id, image_index, repeat);

ALTER TABLE ONLY public.benchmark_runs
    ADD CONSTRAINT benchmark_runs_one_call_per_cell UNIQUE (report_id, model_id, image_index, repeat);

ALTER TABLE ONLY public.benchmark_runs
    ADD CONSTRAINT benchmark_runs_pkey PRIMARY KEY (id);

CREATE INDEX idx_benchmark_runs_report_id ON public.benchmark_runs USING btree (report_id);

CREATE INDEX idx_benchmark_runs_report_model ON public.benchmark_runs USING btree (report_id, model_id);

CREATE INDEX benchmark_runs_created_at_idx ON public.benchmark_runs USING btree (created_at);

CREATE TRIGGER reports_settle_abandoned_reservations BEFORE UPDATE OF lease_token ON public.reports FOR EACH ROW WHEN ((new.lease_token IS DISTINCT FROM old.lease_token)) EXECUTE FUNCTION private.settle_abandoned_reservations();

ALTER TABLE ONLY private.run_reservations
    ADD CONSTRAINT run_reservations_report_id_fkey FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.benchmark_runs
    ADD CONSTRAINT benchmark_runs_report_id_fkey FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

CREATE POLICY "Runs are readable with their report" ON public.benchmark_runs FOR SELECT TO anon, authenticated USING ((EXISTS ( SELECT 1
   FROM public.reports r
  WHERE (r.id = benchmark_runs.report_id))));

ALTER TABLE public.benchmark_runs ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON FUNCTION private.settle_abandoned_reservations() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.record_run(p_report_id uuid, p_lease_token uuid, p_run jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_run(p_report_id uuid, p_lease_token uuid, p_run jsonb) TO service_role;

REVOKE ALL ON FUNCTION public.record_runs(p_report_id uuid, p_lease_token uuid, p_runs jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_runs(p_report_id uuid, p_lease_token uuid, p_runs jsonb) TO service_role;

REVOKE ALL ON FUNCTION public.release_reservation(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.release_reservation(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer) TO service_role;

REVOKE ALL ON FUNCTION public.reserve_retry(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.reserve_retry(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_repeat integer) TO service_role;

REVOKE ALL ON FUNCTION public.reserve_run(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_image_pixels bigint, p_repeat integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.reserve_run(p_report_id uuid, p_lease_token uuid, p_model_id text, p_image_index integer, p_image_pixels bigint, p_repeat integer) TO service_role;

REVOKE ALL ON FUNCTION public.reserve_runs(p_report_id uuid, p_lease_token uuid, p_cells jsonb) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.reserve_runs(p_report_id uuid, p_lease_token uuid, p_cells jsonb) TO service_role;

REVOKE ALL ON TABLE public.benchmark_runs FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.benchmark_runs TO authenticated;

REVOKE ALL ON TABLE public.report_model_summary FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON TABLE public.report_model_summary TO authenticated;

REVOKE ALL ON TABLE private.run_reservations FROM PUBLIC, anon, authenticated, service_role;
