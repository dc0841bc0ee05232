-- Supabase's advisors agree, follow-ups are fenced like reports, and every
-- function and table says what it is for (its comment). Generated from
-- supabase/schemas by scripts/db-diff, but for the storage policies at the
-- end, which the CLI's diff does not cover (they live in Storage's schema).
--
-- complete_followup and fail_followup change their answers (no lease:
-- PT410, as report writes), so they are dropped and made again: upgrade
-- the database, then the binary (docs say so); an older engine meanwhile
-- sees a follow-up fail to record and repeats it, idempotently.

SET local check_function_bodies = off;

DROP POLICY "Owners change their drafts until paid" ON "public"."benchmark_drafts";

DROP POLICY "Owners create unpaid drafts" ON "public"."benchmark_drafts";

DROP POLICY "Owners delete their drafts until paid" ON "public"."benchmark_drafts";

DROP POLICY "Owners read their drafts" ON "public"."benchmark_drafts";

DROP POLICY "Owners read their checkout sessions" ON "public"."checkout_sessions";

DROP POLICY "Owners read their reports" ON "public"."reports";

DROP FUNCTION "public"."complete_followup"(bigint, uuid, text);

DROP FUNCTION "public"."fail_followup"(bigint, uuid, text, integer, integer, integer);

ALTER TABLE "private"."checkout_admissions"
  ADD COLUMN "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL;

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
  if _f.kind = 'refund' and coalesce(btrim(p_refund_id), '') = '' then
    raise exception 'a refund is recorded with its Stripe id' using errcode = 'PT400';
  end if;
  update private.followups f
     set done_at = now(), last_error = null, lease_token = null, lease_expires_at = null
   where f.id = p_id;
  if _f.kind = 'email' and _f.report_id is not null then
    update public.reports set email_sent_at = now(), followup_error = null where id = _f.report_id;
  elsif _f.kind = 'refund' and _f.report_id is not null then
    update public.reports set refund_id = p_refund_id, refunded_at = now(), followup_error = null
     where id = _f.report_id;
  elsif _f.kind = 'refund' then
    update public.checkout_sessions set refund_id = p_refund_id, refunded_at = now(), status = 'refunded'
     where stripe_session_id = _f.stripe_session_id;
  end if;
end
$function$;


CREATE OR REPLACE FUNCTION public.fail_followup (
  p_id           bigint,
  p_lease_token  uuid,
  p_error        text,
  p_base_seconds integer,
  p_cap_seconds  integer,
  p_alert_after  integer
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _f private.followups;
begin
  if p_base_seconds is null or p_base_seconds < 1 or p_cap_seconds is null or p_cap_seconds < p_base_seconds
     or p_alert_after is null or p_alert_after < 1 then
    raise exception 'backoff needs 1 <= base <= cap and an alert threshold of at least 1'
      using errcode = 'PT400';
  end if;
  update private.followups f
     set last_error = left(p_error, 1000),
         lease_token = null,
         lease_expires_at = null,
         next_attempt_at = now() + make_interval(secs =>
           least(p_cap_seconds, p_base_seconds * power(2, least(greatest(f.attempts - 1, 0), 30)))
           * (0.8 + random() * 0.4)),
         alerted_at = case when f.attempts >= p_alert_after then coalesce(f.alerted_at, now())
                           else f.alerted_at end
   where f.id = p_id and f.lease_token = p_lease_token and f.done_at is null
  returning * into _f;
  if not found then
    raise exception 'the lease on follow-up % is no longer held', p_id using errcode = 'PT410';
  end if;
  if _f.report_id is not null then
    update public.reports set followup_error = left(_f.kind || ': ' || p_error, 1000) where id = _f.report_id;
  end if;
  return _f.attempts = p_alert_after;
end
$function$;


ALTER TABLE "private"."checkout_admissions"
  ADD CONSTRAINT "checkout_admissions_pkey" PRIMARY KEY (id);

CREATE INDEX checkout_sessions_user_id_idx ON public.checkout_sessions USING btree (user_id);

CREATE INDEX reports_draft_id_idx ON public.reports USING btree (draft_id);

CREATE POLICY "Owners change their drafts until paid" ON "public"."benchmark_drafts"
  FOR UPDATE
  TO "authenticated"
  USING (((user_id = ( SELECT auth.uid() AS uid)) AND (status <> 'paid'::text)))
  WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (status = ANY (ARRAY['draft'::text, 'ready'::text]))));

