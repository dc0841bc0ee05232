-- checkout.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Checkout: sessions opened with Stripe, admission (how many an account may
-- open), and fulfilment of a paid session into exactly one report.

set check_function_bodies = off;

CREATE FUNCTION private.mark_checkout_paid() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  insert into public.checkout_sessions as s (stripe_session_id, draft_id, user_id, status)
  values (new.stripe_session_id, new.draft_id, new.user_id, 'paid')
  on conflict (stripe_session_id) do update set status = 'paid', detail = null
    where s.status not in ('refund_owed', 'refunded');
  if not found then
    raise exception 'checkout session % is owed a refund, so it cannot become a report', new.stripe_session_id
      using errcode = 'PT410';
  end if;
  return null;
end
$$;

COMMENT ON FUNCTION private.mark_checkout_paid() IS 'The session row a report is made for is marked paid in the report''s own transaction; a session already owed a refund (or refunded) refuses it, and the report is not made. The upsert locks the row, so a refund being recorded at the same moment either comes first (and the report is refused) or waits and then leaves the paid session alone.';

CREATE FUNCTION private.schedule_session_refund() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  insert into private.followups (stripe_session_id, kind)
  values (new.stripe_session_id, 'refund'), (new.stripe_session_id, 'email')
  on conflict do nothing;
  return null;
end
$$;

