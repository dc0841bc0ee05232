-- new model watch (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

CREATE TABLE "public"."report_watches" (
  "report_id"         uuid                     NOT NULL,
  "since"             timestamp with time zone NOT NULL DEFAULT now(),
  "notified_models"   text[]                   NOT NULL DEFAULT '{}'::text[],
  "last_sent_at"      timestamp with time zone,
  "unsubscribe_token" text                     NOT NULL DEFAULT private.new_share_token(),
  "lease_token"       uuid,
  "lease_expires_at"  timestamp with time zone,
  "created_at"        timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "report_watches_notified_models_check" CHECK ((cardinality(notified_models) <= 5000)),
  CONSTRAINT "report_watches_pkey" PRIMARY KEY (report_id),
  CONSTRAINT "report_watches_unsubscribe_token_key" UNIQUE (unsubscribe_token)
);

ALTER TABLE "public"."report_watches"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."report_watches" FROM PUBLIC, "anon", "authenticated", "service_role";

CREATE OR REPLACE FUNCTION private.watch_new_models (
  p_watch public.report_watches,
  p_limit integer
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', c.id, 'display_name', c.display_name,
           'prompt_usd_per_mtok', c.prompt_usd_per_mtok, 'completion_usd_per_mtok', c.completion_usd_per_mtok)
           order by c.created_at desc, c.id), '[]'::jsonb)
    from (select c.* from public.model_catalog c, public.reports r
           where r.id = p_watch.report_id
             and c.active
             and c.created_at > p_watch.since
             and not c.id = any (p_watch.notified_models)
             and not r.config_snapshot -> 'selected_models' ? c.id
           order by c.created_at desc, c.id
           limit p_limit) c
$function$;

CREATE OR REPLACE FUNCTION public.claim_watch_emails (
  p_worker        text,
  p_limit         integer DEFAULT 20,
  p_lease_seconds integer DEFAULT 120
)
  RETURNS TABLE (
    report_id         uuid,
    lease_token       uuid,
    email             text,
    report_name       text,
    unsubscribe_token text,
    pick              jsonb,
    models            jsonb
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  return query
  with claimed as (
    update public.report_watches w
       set lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds)
     where w.report_id in (
       select c.report_id from public.report_watches c
        where (c.last_sent_at is null or c.last_sent_at < now() - interval '7 days')
          and (c.lease_expires_at is null or c.lease_expires_at < now())
          and jsonb_array_length(private.watch_new_models(c, 1)) > 0
        order by c.last_sent_at nulls first, c.report_id
        limit greatest(least(p_limit, 100), 0)
        for update skip locked)
    returning w.*
  )
  select w.report_id, w.lease_token, u.email::text,
         coalesce(r.config_snapshot -> 'config_data' ->> 'name', 'your report'),
         w.unsubscribe_token,
         (select jsonb_build_object('id', m ->> 'model_id', 'display_name', m ->> 'display_name')
            from jsonb_array_elements(r.figures -> 'models') m limit 1),
         -- With the pick, a re-run holds at most the models a draft may.
         private.watch_new_models(w, (public.draft_limits() ->> 'max_models')::integer - 1)
    from claimed w
    join public.reports r on r.id = w.report_id
    join auth.users u on u.id = r.user_id;
end
$function$;