CREATE POLICY "Owners create unpaid drafts" ON "public"."benchmark_drafts"
  FOR INSERT
  TO "authenticated"
  WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (status = ANY (ARRAY['draft'::text, 'ready'::text]))));

CREATE POLICY "Owners delete their drafts until paid" ON "public"."benchmark_drafts"
  FOR DELETE
  TO "authenticated"
  USING (((user_id = ( SELECT auth.uid() AS uid)) AND (status <> 'paid'::text)));

CREATE POLICY "Owners read their drafts" ON "public"."benchmark_drafts"
  FOR SELECT
  TO "authenticated"
  USING ((user_id = ( SELECT auth.uid() AS uid)));

CREATE POLICY "Owners read their checkout sessions" ON "public"."checkout_sessions"
  FOR SELECT
  TO "authenticated"
  USING ((user_id = ( SELECT auth.uid() AS uid)));

CREATE POLICY "Owners read their reports" ON "public"."reports"
  FOR SELECT
  TO "authenticated"
  USING ((user_id = ( SELECT auth.uid() AS uid)));

COMMENT ON FUNCTION "private"."call_worst_case"(jsonb, integer, integer, integer) IS 'The most one HTTP attempt can cost at `p_price` (a snapshotted price: US dollars per million prompt and completion tokens, per image, per request).';

COMMENT ON FUNCTION "private"."catalog_entry_problem"(jsonb) IS 'Why an entry of sync_model_catalog''s offer cannot be offered, or null. Nothing here casts text it has not checked, so one odd entry is a reason, never an error that stops the sync.';

COMMENT ON FUNCTION "private"."catalog_price_problem"(numeric, numeric, numeric, numeric) IS 'Why these prices cannot be stored, or null: every price known and not negative, a token under $1 (a million tokens under $1,000,000), an image or a request under $1,000.';

COMMENT ON FUNCTION "private"."check_draft_size"() IS 'A draft''s whole upload is measured before any image is walked: the walk must never be the expensive part.';

COMMENT ON FUNCTION "private"."check_expected_json"(jsonb, text) IS 'Refuses expected JSON the scorer could not bound; `p_what` names it in the message ("the expected JSON of image 3 (invoice.png)").';

COMMENT ON FUNCTION "private"."check_open_drafts"() IS 'Unfinished drafts: at most 50 per account, for what a user''s own session inserts (operators and the service role are not counted). Serialised per account, so that parallel inserts cannot slip past the count.';

COMMENT ON FUNCTION "private"."check_ready_draft"() IS 'A ready draft''s images are under its owner''s folder, by a safe name.';

COMMENT ON FUNCTION "private"."check_storage_quota"(uuid) IS 'Stored files: at most 500 per account, raised as Storage''s own refusal (42501), whose message Storage passes on to the client. Volatile and serialised per account: a second upload waits until the first one''s transaction ends, then counts it.';

COMMENT ON FUNCTION "private"."effective_schema"(jsonb) IS 'The schema answers are held to: the user''s own, else the inferred one (`schema_data` is {"prompt", "userSchema", "inferredSchema"}).';

COMMENT ON FUNCTION "private"."give_up_report"(uuid, integer) IS 'Ends a report its engines could not finish in `p_attempts` claims: what was delivered is kept (complete, cut short); with nothing delivered it fails, which schedules its refund.';

COMMENT ON FUNCTION "private"."human_bytes"(bigint) IS '"80 KB", "9.5 KB", "512 bytes": sizes as a person reads them.';

COMMENT ON FUNCTION "private"."image_pixels"(jsonb) IS 'Pixels of an image as the estimate counts them.';

COMMENT ON FUNCTION "private"."image_size_problem"(jsonb) IS 'Why an image''s stated size cannot be used, or null: absent is fine (the estimate then assumes an A4 page at 300 dpi), present must be whole pixels from 1 to 20,000.';

