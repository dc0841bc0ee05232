-- dashboard refunds and disputes (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "public"."fulfill_checkout"(text, uuid, uuid);

DROP FUNCTION "public"."record_checkout_session"(text, text, uuid, integer, text, text);

CREATE TABLE "private"."charge_disputes" (
  "dispute_id"        text                     NOT NULL,
  "payment_intent_id" text,
  "charge_id"         text,
  "stripe_session_id" text,
  "amount"            integer,
  "currency"          text,
  "reason"            text,
  "status"            text,
  "created_at"        timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "charge_disputes_pkey" PRIMARY KEY (dispute_id)
);

ALTER TABLE "public"."checkout_sessions"
  ADD COLUMN "payment_intent_id" text;

ALTER TABLE "public"."checkout_sessions"
  ADD COLUMN "amount_refunded" integer;

CREATE OR REPLACE FUNCTION public.complete_followup (
  p_id          bigint,
  p_lease_token uuid,
  p_refund_id   text   DEFAULT NULL::text
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _f private.followups;
begin
  select * into _f from private.followups f
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
     for update;
  if not found then
    raise exception 'the lease on follow-up % is no longer held', p_id using errcode = 'PT410';
  end if;
  if _f.kind = 'refund' and coalesce(btrim(p_refund_id), '') = ''
     and not exists (select 1 from public.reports r where r.id = _f.report_id and r.refund_id is not null)
     and not exists (select 1 from public.checkout_sessions s
                      where s.stripe_session_id = _f.stripe_session_id and s.refund_id is not null) then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
  update private.followups f
     set done_at = now(), last_error = null, lease_token = null, lease_expires_at = null
   where f.id = p_id;
  if _f.kind = 'email' and _f.report_id is not null then
    update public.reports set email_sent_at = now(), followup_error = null where id = _f.report_id;
  elsif _f.kind = 'refund' and _f.report_id is not null then
    update public.reports
       set refund_id = coalesce(nullif(btrim(p_refund_id), ''), refund_id),
           refunded_at = coalesce(refunded_at, now()), followup_error = null
     where id = _f.report_id;
  elsif _f.kind = 'refund' then
    update public.checkout_sessions
       set refund_id = coalesce(nullif(btrim(p_refund_id), ''), refund_id),
           refunded_at = coalesce(refunded_at, now()), status = 'refunded'
     where stripe_session_id = _f.stripe_session_id;
  end if;
end
$function$;

CREATE OR REPLACE FUNCTION public.fulfill_checkout (
  p_stripe_session_id text,
  p_draft_id          uuid,
  p_user_id           uuid,
  p_amount_total      integer DEFAULT NULL::integer,
  p_currency          text    DEFAULT NULL::text,
  p_payment_intent    text    DEFAULT NULL::text
)
  RETURNS TABLE (
    report_id uuid,
    created   boolean
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


CREATE OR REPLACE FUNCTION public.record_charge_dispute (
  p_dispute_id     text,
  p_payment_intent text,
  p_charge_id      text,
  p_amount         integer,
  p_currency       text,
  p_reason         text,
  p_status         text
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
  return case when found then 'recorded' else 'already_recorded' end;
end
$function$;


CREATE OR REPLACE FUNCTION public.record_charge_refunded (
  p_payment_intent  text,
  p_charge_id       text,
  p_amount          integer,
  p_amount_refunded integer
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


CREATE OR REPLACE FUNCTION public.record_checkout_session (
  p_stripe_session_id text,
  p_status            text,
  p_draft_id          uuid    DEFAULT NULL::uuid,
  p_amount_total      integer DEFAULT NULL::integer,
  p_currency          text    DEFAULT NULL::text,
  p_detail            text    DEFAULT NULL::text,
  p_payment_intent    text    DEFAULT NULL::text
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;


CREATE UNIQUE INDEX checkout_sessions_payment_intent_idx ON public.checkout_sessions USING btree (payment_intent_id)
  WHERE (payment_intent_id IS NOT NULL);

COMMENT ON FUNCTION "public"."complete_followup"(bigint, uuid, text) IS 'A claimed follow-up is done: the email went out, or the refund was made (its Stripe id recorded on the report or the session; without an id only when the payment is already recorded refunded, as a refund made in Stripe''s Dashboard is). When the lease is no longer held (it expired and another engine has it, or it is done already) nothing is written and it raises PT410, as report writes do.';

COMMENT ON FUNCTION "public"."fulfill_checkout"(text, uuid, uuid, integer, text, text) IS 'Creates the report from a snapshot of a ready draft (prompt, effective schema, images, expected JSON, model prices, and how its images are sent: their largest size and the providers'' data policy asked) and marks the draft paid and the session paid (with the amount, currency and payment intent Stripe reported, so a later refund or dispute of that payment finds it), in one transaction. Idempotent by the unique stripe_session_id (ON CONFLICT, never check-then-insert): any number of concurrent calls for one session yield one report, `created` true exactly once. Errors: PT404 no draft, PT403 owner mismatch, PT409 draft already paid through another session, PT422 draft not ready, PT400 bad input, PT410 the session is owed a refund; a refusal writes nothing.';

COMMENT ON FUNCTION "public"."record_charge_dispute"(text, text, text, integer, text, text, text) IS 'Stripe''s charge.dispute.created: the dispute is kept (with the session its payment paid for, when it is ours) for an operator to answer in Stripe''s Dashboard before its deadline. Changes nothing else. Answers recorded, or already_recorded for a redelivery.';

COMMENT ON FUNCTION "public"."record_charge_refunded"(text, text, integer, integer) IS 'Stripe''s charge.refunded (a refund made in the Dashboard, or one of ours): the session the payment intent paid for, and its report, are marked refunded when the whole amount is, so the page says so, and a refund still owed is done, so no second refund is ever made; a partial refund is recorded as the amount refunded. Answers refunded, already_refunded, partially_refunded, or unknown (no session of ours took that payment). Idempotent.';

COMMENT ON FUNCTION "public"."record_checkout_session"(text, text, uuid, integer, text, text, text) IS 'Records a session''s unpaid state for the draft it names (its owner comes from the draft), or refund_owed for a paid one that cannot become a report, which schedules its refund and email. paid, refund_owed and refunded are final: a late expired or payment_failed (Stripe does not order its events) changes nothing. Returns the status the session has afterwards.';

COMMENT ON TABLE "private"."charge_disputes" IS 'Disputes of payments (charge.dispute.created), for an operator: answer each in Stripe''s Dashboard.';

REVOKE ALL ON TABLE "private"."charge_disputes" FROM PUBLIC, "anon", "authenticated", "service_role";

REVOKE ALL ON FUNCTION "public"."fulfill_checkout"(text, uuid, uuid, integer, text, text) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."fulfill_checkout"(text, uuid, uuid, integer, text, text) TO "service_role";

REVOKE ALL ON FUNCTION "public"."record_charge_dispute"(text, text, text, integer, text, text, text) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_charge_dispute"(text, text, text, integer, text, text, text) TO "service_role";

REVOKE ALL ON FUNCTION "public"."record_charge_refunded"(text, text, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_charge_refunded"(text, text, integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."record_checkout_session"(text, text, uuid, integer, text, text, text) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."record_checkout_session"(text, text, uuid, integer, text, text, text) TO "service_role";
