-- Turn a paid Stripe Checkout Session into a report, once.
--
-- Both the webhook and the success page call this, as often and as
-- concurrently as Stripe and browsers like. The draft row lock serialises
-- callers for one draft; the UNIQUE stripe_session_id decides, through
-- ON CONFLICT, whether this call created the report. There is no
-- check-then-insert.
--
-- Errors carry PostgREST's `PTxyz` codes, so the HTTP status says what went
-- wrong: PT404 no such draft, PT403 the draft belongs to someone else,
-- PT409 the draft was already paid through another session (or the session
-- belongs to another draft), PT422 the draft is not ready, PT400 bad input.
create or replace function public.fulfill_checkout(
  p_stripe_session_id text,
  p_draft_id uuid,
  p_user_id uuid
) returns table (report_id uuid, created boolean)
language plpgsql
set search_path = ''
as $$
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
           where c.id = any (_draft.selected_models))
      ),
      array(select i ->> 'path'
              from jsonb_array_elements(_draft.upload_data -> 'images') with ordinality as e (i, n)
             order by n),
      _draft.schema_data ->> 'prompt',
      coalesce(nullif(_draft.schema_data -> 'userSchema', 'null'::jsonb),
               nullif(_draft.schema_data -> 'inferredSchema', 'null'::jsonb)),
      jsonb_array_length(_draft.upload_data -> 'images') * cardinality(_draft.selected_models)
    on conflict (stripe_session_id) do nothing
    returning id into _report_id;

    if _report_id is not null then
      update public.benchmark_drafts set status = 'paid' where id = _draft.id;
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

revoke execute on function public.fulfill_checkout(text, uuid, uuid) from public, anon, authenticated, service_role;
grant execute on function public.fulfill_checkout(text, uuid, uuid) to service_role;