COMMENT ON FUNCTION "private"."image_token_bound"(bigint, integer) IS 'Tokens of an image with no published maximum: no vision model in use spends fewer than 196 pixels (14 x 14) on a token, plus separators.';

COMMENT ON FUNCTION "private"."json_shape"(jsonb) IS 'The shape of a JSON value, as the scorer sees it: how deep containers nest (a scalar is 0, {"a": 1} is 1), the longest array, and the fields (scalars and empty containers). The walk stops one level past the deepest allowed, so a value nested a million deep costs no more than one nested 17 deep.';

COMMENT ON FUNCTION "private"."lock_leased_report"(uuid, uuid) IS 'Locks a report for a write by the holder of `p_lease_token`; raises PT410 when the lease is no longer held, so the engine stops.';

COMMENT ON FUNCTION "private"."mark_checkout_paid"() IS 'The session row a report is made for is marked paid in the report''s own transaction; a session already owed a refund (or refunded) refuses it, and the report is not made. The upsert locks the row, so a refund being recorded at the same moment either comes first (and the report is refused) or waits and then leaves the paid session alone.';

COMMENT ON FUNCTION "private"."notify_report_paid"() IS 'NOTIFY is only a wake-up call: delivered at commit, so the row is already visible, and carrying just the id (payloads are capped at 8000 bytes).';

COMMENT ON FUNCTION "private"."readable_report"(uuid, text) IS 'Whether the caller may read the report: its owner (no token given), or a holder of its current share token.';

COMMENT ON FUNCTION "private"."report_keeps_image"(text) IS 'Whether a report still keeps the file `p_name`: one that uses it and whose images were not deleted. The storage policies ask it as the uploader, who may not read every column of reports.';

COMMENT ON FUNCTION "private"."settle_abandoned_reservations"() IS 'Taking over a report whose engine died: its reservations become unsettled money, still counted against the ceiling.';

COMMENT ON FUNCTION "private"."text_token_bound"(text, jsonb) IS 'Tokens of the text a call sends: a token is never shorter than one byte, so the bytes of the prompt and the schema, and of the instructions and message framing around them, bound it.';

COMMENT ON FUNCTION "public"."admit_checkout"(uuid) IS 'Admits one checkout for the account (true), or refuses (PT429) with when the next one may start.';

COMMENT ON FUNCTION "public"."catalog_sync_due"(interval) IS 'Whether the engine should sync now: the catalog offers nothing yet, or the last sync that worked is older than `p_every`. Failed syncs are retried by the engine on its own backoff.';

COMMENT ON FUNCTION "public"."checkout_session_state"(text) IS 'A session we created (or Stripe told us about): its state and report. No row: we never made it, so nobody asks Stripe about it.';

COMMENT ON FUNCTION "public"."claim_followups"(text, integer, integer) IS 'Claims up to `p_limit` follow-ups whose time has come, the longest-waiting first, for `p_lease_seconds`; concurrent callers never get the same one. Each comes with what doing it needs (see 017) and the lease token that fences its completion or failure.';

COMMENT ON FUNCTION "public"."claim_next_report"(text, integer, integer) IS 'Takes the running report whose lease expired longest ago, else the oldest paid one, with FOR UPDATE SKIP LOCKED: concurrent callers never get the same report. Sets running, a fresh lease_token, lease_expires_at, attempts + 1, started_at (kept across takeovers). A report claimed `p_max_attempts` times already is ended instead (complete with what it delivered, or failed and refunded) and the next one looked at. No row when idle.';

COMMENT ON FUNCTION "public"."complete_followup"(bigint, uuid, text) IS 'A claimed follow-up is done: the email went out, or the refund was made (its Stripe id recorded on the report or the session). When the lease is no longer held (it expired and another engine has it, or it is done already) nothing is written and it raises PT410, as report writes do.';

COMMENT ON FUNCTION "public"."delete_report_images"(uuid) IS 'The owner''s explicit "delete this report''s images": a finished report of theirs lets go of its files, and the answer is the files no report keeps any more, which the page then deletes through Storage (the only way Storage''s objects are deleted). A file another of their reports still keeps stays, for that report. Asking again changes nothing.';

