-- sharing.sql: the current definition of this part of the schema; edit it here,
-- then `scripts/db-diff` writes the migration that ships the change.
-- Reading and sharing reports: the owner's reads, share links, shared images,
-- drafts made again from a report, and deleting a report's images.

set check_function_bodies = off;

CREATE FUNCTION private.readable_report(p_report_id uuid, p_share_token text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select exists (
    select 1 from public.reports r
     where r.id = p_report_id
       and case when p_share_token is null then r.user_id = auth.uid()
                else r.share_token = p_share_token end
  )
$$;

COMMENT ON FUNCTION private.readable_report(uuid, text) IS 'Whether the caller may read the report: its owner (no token given), or a holder of its current share token.';

CREATE FUNCTION private.report_keeps_image(p_name text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select exists (
    select 1 from public.reports r
     where r.image_paths @> array[p_name]
       and r.images_deleted_at is null)
$$;

COMMENT ON FUNCTION private.report_keeps_image(text) IS 'Whether a report still keeps the file `p_name`: one that uses it and whose images were not deleted. The storage policies ask it as the uploader, who may not read every column of reports.';

CREATE FUNCTION public.delete_report_images(p_report_id uuid) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports;
begin
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = (select auth.uid())
   for update;
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if _report.status not in ('complete', 'failed') then
    raise exception 'This report is still running and needs its images. Delete them once it has finished.'
      using errcode = 'PT409';
  end if;
  update public.reports r
     set images_deleted_at = coalesce(r.images_deleted_at, now()), share_images = false
   where r.id = _report.id;
  return coalesce((
    select array_agg(p order by p) from unnest(_report.image_paths) p
     where not private.report_keeps_image(p)), '{}');
end
$$;

COMMENT ON FUNCTION public.delete_report_images(uuid) IS 'The owner''s explicit "delete this report''s images": a finished report of theirs lets go of its files, and the answer is the files no report keeps any more, which the page then deletes through Storage (the only way Storage''s objects are deleted). A file another of their reports still keeps stays, for that report. Asking again changes nothing.';

CREATE FUNCTION public.expire_report_images(p_days integer, p_limit integer DEFAULT 20) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report record;
  _expired integer := 0;
begin
  if p_days is null or p_days not between 1 and 3650 or p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'images are kept 1 to 3650 days, and expired at most 1000 reports at a time'
      using errcode = 'PT400';
  end if;
  for _report in
    select r.id, r.user_id, r.image_paths from public.reports r
     where r.status in ('complete', 'failed') and r.images_deleted_at is null
       and r.finished_at < now() - make_interval(days => p_days)
     order by r.finished_at
     limit p_limit
       for update skip locked
  loop
    update public.reports r
       set images_deleted_at = now(), share_images = false
     where r.id = _report.id;
    -- A file another report keeps, or an unpaid draft of the owner's (a
    -- re-run being prepared) still uses, stays for them.
    insert into private.image_deletions (name)
    select p from unnest(_report.image_paths) p
     where not private.report_keeps_image(p)
       and not exists (
         select 1 from public.benchmark_drafts d
          cross join lateral jsonb_array_elements(d.upload_data -> 'images') e
          cross join lateral jsonb_array_elements(private.document_pages(e)) q
          where d.user_id = _report.user_id and d.status <> 'paid' and q ->> 'path' = p)
    on conflict do nothing;
    _expired := _expired + 1;
  end loop;
  return _expired;
end
$$;

COMMENT ON FUNCTION public.expire_report_images(integer, integer) IS 'Retention: up to p_limit finished reports whose images have been kept p_days since they finished let go of them, as their owner''s "delete images" does (the report stays readable, its link stops showing images); the files no report and no unpaid draft of the owner''s keeps any more wait in private.image_deletions for an engine to delete through Storage. Concurrent engines never take the same report. Answers how many reports let go. Service role only.';

CREATE TABLE private.image_deletions (
    name text NOT NULL,
    queued_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT image_deletions_pkey PRIMARY KEY (name)
);

COMMENT ON TABLE private.image_deletions IS 'Files in Storage no report keeps any more, waiting for an engine to delete them (Storage objects are deleted through Storage''s API only). A row goes once its file is gone, so a crash in between only deletes it again.';

CREATE FUNCTION public.image_deletions_due(p_limit integer DEFAULT 100) RETURNS text[]
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select coalesce(array_agg(name order by queued_at, name), '{}')
    from (select name, queued_at from private.image_deletions
           order by queued_at, name limit least(greatest(p_limit, 1), 1000)) d
$$;

COMMENT ON FUNCTION public.image_deletions_due(integer) IS 'The files waiting to be deleted from Storage, oldest first, at most p_limit. Service role only.';

CREATE FUNCTION public.image_deletions_done(p_names text[]) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
  with gone as (delete from private.image_deletions where name = any (p_names) returning 1)
  select count(*)::integer from gone
$$;

COMMENT ON FUNCTION public.image_deletions_done(text[]) IS 'These files are deleted from Storage: they wait no more. Service role only.';

CREATE FUNCTION public.draft_from_report(p_report_id uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
  _report public.reports;
  _name text;
  _draft_id uuid;
begin
  select * into _report from public.reports r
   where r.id = p_report_id and r.user_id = auth.uid();
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
  if _report.images_deleted_at is not null then
    raise exception 'This report''s document images were deleted, so it cannot be run again. Start a new benchmark with the documents.'
      using errcode = 'PT409';
  end if;
  _name := coalesce(nullif(btrim(_report.config_snapshot #>> '{config_data,name}'), ''), 'Your benchmark');
  insert into public.benchmark_drafts (user_id, status, config_data, upload_data, schema_data, selected_models)
  values (
    _report.user_id,
    'draft',
    coalesce(_report.config_snapshot -> 'config_data', '{}'::jsonb) || jsonb_build_object(
      'name', left(_name, 110) || ', again',
      'source_report', jsonb_build_object(
        'id', _report.id,
        'name', left(_name, 120),
        'paid_at', _report.paid_at,
        'models', coalesce(_report.config_snapshot -> 'selected_models', '[]'::jsonb))),
    jsonb_build_object('images', coalesce(_report.config_snapshot #> '{upload_data,images}', '[]'::jsonb)),
    coalesce(_report.config_snapshot -> 'schema_data', '{}'::jsonb),
    '{}'
  )
  returning id into _draft_id;
  return _draft_id;
end
$$;

COMMENT ON FUNCTION public.draft_from_report(uuid) IS 'Runs a report''s documents again, on other models: a new draft of the owner''s with the same documents (the same files, no second copy), expected JSON, schema and prompt, as the report was paid for, and no model picked. The draft remembers where it came from (`config_data.source_report`: id, name, when it was paid and its models), so the wizard can mark the models already benchmarked and those added since. It counts toward the owner''s unfinished drafts. A report whose images were deleted is refused (PT409); another user''s or an unknown report is PT404.';

CREATE FUNCTION public.read_report(p_report_id uuid, p_share_token text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
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
    -- Cents refunded of the payment, a part of it included (a refund made in
    -- Stripe's Dashboard); null when nothing was.
    'amount_refunded', case when p_share_token is null
                            then (select nullif(s.amount_refunded, 0) from public.checkout_sessions s
                                   where s.stripe_session_id = r.stripe_session_id) end,
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
$$;

COMMENT ON FUNCTION public.read_report(uuid, text) IS 'A report as its reader may see it: the owner signed in, or anyone with its share token. Its status, models (with the prices it was paid at), how its images were sent (how_sent; null for reports paid before it was recorded), documents (each with its pages: how many, and where its first is in the report''s image_paths), figures and per-model summary, whether link holders see its images and when they were deleted (images_deleted_at), and which scoring the figures are (scoring: version, when it was scored again, whether a new one is pending, the earlier versions; documents[].expected is the corrected JSON where the owner corrected it, marked `corrected`); only the owner learns the share token, the refund (refunded_at, and amount_refunded in cents, a partial refund included) and whether the report is watched for new models (watching). Null for anyone else.';

CREATE FUNCTION public.read_report_runs(p_report_id uuid, p_share_token text DEFAULT NULL::text) RETURNS TABLE(model_id text, image_index integer, output_json text, response_time_ms integer, prompt_tokens integer, completion_tokens integer, total_tokens integer, cost numeric, passed boolean, field_diffs jsonb, fields_total integer, fields_matched integer, error text, unavailable boolean, repeat integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select b.model_id, b.image_index, b.output_json, b.response_time_ms, b.prompt_tokens,
         b.completion_tokens, b.total_tokens, b.cost, b.passed, b.field_diffs, b.fields_total,
         b.fields_matched, b.error, b.unavailable, b.repeat
    from public.benchmark_runs b
   where b.report_id = p_report_id
     and private.readable_report(p_report_id, p_share_token)
   order by b.image_index, b.model_id, b.repeat
$$;

COMMENT ON FUNCTION public.read_report_runs(uuid, text) IS 'Every call of the report, for the same readers; `unavailable` marks a call no endpoint of its model would take under the report''s data policy (its reason in `error`); `repeat` numbers a call''s answers (0, 1, 2) when the report asked each call more than once.';

CREATE FUNCTION public.revoke_report_share_token(p_report_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
  update public.reports set share_token = null
   where id = p_report_id and user_id = auth.uid();
  if not found then
    raise exception 'no report % among yours', p_report_id using errcode = 'PT404';
  end if;
end
$$;

COMMENT ON FUNCTION public.revoke_report_share_token(uuid) IS 'The owner''s report has no share link any more. PT404 for anyone else.';

CREATE FUNCTION public.rotate_report_share_token(p_report_id uuid) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

COMMENT ON FUNCTION public.rotate_report_share_token(uuid) IS 'The owner''s report gets a new share link; the old one opens nothing. PT404 for anyone else.';

CREATE FUNCTION public.set_report_image_sharing(p_report_id uuid, p_on boolean) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

COMMENT ON FUNCTION public.set_report_image_sharing(uuid, boolean) IS 'The owner''s choice whether the share link shows the documents'' images. PT404 for anyone else.';

CREATE FUNCTION public.shared_report_images(p_report_id uuid, p_share_token text) RETURNS text[]
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
  select r.image_paths from public.reports r
   where r.id = p_report_id
     and p_share_token is not null
     and r.share_token = p_share_token
     and r.share_images
     and r.images_deleted_at is null
$$;

COMMENT ON FUNCTION public.shared_report_images(uuid, text) IS 'The image paths of a shared report, for the sidecar to stream: only for the current token, only while the owner shares images, none once they were deleted.';

REVOKE ALL ON FUNCTION private.readable_report(p_report_id uuid, p_share_token text) FROM PUBLIC, anon, authenticated, service_role;

REVOKE ALL ON FUNCTION private.report_keeps_image(p_name text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION private.report_keeps_image(p_name text) TO authenticated;

REVOKE ALL ON FUNCTION public.delete_report_images(p_report_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.delete_report_images(p_report_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION public.draft_from_report(p_report_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.draft_from_report(p_report_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION public.read_report(p_report_id uuid, p_share_token text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.read_report(p_report_id uuid, p_share_token text) TO anon;
GRANT ALL ON FUNCTION public.read_report(p_report_id uuid, p_share_token text) TO authenticated;

REVOKE ALL ON FUNCTION public.read_report_runs(p_report_id uuid, p_share_token text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.read_report_runs(p_report_id uuid, p_share_token text) TO anon;
GRANT ALL ON FUNCTION public.read_report_runs(p_report_id uuid, p_share_token text) TO authenticated;

REVOKE ALL ON FUNCTION public.revoke_report_share_token(p_report_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.revoke_report_share_token(p_report_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION public.rotate_report_share_token(p_report_id uuid) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.rotate_report_share_token(p_report_id uuid) TO authenticated;

REVOKE ALL ON FUNCTION public.set_report_image_sharing(p_report_id uuid, p_on boolean) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.set_report_image_sharing(p_report_id uuid, p_on boolean) TO authenticated;

REVOKE ALL ON FUNCTION public.shared_report_images(p_report_id uuid, p_share_token text) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.shared_report_images(p_report_id uuid, p_share_token text) TO service_role;

REVOKE ALL ON FUNCTION public.expire_report_images(p_days integer, p_limit integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.expire_report_images(p_days integer, p_limit integer) TO service_role;

REVOKE ALL ON FUNCTION public.image_deletions_due(p_limit integer) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.image_deletions_due(p_limit integer) TO service_role;

REVOKE ALL ON FUNCTION public.image_deletions_done(p_names text[]) FROM PUBLIC, anon, authenticated, service_role;
GRANT ALL ON FUNCTION public.image_deletions_done(p_names text[]) TO service_role;

REVOKE ALL ON TABLE private.image_deletions FROM PUBLIC, anon, authenticated, service_role;
