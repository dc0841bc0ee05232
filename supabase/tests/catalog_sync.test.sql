-- sync_model_catalog (024): the catalog becomes what the provider offers,
-- nothing is deleted, prices are exact and every change of price is kept.
begin;
select plan(21);

create function pg_temp.offer(p_id text, p_prompt text, p_completion text, p_image text default '0')
returns jsonb
language sql
as $$
  select jsonb_build_object('id', p_id, 'display_name', 'Model ' || p_id, 'provider', 'Acme',
                            'created', 1764806400, 'context_length', 128000,
                            'max_completion_tokens', 16384, 'prompt_usd_per_mtok', p_prompt,
                            'completion_usd_per_mtok', p_completion, 'image_usd', p_image,
                            'request_usd', '0', 'takes_response_format', true,
                            'takes_structured_outputs', true)
$$;

select ok(public.catalog_sync_due('1 day'), 'a catalog never synced is due');

-- The launch models all but two stay, one is repriced, one is new, and one
-- is listed but no longer reads images.
select is(
  public.sync_model_catalog(
    (select jsonb_agg(pg_temp.offer(c.id, c.prompt_usd_per_mtok::text, c.completion_usd_per_mtok::text))
       from public.model_catalog c
      where c.id not in ('openai/gpt-4o', 'anthropic/claude-3-haiku', 'mistralai/pixtral-12b'))
    || jsonb_build_array(pg_temp.offer('openai/gpt-4o', '1.25', '5', '0.0000258'),
                         pg_temp.offer('acme/vision-1', '0.000375', '0.0015')),
    '[{"id": "mistralai/pixtral-12b", "reason": "The provider lists this model as text only."}]'),
  '{"offered": 9, "added": 1, "reactivated": 0, "repriced": 1, "deactivated": 2, "refused": 1}'::jsonb,
  'the summary counts what changed'
);

select row_eq(
  $$select prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, active
      from public.model_catalog where id = 'openai/gpt-4o'$$,
  row(1.25::numeric, 5::numeric, 0.0000258::numeric, true),
  'a new price is taken exactly, to the last digit'
);
select row_eq(
  $$select display_name, provider, context_length, max_completion_tokens, takes_structured_outputs,
           supports_json_schema, provider_created_at
      from public.model_catalog where id = 'acme/vision-1'$$,
  row('Model acme/vision-1'::text, 'Acme'::text, 128000, 16384, true, true,
      '2025-12-04 00:00:00+00'::timestamptz),
  'a new model is offered with what the wizard and the engine need'
);
select row_eq(
  $$select active, inactive_reason from public.model_catalog where id = 'anthropic/claude-3-haiku'$$,
  row(false, 'The provider no longer lists this model.'::text),
  'a model the provider stopped listing is kept, inactive, with the reason'
);
select row_eq(
  $$select active, inactive_reason from public.model_catalog where id = 'mistralai/pixtral-12b'$$,
  row(false, 'The provider lists this model as text only.'::text),
  'a model listed but not offerable says why'
);
select is(
  (select array_agg(prompt_usd_per_mtok order by valid_from, id)
     from public.model_price_history where model_id = 'openai/gpt-4o'),
  array[2.5, 1.25]::numeric[],
  'the price history keeps the old price and the new one'
);
select is(
  (select count(*)::int from public.model_price_history where model_id = 'openai/gpt-4o-mini'),
  1,
  'an unchanged price writes no history'
);
select ok(not public.catalog_sync_due('1 day'), 'a sync that worked is not due again within its interval');
select ok(public.catalog_sync_due('0 seconds'), 'and is due once the interval has passed');

-- The same listing again changes nothing.
select is(
  public.sync_model_catalog(
    (select jsonb_agg(pg_temp.offer(c.id, c.prompt_usd_per_mtok::text, c.completion_usd_per_mtok::text, c.image_usd::text))
       from public.model_catalog c where c.active),
    '[]'),
  '{"offered": 9, "added": 0, "reactivated": 0, "repriced": 0, "deactivated": 0, "refused": 0}'::jsonb,
  'a second sync of the same listing changes nothing'
);

-- A model listed again with a price is offered again.
select is(
  public.sync_model_catalog(
    (select jsonb_agg(pg_temp.offer(c.id, c.prompt_usd_per_mtok::text, c.completion_usd_per_mtok::text, c.image_usd::text))
       from public.model_catalog c where c.active or c.id = 'anthropic/claude-3-haiku'),
    '[]') ->> 'reactivated',
  '1',
  'a model that comes back is active again'
);
select is(
  (select inactive_reason from public.model_catalog where id = 'anthropic/claude-3-haiku'),
  null,
  'and its reason is gone'
);

-- A broken listing leaves the catalog as it was.
create temporary table before_broken as select id, active from public.model_catalog;
select throws_ok(
  $$select public.sync_model_catalog('[]', '[{"id": "openai/gpt-4o", "reason": "x"}]')$$,
  'PT422',
  'the provider lists no model that reads images with a known price: the catalog is left as it was',
  'an empty offer is refused'
);
select throws_ok(
  $$select public.sync_model_catalog(jsonb_build_array(pg_temp.offer('bad id <script>', '1', '1')))$$,
  'PT422',
  'the provider lists no model that reads images with a known price: the catalog is left as it was',
  'an id with spaces or markup is refused, as a model (and an offer of only that is no offer)'
);
select set_eq(
  $$select id, active from public.model_catalog$$,
  $$select id, active from before_broken$$,
  'and nothing changed'
);

-- Which models keep nothing: from the provider's zero-retention endpoints,
-- named by a model's id or its canonical slug; a listing that could not be
-- read (null) leaves the last answer.
create function pg_temp.offer_active(p_zero_retention text[]) returns jsonb
language sql
as $$
  select public.sync_model_catalog(
    (select jsonb_agg(pg_temp.offer(c.id, c.prompt_usd_per_mtok::text, c.completion_usd_per_mtok::text)
                      || case when c.id = 'openai/gpt-4o'
                              then '{"canonical_slug": "openai/gpt-4o-2024-08-06"}'::jsonb else '{}' end)
       from public.model_catalog c where c.active),
    '[]', p_zero_retention)
$$;
select pg_temp.offer_active(array['openai/gpt-4o-2024-08-06', 'acme/vision-1', 'unknown/model']);
select set_eq($$select id from public.model_catalog where zero_retention$$,
              array['openai/gpt-4o', 'acme/vision-1'],
              'a model has a zero-retention endpoint when the provider lists one by its id or canonical slug');
select pg_temp.offer_active(null);
select set_eq($$select id from public.model_catalog where zero_retention$$,
              array['openai/gpt-4o', 'acme/vision-1'],
              'an unread zero-retention listing changes nothing');
select pg_temp.offer_active(array['acme/vision-1']);
select set_eq($$select id from public.model_catalog where zero_retention$$,
              array['acme/vision-1'],
              'a model whose zero-retention endpoint is gone loses the mark');
select throws_ok(
  $$select public.sync_model_catalog('[]', '[]', array_fill('x'::text, array[50001]))$$,
  'PT400', null, 'a zero-retention listing longer than 50,000 is refused');

-- Nobody reaches the sync through the API but the service role.
select ok(
  not has_function_privilege('authenticated', 'public.sync_model_catalog(jsonb, jsonb, text[])', 'execute')
  and not has_function_privilege('anon', 'public.sync_model_catalog(jsonb, jsonb, text[])', 'execute'),
  'anon and signed-in users cannot sync the catalog'
);

select * from finish();
rollback;