COMMENT ON FUNCTION "public"."draft_from_report"(uuid) IS 'Runs a report''s documents again, on other models: a new draft of the owner''s with the same documents (the same files, no second copy), expected JSON, schema and prompt, as the report was paid for, and no model picked. The draft remembers where it came from (`config_data.source_report`: id, name, when it was paid and its models), so the wizard can mark the models already benchmarked and those added since. It counts toward the owner''s unfinished drafts. A report whose images were deleted is refused (PT409); another user''s or an unknown report is PT404.';

COMMENT ON FUNCTION "public"."draft_limits"() IS 'The limits every draft is held to, and what the product promises beside them (the ceilings, the longest answer a call asks for): the wizard and the engine read them here.';

COMMENT ON FUNCTION "public"."estimate_draft_cost"(uuid) IS 'The owner''s draft''s worst case (every call at its worst, by reserve_run''s formula), and the ceilings it is held to.';

COMMENT ON FUNCTION "public"."fail_followup"(bigint, uuid, text, integer, integer, integer) IS 'A claimed follow-up failed: its lease ends, and the next claim waits twice as long as the last (from p_base_seconds, at most p_cap_seconds, with 20% jitter); the claim counted the attempt. True exactly once, when the attempts reach p_alert_after (alert an operator). When the lease is no longer held nothing is written and it raises PT410.';

COMMENT ON FUNCTION "public"."finish_report"(uuid, uuid, text, text, boolean) IS 'Ends a report as complete or failed (a failure needs a reason a person can read), clears the lease, records finished_at and runs_done. Fenced: a stale token writes nothing and gets false.';

COMMENT ON FUNCTION "public"."fulfill_checkout"(text, uuid, uuid) IS 'Creates the report from a snapshot of a ready draft (prompt, effective schema, images, expected JSON, model prices) and marks the draft paid, in one transaction. Idempotent by the unique stripe_session_id (ON CONFLICT, never check-then-insert): any number of concurrent calls for one session yield one report, `created` true exactly once. Errors: PT404 no draft, PT403 owner mismatch, PT409 draft already paid through another session, PT422 draft not ready, PT400 bad input, PT410 the session is owed a refund; a refusal writes nothing.';

COMMENT ON FUNCTION "public"."open_checkout_session"(text, uuid) IS 'A new session for a draft: recorded `open`, and the ids of the draft''s other open sessions returned, for the caller to expire at Stripe.';

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), documents, figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at); only the owner learns the share token and the refund. Null for anyone else.';

COMMENT ON FUNCTION "public"."read_report_runs"(uuid, text) IS 'Every call of the report, for the same readers.';

COMMENT ON FUNCTION "public"."record_catalog_sync_failure"(text) IS 'Keeps a sync that failed for an operator (the catalog was left as it was).';

COMMENT ON FUNCTION "public"."record_checkout_session"(text, text, uuid, integer, text, text) IS 'Records a session''s unpaid state for the draft it names (its owner comes from the draft), or refund_owed for a paid one that cannot become a report, which schedules its refund and email. paid, refund_owed and refunded are final: a late expired or payment_failed (Stripe does not order its events) changes nothing. Returns the status the session has afterwards.';

COMMENT ON FUNCTION "public"."record_report_figures"(uuid, uuid, jsonb) IS 'Stores a report''s figures (computed once by the engine) while the lease is held; false when it is not.';

COMMENT ON FUNCTION "public"."record_run"(uuid, uuid, jsonb) IS 'Records a call''s result in place of its reservation. Its cost is what the provider reported (`cost`) plus the worst case of every attempt whose outcome is unknown (`attempts_at_worst_case`). Idempotent per cell.';

COMMENT ON FUNCTION "public"."record_runs"(uuid, uuid, jsonb) IS 'Records the runs of `p_runs` (a list of what record_run takes, at most 50), each in place of its reservation: how many were new.';

COMMENT ON FUNCTION "public"."release_report"(uuid, uuid) IS 'Graceful hand-back (shutdown): the report is paid again, which notifies the other engines, and the attempt does not count. Fenced by the token.';

COMMENT ON FUNCTION "public"."release_reservation"(uuid, uuid, text, integer) IS 'Gives back the reservation of a call that will never be sent. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."renew_report_lease"(uuid, uuid, integer) IS 'Extends the lease, only for the token''s holder. False: the lease is lost; stop working on the report and write nothing more.';

