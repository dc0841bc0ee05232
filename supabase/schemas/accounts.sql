-- accounts.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Accounts: a customer's data exported in one document, and deleted on
-- request, keeping only the payment records bookkeeping needs, without
-- personal data.

set check_function_bodies = off;

CREATE FUNCTION public.export_account(p_user_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
                                               'repeat', b.repeat,
                                               'answer', b.output_json, 'passed', b.passed,
                                               'fields_total', b.fields_total,
                                               'fields_matched', b.fields_matched,
                                               'differences', b.field_diffs, 'error', b.error,
                                               'response_time_ms', b.response_time_ms,
                                               'cost_usd', b.cost, 'at', b.created_at)
                                             order by b.image_index, b.model_id, b.repeat)
                                              from public.benchmark_runs b where b.report_id = r.id), '[]'))
                           order by r.created_at)
                           from public.reports r where r.user_id = u.id), '[]'),
    'payments', coalesce((select jsonb_agg(jsonb_build_object(
                            'checkout_session', s.stripe_session_id, 'status', s.status,
                            'amount_total', s.amount_total, 'currency', s.currency,
                            'created_at', s.created_at, 'refunded_at', s.refunded_at,
                            'amount_refunded', s.amount_refunded)
                            order by s.created_at)
                            from public.checkout_sessions s where s.user_id = u.id), '[]'),
    'images', coalesce((select jsonb_agg(jsonb_build_object('path', o.name, 'size', o.metadata ->> 'size',
                                                            'uploaded_at', o.created_at) order by o.name)
                          from storage.objects o
                         where o.bucket_id = 'benchmark-images'
                           and (storage.foldername(o.name))[1] = u.id::text), '[]'))
    from auth.users u
   where u.id = p_user_id
$$;

COMMENT ON FUNCTION public.export_account(uuid) IS 'Everything ModelPick keeps of one account, in one document (GET /api/account/export): the account, its drafts, its reports with every model answer and score (and the expected JSON its owner corrected, the figures of earlier scorings, whether it is watched for new models), its payments, and the images it stored (paths; the bytes stay in Storage). Null for no such account. Service role only: the sidecar asks for the account whose token it verified.';

CREATE FUNCTION public.delete_account_data(p_user_id uuid) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _images jsonb;
  _payments integer;
begin
  if p_user_id is null then
    raise exception 'an account id is required' using errcode = 'PT400';
  end if;
  perform 1 from auth.users u where u.id = p_user_id for update;
  if exists (select 1 from public.reports r where r.user_id = p_user_id and r.status in ('paid', 'running')) then
    raise exception 'A benchmark of yours is still running. Delete your account once it has finished.'
      using errcode = 'PT409';
  end if;
  if exists (select 1 from private.followups f
               left join public.reports r on r.id = f.report_id
               left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
              where f.kind = 'refund' and f.done_at is null
                and coalesce(r.user_id, s.user_id) = p_user_id) then
    raise exception 'A refund to you is still being made. Delete your account once it has gone through.'
      using errcode = 'PT409';
  end if;
  -- What bookkeeping needs stays: the payment, its amount, refunds and
  -- disputes, with nothing that names the person or their documents.
  update public.checkout_sessions s
     set user_id = null, draft_id = null, detail = null
   where s.user_id = p_user_id;
  get diagnostics _payments = row_count;
  delete from public.reports r where r.user_id = p_user_id;
  delete from public.benchmark_drafts d where d.user_id = p_user_id;
  delete from private.checkout_admissions a where a.user_id = p_user_id;
  select coalesce(jsonb_agg(o.name order by o.name), '[]') into _images
    from storage.objects o
   where o.bucket_id = 'benchmark-images'
     and (storage.foldername(o.name))[1] = p_user_id::text;
  return jsonb_build_object('images', _images, 'payments_kept', _payments);
end
$$;

COMMENT ON FUNCTION public.delete_account_data(uuid) IS 'The first step of deleting an account (DELETE /api/account): its drafts and reports go (with their runs, follow-ups and share links), its payments stay for bookkeeping without anything that names the person (no account, no draft, no detail), and the answer lists the images it stored, for the sidecar to delete through Storage before Auth deletes the account. PT409 while a report of theirs runs or a refund to them is owed. Asking again is safe: it deletes what is left.';

REVOKE ALL ON FUNCTION public.export_account(p_user_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.export_account(p_user_id uuid) TO service_role;

REVOKE ALL ON FUNCTION public.delete_account_data(p_user_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.delete_account_data(p_user_id uuid) TO service_role;