CREATE OR REPLACE FUNCTION public.complete_watch_email (
  p_report_id   uuid,
  p_lease_token uuid,
  p_models      text[]
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  update public.report_watches w
     set notified_models = (select array_agg(distinct m) from unnest(w.notified_models || coalesce(p_models, '{}')) m),
         last_sent_at = now(),
         lease_token = null,
         lease_expires_at = null
   where w.report_id = p_report_id and w.lease_token = p_lease_token and w.lease_expires_at >= now();
  if not found then
    raise exception 'the lease on the watch of report % is no longer held', p_report_id using errcode = 'PT410';
  end if;
end
$function$;

CREATE OR REPLACE FUNCTION public.export_account (
  p_user_id uuid
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'exported_at', now(),
    'account', jsonb_build_object('id', u.id, 'email', u.email, 'created_at', u.created_at,
                                  'last_sign_in_at', u.last_sign_in_at),
    'drafts', coalesce((select jsonb_agg(jsonb_build_object(
                          'id', d.id, 'status', d.status, 'config_data', d.config_data,
                          'upload_data', d.upload_data, 'schema_data', d.schema_data,
                          'selected_models', d.selected_models, 'created_at', d.created_at,
                          'updated_at', d.updated_at) order by d.created_at)
                          from public.benchmark_drafts d where d.user_id = u.id), '[]'),
    'reports', coalesce((select jsonb_agg(jsonb_build_object(
                           'id', r.id, 'draft_id', r.draft_id, 'status', r.status,
                           'status_reason', r.status_reason, 'paid_at', r.paid_at,
                           'started_at', r.started_at, 'finished_at', r.finished_at,
                           'what_was_run', r.config_snapshot, 'image_paths', r.image_paths,
                           'extraction_prompt', r.extraction_prompt, 'json_schema', r.json_schema,
                           'figures', r.figures, 'model_calls_cost_usd', r.cost_spent,
                           'refunded_at', r.refunded_at, 'images_deleted_at', r.images_deleted_at,
                           'share_link_open', r.share_token is not null, 'share_images', r.share_images,
                           'expected_corrections', r.expected_corrections, 'scoring_version', r.scoring_version,
                           'earlier_scorings', coalesce((select jsonb_agg(jsonb_build_object(
                                                           'version', sc.version, 'figures', sc.figures,
                                                           'expected_corrections', sc.corrections,
                                                           'scored_at', sc.scored_at) order by sc.version)
                                                           from public.report_scorings sc where sc.report_id = r.id), '[]'),
                           'watching_new_models', exists (select 1 from public.report_watches w where w.report_id = r.id),
                           'runs', coalesce((select jsonb_agg(jsonb_build_object(
                                               'model_id', b.model_id, 'document_index', b.image_index,
                                               'answer', b.output_json, 'passed', b.passed,
                                               'fields_total', b.fields_total,
                                               'fields_matched', b.fields_matched,
                                               'differences', b.field_diffs, 'error', b.error,
                                               'response_time_ms', b.response_time_ms,
                                               'cost_usd', b.cost, 'at', b.created_at)
                                             order by b.image_index, b.model_id)
                                              from public.benchmark_runs b where b.report_id = r.id), '[]'))
                           order by r.created_at)
                           from public.reports r where r.user_id = u.id), '[]'),
    'payments', coalesce((select jsonb_agg(jsonb_build_object(
                            'checkout_session', s.stripe_session_id, 'status', s.status,
                            'amount_total', s.amount_total, 'currency', s.currency,
                            'created_at', s.created_at, 'refunded_at', s.refunded_at)
                            order by s.created_at)
                            from public.checkout_sessions s where s.user_id = u.id), '[]'),
    'images', coalesce((select jsonb_agg(jsonb_build_object('path', o.name, 'size', o.metadata ->> 'size',
                                                            'uploaded_at', o.created_at) order by o.name)
                          from storage.objects o
                         where o.bucket_id = 'benchmark-images'
                           and (storage.foldername(o.name))[1] = u.id::text), '[]'))
    from auth.users u
   where u.id = p_user_id
$function$;

CREATE OR REPLACE FUNCTION public.read_report (
  p_report_id   uuid,
  p_share_token text DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
    'how_sent', r.config_snapshot -> 'how_sent',
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
               'key', d.key,
               'expected', coalesce(r.expected_corrections -> d.key, d.image -> 'expected'),
               'corrected', coalesce(r.expected_corrections ? d.key, false),
               'pages', d.pages,
               'first_page', d.first_page
             ) order by d.n), '[]'::jsonb)
        from (select e.image, e.n, jsonb_array_length(private.document_pages(e.image)) as pages,
                     encode(sha256(convert_to(coalesce(e.image ->> 'path', ''), 'UTF8')), 'hex') as key,
                     coalesce(sum(jsonb_array_length(private.document_pages(e.image)))
                                over (order by e.n rows between unbounded preceding and 1 preceding), 0) as first_page
                from jsonb_array_elements(r.config_snapshot -> 'upload_data' -> 'images') with ordinality as e (image, n)) d),
    'summary', (
      select coalesce(jsonb_agg(to_jsonb(s) - 'report_id' order by s.model_id), '[]'::jsonb)
        from public.report_model_summary s
       where s.report_id = r.id),
    -- Only the owner learns the link, and whether the payment was refunded.
    'owner', p_share_token is null,
    'share_token', case when p_share_token is null then r.share_token end,
    'refunded_at', case when p_share_token is null then r.refunded_at end,
    -- Whether the owner is mailed about new models (set_report_watch).
    'watching', case when p_share_token is null
                     then exists (select 1 from public.report_watches w where w.report_id = r.id) end,
    -- Whether link holders see the document images (the owner's choice).
    'share_images', r.share_images and r.images_deleted_at is null,
    'images_deleted_at', r.images_deleted_at,
    -- Which scoring the figures are: 1 as paid for, one more each time the
    -- owner corrected the expected JSON (rescore_report).
    'scoring', jsonb_build_object(
      'version', r.scoring_version,
      'rescored_at', r.rescored_at,
      'pending', r.pending_corrections is not null,
      'earlier', (select coalesce(jsonb_agg(jsonb_build_object('version', s.version, 'scored_at', s.scored_at)
                                            order by s.version), '[]'::jsonb)
                    from public.report_scorings s where s.report_id = r.id))
  )
  from public.reports r
  where r.id = p_report_id
    and private.readable_report(p_report_id, p_share_token)