COMMENT ON FUNCTION "public"."reserve_retry"(uuid, uuid, text, integer) IS 'Another worst case for a retry after a possibly billed attempt, within the hard ceiling only: false means do not send it. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_run"(uuid, uuid, text, integer, bigint, integer, numeric) IS 'Computes one call''s worst case from the report''s prompt, schema and snapshotted price and the image''s pixels (or the model''s max_image_tokens), reserves it and returns it; null when committed money (spent + reserved + unsettled) would pass `p_soft_ceiling` or the hard ceiling. PT422 for a model without a price, PT409 for a cell with a result or a reservation. Fenced by the lease (PT410).';

COMMENT ON FUNCTION "public"."reserve_runs"(uuid, uuid, jsonb, integer, numeric) IS 'Reserves the cells of `p_cells` ([{model_id, image_index, image_pixels}], at most 20) in order, each as reserve_run would, and stops at the first the money does not allow: that one comes back with a null amount and nothing after it is reserved.';

COMMENT ON FUNCTION "public"."revoke_report_share_token"(uuid) IS 'The owner''s report has no share link any more. PT404 for anyone else.';

COMMENT ON FUNCTION "public"."rotate_report_share_token"(uuid) IS 'The owner''s report gets a new share link; the old one opens nothing. PT404 for anyone else.';

COMMENT ON FUNCTION "public"."set_report_image_sharing"(uuid, boolean) IS 'The owner''s choice whether the share link shows the documents'' images. PT404 for anyone else.';

COMMENT ON FUNCTION "public"."shared_report_images"(uuid, text) IS 'The image paths of a shared report, for the sidecar to stream: only for the current token, only while the owner shares images, none once they were deleted.';

COMMENT ON FUNCTION "public"."sync_model_catalog"(jsonb, jsonb) IS 'Makes the catalog what the provider lists. `p_offered`: the models to offer, each {id, canonical_slug, display_name, provider, created (Unix seconds), context_length, max_completion_tokens, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd (decimal strings), takes_response_format, takes_structured_outputs}. `p_refused`: models the provider lists that cannot be offered, each {id, reason}. An offered model is added, repriced or made active again; one outside the catalog''s bounds (private.catalog_entry_problem) is refused with its reason while the rest syncs; an active model not offered becomes inactive with its reason (or "no longer listed"). An empty offer changes nothing: a provider listing no vision model with a price is broken, not a reason to withdraw every model. Returns what changed: {offered, added, repriced, reactivated, deactivated, refused}.';

COMMENT ON TABLE "private"."catalog_syncs" IS 'Each sync, kept 90 days for an operator: when, whether it worked, what it changed or why it failed.';

COMMENT ON TABLE "private"."checkout_admissions" IS 'Checkouts: at most 20 started an hour per account, counted before Stripe is asked (each one is a Stripe request).';

COMMENT ON TABLE "public"."model_price_history" IS 'Every price a model has had, from when it took effect.';

COMMENT ON VIEW "public"."report_model_summary" IS 'Per report and model: runs, passed, errors, accuracy, field_accuracy, total_cost, median_latency_ms, p95_latency_ms. Security-invoker: readable exactly where the runs are.';

REVOKE ALL ON FUNCTION "public"."complete_followup"(bigint, uuid, text) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."complete_followup"(bigint, uuid, text) TO "service_role";

REVOKE ALL ON FUNCTION "public"."fail_followup"(bigint, uuid, text, integer, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."fail_followup"(bigint, uuid, text, integer, integer, integer) TO "service_role";

-- The storage policies ask for the user once per statement, not per row
-- (auth_rls_initplan), as the other two already do.
drop policy "Owners read their benchmark images" on storage.objects;
create policy "Owners read their benchmark images"
  on storage.objects for select to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = (select auth.uid()::text)
  );

drop policy "Owners upload into their own folder" on storage.objects;
create policy "Owners upload into their own folder"
  on storage.objects for insert to authenticated
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = (select auth.uid()::text)
    and private.storage_name_is_safe(name)
    and private.check_storage_quota((select auth.uid()))
  );