CREATE FUNCTION public.admit_checkout(p_user_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _window constant interval := interval '1 hour';
  _limit constant integer := (public.draft_limits() ->> 'max_checkouts_per_hour')::integer;
  _oldest timestamptz;
begin
  if p_user_id is null then
    raise exception 'a user id is required' using errcode = 'PT400';
  end if;
  perform pg_advisory_xact_lock(hashtextextended('checkout-admissions:' || p_user_id::text, 0));
  delete from private.checkout_admissions a
   where a.user_id = p_user_id and a.admitted_at < now() - _window;
  select min(a.admitted_at) into _oldest
    from (select a.admitted_at from private.checkout_admissions a
           where a.user_id = p_user_id order by a.admitted_at desc limit _limit) a
   having count(*) >= _limit;
  if _oldest is not null then
    raise exception 'You have started % checkouts in the last hour, the most we allow. Try again in % minutes.',
      _limit, greatest(1, ceil(extract(epoch from (_oldest + _window - now())) / 60)::integer)
      using errcode = 'PT429';
  end if;
  insert into private.checkout_admissions (user_id) values (p_user_id);
  return true;
end
$$;

COMMENT ON FUNCTION public.admit_checkout(uuid) IS 'Admits one checkout for the account (true), or refuses (PT429) with when the next one may start.';

CREATE FUNCTION public.checkout_session_state(p_stripe_session_id text) RETURNS TABLE(status text, report_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select s.status, r.id
    from public.checkout_sessions s
    left join public.reports r on r.stripe_session_id = s.stripe_session_id
   where s.stripe_session_id = p_stripe_session_id
$$;

COMMENT ON FUNCTION public.checkout_session_state(text) IS 'A session we created (or Stripe told us about): its state and report. No row: we never made it, so nobody asks Stripe about it.';

CREATE FUNCTION public.fulfill_checkout(p_stripe_session_id text, p_draft_id uuid, p_user_id uuid, p_amount_total integer DEFAULT NULL::integer, p_currency text DEFAULT NULL::text, p_payment_intent text DEFAULT NULL::text) RETURNS TABLE(report_id uuid, created boolean)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _draft public.benchmark_drafts;
  _report_id uuid;
  _report_draft_id uuid;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' or p_draft_id is null or p_user_id is null then
    raise exception 'session id, draft id and user id are all required' using errcode = 'PT400';
  end if;

  select * into _draft from public.benchmark_drafts d where d.id = p_draft_id for update;
  if not found then
    raise exception 'draft % does not exist', p_draft_id using errcode = 'PT404';
  end if;
  if _draft.user_id <> p_user_id then
    raise exception 'draft % does not belong to user %', p_draft_id, p_user_id using errcode = 'PT403';
  end if;

  if _draft.status = 'ready' then
    insert into public.reports (
      user_id, draft_id, stripe_session_id, status, config_snapshot,
      image_paths, extraction_prompt, json_schema, runs_planned
    )
    select
      _draft.user_id,
      _draft.id,
      p_stripe_session_id,
      'paid',
      jsonb_build_object(
        'config_data', _draft.config_data,
        'upload_data', _draft.upload_data,
        'schema_data', _draft.schema_data,
        'selected_models', to_jsonb(_draft.selected_models),
        'model_prices', (
          select coalesce(jsonb_object_agg(c.id, jsonb_build_object(
                   'display_name', c.display_name,
                   'prompt_usd_per_mtok', c.prompt_usd_per_mtok,
                   'completion_usd_per_mtok', c.completion_usd_per_mtok,
                   'image_usd', c.image_usd,
                   'request_usd', c.request_usd,
                   'supports_json_schema', c.supports_json_schema)), '{}'::jsonb)
            from public.model_catalog c
           where c.id = any (_draft.selected_models)),
        'how_sent', jsonb_build_object(
          'max_side_px', (public.draft_limits() ->> 'send_max_side_px')::integer,
          'max_image_bytes', (public.draft_limits() ->> 'send_max_image_bytes')::integer,
          'data_collection', 'deny',
          'zero_retention', coalesce((_draft.config_data ->> 'zero_retention')::boolean, false))
      ),
      array(select p ->> 'path'
              from jsonb_array_elements(_draft.upload_data -> 'images') with ordinality as e (i, n)
              cross join lateral jsonb_array_elements(private.document_pages(e.i)) with ordinality as q (p, m)
             order by n, m),
      _draft.schema_data ->> 'prompt',
      private.effective_schema(_draft.schema_data),
      jsonb_array_length(_draft.upload_data -> 'images') * cardinality(_draft.selected_models)
        * private.repeats_asked(_draft.config_data)
    on conflict (stripe_session_id) do nothing
    returning id into _report_id;

    if _report_id is not null then
      update public.benchmark_drafts set status = 'paid' where id = _draft.id;
      update public.checkout_sessions s
         set amount_total = coalesce(p_amount_total, s.amount_total),
             currency = coalesce(p_currency, s.currency),
             payment_intent_id = coalesce(nullif(btrim(p_payment_intent), ''), s.payment_intent_id)
       where s.stripe_session_id = p_stripe_session_id;
      return query select _report_id, true;
      return;
    end if;
  end if;

  select r.id, r.draft_id into _report_id, _report_draft_id
    from public.reports r
   where r.stripe_session_id = p_stripe_session_id;
  if found then
    if _report_draft_id is distinct from p_draft_id then
      raise exception 'checkout session % paid for another draft', p_stripe_session_id
        using errcode = 'PT409';
    end if;
    return query select _report_id, false;
    return;
  end if;

  if _draft.status = 'paid' then
    raise exception 'draft % was already paid through another checkout session', p_draft_id
      using errcode = 'PT409';
  end if;
  raise exception 'draft % is not ready to be paid for (status %)', p_draft_id, _draft.status
    using errcode = 'PT422';
end
$$;

COMMENT ON FUNCTION public.fulfill_checkout(text, uuid, uuid, integer, text, text) IS 'Creates the report from a snapshot of a ready draft (prompt, effective schema, images, expected JSON, model prices, and how its images are sent: their largest size and the providers'' data policy asked) and marks the draft paid and the session paid (with the amount, currency and payment intent Stripe reported, so a later refund or dispute of that payment finds it), in one transaction. Idempotent by the unique stripe_session_id (ON CONFLICT, never check-then-insert): any number of concurrent calls for one session yield one report, `created` true exactly once. Errors: PT404 no draft, PT403 owner mismatch, PT409 draft already paid through another session, PT422 draft not ready, PT400 bad input, PT410 the session is owed a refund; a refusal writes nothing.';

CREATE FUNCTION public.open_checkout_session(p_stripe_session_id text, p_draft_id uuid) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  perform public.record_checkout_session(p_stripe_session_id, 'open', p_draft_id);
  return array(
    select s.stripe_session_id from public.checkout_sessions s
     where s.draft_id = p_draft_id and s.status = 'open' and s.stripe_session_id <> p_stripe_session_id
     order by s.created_at);
end
$$;

COMMENT ON FUNCTION public.open_checkout_session(text, uuid) IS 'A new session for a draft: recorded `open`, and the ids of the draft''s other open sessions returned, for the caller to expire at Stripe.';

CREATE FUNCTION public.record_checkout_session(p_stripe_session_id text, p_status text, p_draft_id uuid DEFAULT NULL::uuid, p_amount_total integer DEFAULT NULL::integer, p_currency text DEFAULT NULL::text, p_detail text DEFAULT NULL::text, p_payment_intent text DEFAULT NULL::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _status text;
begin
  if coalesce(btrim(p_stripe_session_id), '') = '' then
    raise exception 'session id is required' using errcode = 'PT400';
  end if;
  if p_status is null or p_status not in ('open', 'awaiting_payment', 'payment_failed', 'expired', 'rejected', 'refund_owed') then
    raise exception 'cannot record a session as %', coalesce(p_status, 'null') using errcode = 'PT400';
  end if;
  insert into public.checkout_sessions as s
    (stripe_session_id, draft_id, user_id, status, amount_total, currency, detail, payment_intent_id)
  select p_stripe_session_id, d.id, d.user_id, p_status, p_amount_total, p_currency, p_detail,
         nullif(btrim(p_payment_intent), '')
    from (select 1) as one
    left join public.benchmark_drafts d on d.id = p_draft_id
  on conflict (stripe_session_id) do update
    set status = excluded.status,
        detail = excluded.detail,
        amount_total = coalesce(excluded.amount_total, s.amount_total),
        currency = coalesce(excluded.currency, s.currency),
        payment_intent_id = coalesce(excluded.payment_intent_id, s.payment_intent_id)
    where s.status not in ('paid', 'refund_owed', 'refunded') and p_status <> 'open'
  returning s.status into _status;
  if _status is null then
    select s.status into _status from public.checkout_sessions s where s.stripe_session_id = p_stripe_session_id;
  end if;
  return _status;
end
$$;

COMMENT ON FUNCTION public.record_checkout_session(text, text, uuid, integer, text, text, text) IS 'Records a session''s unpaid state for the draft it names (its owner comes from the draft), or refund_owed for a paid one that cannot become a report, which schedules its refund and email. paid, refund_owed and refunded are final: a late expired or payment_failed (Stripe does not order its events) changes nothing. Returns the status the session has afterwards.';

CREATE FUNCTION public.record_charge_refunded(p_payment_intent text, p_charge_id text, p_amount integer, p_amount_refunded integer) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _session public.checkout_sessions;
begin
  if coalesce(btrim(p_payment_intent), '') = '' or coalesce(btrim(p_charge_id), '') = ''
     or p_amount is null or p_amount <= 0 or p_amount_refunded is null or p_amount_refunded < 0 then
    raise exception 'a refunded charge needs its payment intent, its id, its amount and the amount refunded'
      using errcode = 'PT400';
  end if;
  select * into _session from public.checkout_sessions s
   where s.payment_intent_id = p_payment_intent
     for update;
  if not found then
    return 'unknown';
  end if;
  if p_amount_refunded < p_amount then
    update public.checkout_sessions s
       set amount_refunded = greatest(coalesce(s.amount_refunded, 0), p_amount_refunded)
     where s.stripe_session_id = _session.stripe_session_id;
    return 'partially_refunded';
  end if;
  update public.checkout_sessions s
     set amount_refunded = p_amount_refunded,
         status = case when s.status in ('paid', 'refund_owed') then 'refunded' else s.status end,
         refund_id = coalesce(s.refund_id, p_charge_id),
         refunded_at = coalesce(s.refunded_at, now())
   where s.stripe_session_id = _session.stripe_session_id;
  update public.reports r
     set refund_id = coalesce(r.refund_id, p_charge_id),
         refunded_at = coalesce(r.refunded_at, now())
   where r.stripe_session_id = _session.stripe_session_id;
  -- A refund still owed is made: done, unless an engine holds it this
  -- moment (that engine then finds the payment refunded, and completes it
  -- without asking Stripe again).
  update private.followups f
     set done_at = now(), last_error = null
   where f.kind = 'refund' and f.done_at is null
     and (f.lease_expires_at is null or f.lease_expires_at < now())
     and (f.stripe_session_id = _session.stripe_session_id
          or f.report_id in (select r.id from public.reports r
                              where r.stripe_session_id = _session.stripe_session_id));
  return case when _session.refunded_at is null then 'refunded' else 'already_refunded' end;
end
$$;

COMMENT ON FUNCTION public.record_charge_refunded(text, text, integer, integer) IS 'Stripe''s charge.refunded (a refund made in the Dashboard, or one of ours): the session the payment intent paid for, and its report, are marked refunded when the whole amount is, so the page says so, and a refund still owed is done, so no second refund is ever made; a partial refund is recorded as the amount refunded. Answers refunded, already_refunded, partially_refunded, or unknown (no session of ours took that payment). Idempotent.';

CREATE FUNCTION public.record_charge_dispute(p_dispute_id text, p_payment_intent text, p_charge_id text, p_amount integer, p_currency text, p_reason text, p_status text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  if coalesce(btrim(p_dispute_id), '') = '' then
    raise exception 'a dispute is recorded with its id' using errcode = 'PT400';
  end if;
  insert into private.charge_disputes
    (dispute_id, payment_intent_id, charge_id, stripe_session_id, amount, currency, reason, status)
  values (left(p_dispute_id, 255), left(p_payment_intent, 255), left(p_charge_id, 255),
          (select s.stripe_session_id from public.checkout_sessions s
            where s.payment_intent_id = p_payment_intent),
          p_amount, left(p_currency, 10), left(p_reason, 100), left(p_status, 50))
  on conflict (dispute_id) do nothing;
  if not found then
    return 'already_recorded';
  end if;
  perform private.raise_operator_alert('dispute', p_dispute_id,
    format('A payment of %s %s was disputed (%s, %s), checkout session %s: answer it in Stripe''s Dashboard before its deadline.',
           to_char(coalesce(p_amount, 0) / 100.0, 'FM999990.00'), upper(coalesce(p_currency, '')),
           coalesce(p_reason, 'no reason given'), coalesce(p_status, 'no status'),
           coalesce((select s.stripe_session_id from public.checkout_sessions s
                      where s.payment_intent_id = p_payment_intent), 'unknown')));
  return 'recorded';
end
$$;

COMMENT ON FUNCTION public.record_charge_dispute(text, text, text, integer, text, text, text) IS 'Stripe''s charge.dispute.created: the dispute is kept (with the session its payment paid for, when it is ours) and an operator alerted, to answer it in Stripe''s Dashboard before its deadline. Changes nothing else. Answers recorded, or already_recorded for a redelivery.';

CREATE TABLE private.charge_disputes (
    dispute_id text NOT NULL,
    payment_intent_id text,
    charge_id text,
    stripe_session_id text,
    amount integer,
    currency text,
    reason text,
    status text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE private.charge_disputes IS 'Disputes of payments (charge.dispute.created), for an operator: answer each in Stripe''s Dashboard.';

ALTER TABLE ONLY private.charge_disputes
    ADD CONSTRAINT charge_disputes_pkey PRIMARY KEY (dispute_id);

CREATE TABLE private.checkout_admissions (
    user_id uuid NOT NULL,
    admitted_at timestamp with time zone DEFAULT now() NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
);

COMMENT ON TABLE private.checkout_admissions IS 'Checkouts: at most draft_limits().max_checkouts_per_hour started an hour per account, counted before Stripe is asked (each one is a Stripe request).';

CREATE TABLE public.checkout_sessions (
    stripe_session_id text NOT NULL,
    draft_id uuid,
    user_id uuid,
    status text NOT NULL,
    detail text,
    amount_total integer,
    currency text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    refund_id text,
    refunded_at timestamp with time zone,
    payment_intent_id text,
    amount_refunded integer,
    CONSTRAINT checkout_sessions_status_check CHECK ((status = ANY (ARRAY['open'::text, 'awaiting_payment'::text, 'paid'::text, 'payment_failed'::text, 'expired'::text, 'rejected'::text, 'refund_owed'::text, 'refunded'::text])))
);

ALTER TABLE ONLY public.checkout_sessions
    ADD CONSTRAINT checkout_sessions_pkey PRIMARY KEY (stripe_session_id);

CREATE INDEX checkout_admissions_user_idx ON private.checkout_admissions USING btree (user_id, admitted_at);

CREATE INDEX checkout_sessions_draft_id_idx ON public.checkout_sessions USING btree (draft_id);

CREATE INDEX checkout_sessions_user_id_idx ON public.checkout_sessions USING btree (user_id);

CREATE INDEX checkout_sessions_refunded_at_idx ON public.checkout_sessions USING btree (refunded_at) WHERE (refunded_at IS NOT NULL);

CREATE UNIQUE INDEX checkout_sessions_payment_intent_idx ON public.checkout_sessions USING btree (payment_intent_id) WHERE (payment_intent_id IS NOT NULL);

CREATE INDEX checkout_sessions_open_idx ON public.checkout_sessions USING btree (draft_id) WHERE (status = 'open'::text);

CREATE TRIGGER checkout_sessions_schedule_refund AFTER INSERT OR UPDATE OF status ON public.checkout_sessions FOR EACH ROW WHEN ((new.status = 'refund_owed'::text)) EXECUTE FUNCTION private.schedule_session_refund();

CREATE TRIGGER checkout_sessions_updated_at BEFORE UPDATE ON public.checkout_sessions FOR EACH ROW EXECUTE FUNCTION private.set_updated_at();

CREATE TRIGGER reports_mark_checkout_paid AFTER INSERT ON public.reports FOR EACH ROW WHEN ((new.stripe_session_id IS NOT NULL)) EXECUTE FUNCTION private.mark_checkout_paid();

ALTER TABLE ONLY private.checkout_admissions
    ADD CONSTRAINT checkout_admissions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.checkout_sessions
    ADD CONSTRAINT checkout_sessions_draft_id_fkey FOREIGN KEY (draft_id) REFERENCES public.benchmark_drafts(id) ON DELETE SET NULL;

ALTER TABLE ONLY public.checkout_sessions
    ADD CONSTRAINT checkout_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE SET NULL;

CREATE POLICY "Owners read their checkout sessions" ON public.checkout_sessions FOR SELECT TO authenticated USING ((user_id = ( SELECT auth.uid() AS uid)));

ALTER TABLE public.checkout_sessions ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON FUNCTION private.mark_checkout_paid() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.schedule_session_refund() FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION public.admit_checkout(p_user_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.admit_checkout(p_user_id uuid) TO service_role;

REVOKE ALL ON FUNCTION public.checkout_session_state(p_stripe_session_id text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.checkout_session_state(p_stripe_session_id text) TO service_role;

REVOKE ALL ON FUNCTION public.fulfill_checkout(p_stripe_session_id text, p_draft_id uuid, p_user_id uuid, p_amount_total integer, p_currency text, p_payment_intent text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.fulfill_checkout(p_stripe_session_id text, p_draft_id uuid, p_user_id uuid, p_amount_total integer, p_currency text, p_payment_intent text) TO service_role;

REVOKE ALL ON FUNCTION public.open_checkout_session(p_stripe_session_id text, p_draft_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.open_checkout_session(p_stripe_session_id text, p_draft_id uuid) TO service_role;

REVOKE ALL ON FUNCTION public.record_checkout_session(p_stripe_session_id text, p_status text, p_draft_id uuid, p_amount_total integer, p_currency text, p_detail text, p_payment_intent text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_checkout_session(p_stripe_session_id text, p_status text, p_draft_id uuid, p_amount_total integer, p_currency text, p_detail text, p_payment_intent text) TO service_role;

REVOKE ALL ON TABLE public.checkout_sessions FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT(stripe_session_id) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(draft_id) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(status) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(amount_total) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(currency) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(created_at) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(updated_at) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(refund_id) ON TABLE public.checkout_sessions TO authenticated;

GRANT SELECT(refunded_at) ON TABLE public.checkout_sessions TO authenticated;

REVOKE ALL ON FUNCTION public.record_charge_refunded(p_payment_intent text, p_charge_id text, p_amount integer, p_amount_refunded integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_charge_refunded(p_payment_intent text, p_charge_id text, p_amount integer, p_amount_refunded integer) TO service_role;

REVOKE ALL ON FUNCTION public.record_charge_dispute(p_dispute_id text, p_payment_intent text, p_charge_id text, p_amount integer, p_currency text, p_reason text, p_status text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.record_charge_dispute(p_dispute_id text, p_payment_intent text, p_charge_id text, p_amount integer, p_currency text, p_reason text, p_status text) TO service_role;

REVOKE ALL ON TABLE private.charge_disputes FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON TABLE private.checkout_admissions FROM PUBLIC, anon, authenticated, service_role;