$function$;

CREATE OR REPLACE FUNCTION public.set_report_watch (
  p_report_id uuid,
  p_on        boolean
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  _status text;
begin
  select r.status into _status from public.reports r
   where r.id = p_report_id and r.user_id = (select auth.uid());
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if coalesce(p_on, false) then
    if _status <> 'complete' then
      raise exception 'Only a finished report can be watched for new models; this one is %.', _status
        using errcode = 'PT409';
    end if;
    insert into public.report_watches (report_id) values (p_report_id) on conflict (report_id) do nothing;
    return true;
  end if;
  delete from public.report_watches w where w.report_id = p_report_id;
  return false;
end
$function$;

CREATE OR REPLACE FUNCTION public.stop_report_watch (
  p_token text
)
  RETURNS boolean
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  with stopped as (
    delete from public.report_watches w
     where length(coalesce(p_token, '')) = 64 and w.unsubscribe_token = p_token
    returning 1
  )
  select exists (select 1 from stopped)
$function$;

ALTER TABLE "public"."report_watches"
  ADD CONSTRAINT "report_watches_report_id_fkey" FOREIGN KEY (report_id) REFERENCES public.reports(id) ON DELETE CASCADE;

COMMENT ON FUNCTION "private"."watch_new_models"(public.report_watches, integer) IS 'The models a watch has still to name (at most `p_limit`, newest first): offered now, first offered after it began, not in its report, not named before; each with its name and prices.';

COMMENT ON FUNCTION "public"."claim_watch_emails"(text, integer, integer) IS 'Claims up to `p_limit` watches with models to name and no mail in the last 7 days, for `p_lease_seconds`; concurrent callers never get the same one. Each comes with whom to mail, the report''s name, its pick (the first model of its figures), the models to name (at most max_models - 1, newest first, with their prices) and the unsubscribe token; complete_watch_email records the mail.';

COMMENT ON FUNCTION "public"."complete_watch_email"(uuid, uuid, text[]) IS 'Records the mail of a claimed watch: the models it named are never named again, and the next mail waits a week. PT410 when the lease is no longer held (nothing is written; the mail was idempotent).';

COMMENT ON FUNCTION "public"."export_account"(uuid) IS 'Everything ModelPick keeps of one account, in one document (GET /api/account/export): the account, its drafts, its reports with every model answer and score (and the expected JSON its owner corrected, the figures of earlier scorings, whether it is watched for new models), its payments, and the images it stored (paths; the bytes stay in Storage). Null for no such account. Service role only: the sidecar asks for the account whose token it verified.';

COMMENT ON FUNCTION "public"."read_report"(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents (each with its pages: how many, and where its first is in the report''s image_paths), figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at), and which scoring the figures are (scoring: version, when it was scored again, whether a new one is pending, the earlier versions; documents[].expected is the corrected JSON where the owner corrected it, marked `corrected`); only the owner learns the share token, the refund and whether the report is watched for new models (watching). Null for anyone else.';

COMMENT ON FUNCTION "public"."set_report_watch"(uuid, boolean) IS 'The owner of a complete report asks to be mailed when models offered from now on could change its pick (`p_on`), or no longer; returns whether it is watched. Asking again changes nothing (the watch keeps its start and what it named). PT404 for anyone but the owner, PT409 to watch a report not complete.';

COMMENT ON FUNCTION "public"."stop_report_watch"(text) IS 'The unsubscribe link of a new-model mail: whoever holds its token stops that report''s watch, signed in or not. True when a watch was stopped, false for a token that stops none (already stopped, or never one).';

COMMENT ON TABLE "public"."report_watches" IS 'Finished reports whose owner asked to hear of new models: models first offered after `since`, not in the report and not named before (notified_models), are mailed at most once a week (last_sent_at). The mail''s unsubscribe link carries unsubscribe_token. Reached only through the functions of watches.sql.';

REVOKE ALL ON FUNCTION "private"."watch_new_models"(public.report_watches, integer) FROM PUBLIC, "anon", "authenticated", "service_role";

REVOKE ALL ON FUNCTION "public"."claim_watch_emails"(text, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."claim_watch_emails"(text, integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "public"."complete_watch_email"(uuid, uuid, text[]) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."complete_watch_email"(uuid, uuid, text[]) TO "service_role";

REVOKE ALL ON FUNCTION "public"."set_report_watch"(uuid, boolean) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."set_report_watch"(uuid, boolean) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."stop_report_watch"(text) FROM PUBLIC, "anon", "authenticated", "service_role";

GRANT EXECUTE ON FUNCTION "public"."stop_report_watch"(text) TO "anon", "authenticated";

