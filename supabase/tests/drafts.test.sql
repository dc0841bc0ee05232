-- A draft becomes `ready` only when it can really be run.
begin;
select plan(13);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');

create function pg_temp.ready_draft(p_upload jsonb, p_schema jsonb, p_models text[]) returns void
language sql
as $$
  insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
  values ('a0000000-0000-4000-8000-00000000000a', 'ready', p_upload, p_schema, p_models)
$$;

select lives_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png", "expected": {"a": 1}}]}',
  '{"prompt": "Extract."}', array['openai/gpt-4o'])$$, 'a complete draft can be ready');
select throws_ok($$select pg_temp.ready_draft('{"images": []}', '{"prompt": "Extract."}', array['openai/gpt-4o'])$$,
  '23514', 'A ready draft needs at least one image.', 'no images');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "b0000000-0000-4000-8000-00000000000b/x.png", "expected": {}}]}',
  '{"prompt": "Extract."}', array['openai/gpt-4o'])$$,
  '23514', 'Every image must be stored under the owner''s own folder.', 'an image in someone else''s folder');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/../b0000000-0000-4000-8000-00000000000b/x.png", "expected": {}}]}',
  '{"prompt": "Extract."}', array['openai/gpt-4o'])$$,
  '23514', 'Every image must be stored under the owner''s own folder.', 'a path that climbs out of the folder');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png"}]}',
  '{"prompt": "Extract."}', array['openai/gpt-4o'])$$,
  '23514', 'Every image needs the JSON object expected from it.', 'an image without expected JSON');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png", "expected": {}}]}',
  '{"prompt": "Extract."}', array[]::text[])$$,
  '23514', 'A ready draft needs at least one model.', 'no models');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png", "expected": {}}]}',
  '{"prompt": "Extract."}', array['acme/imaginary-vision'])$$,
  '23514', 'Unknown model: acme/imaginary-vision', 'a model not in the catalog');
select throws_ok($$select pg_temp.ready_draft(
  '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png", "expected": {}}]}',
  '{"prompt": "  "}', array['openai/gpt-4o'])$$,
  '23514', 'A ready draft needs an extraction prompt.', 'a blank prompt');
select lives_ok($$insert into public.benchmark_drafts (user_id) values ('a0000000-0000-4000-8000-00000000000a')$$,
  'an unfinished draft needs none of it');


-- Zero data retention, when asked, holds for every model chosen.
update public.model_catalog set zero_retention = (id = 'openai/gpt-4o');
create function pg_temp.private_draft(p_config jsonb, p_models text[]) returns void
language sql
as $$
  insert into public.benchmark_drafts (user_id, status, config_data, upload_data, schema_data, selected_models)
  values ('a0000000-0000-4000-8000-00000000000a', 'ready', p_config,
          '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/x.png", "expected": {"a": 1}}]}',
          '{"prompt": "Extract."}', p_models)
$$;
select lives_ok($$select pg_temp.private_draft('{"zero_retention": true}', array['openai/gpt-4o'])$$,
  'zero retention with models that have it');
select throws_ok($$select pg_temp.private_draft('{"zero_retention": true}', array['openai/gpt-4o', 'anthropic/claude-3-haiku'])$$,
  '23514', (select display_name from public.model_catalog where id = 'anthropic/claude-3-haiku')
           || ' has no endpoint with zero data retention; choose models marked as keeping nothing, or do not ask for it.',
  'zero retention with a model that keeps data is refused, naming it');
select lives_ok($$select pg_temp.private_draft('{"zero_retention": false}', array['anthropic/claude-3-haiku'])$$,
  'without it, any model');
select throws_ok($$select pg_temp.private_draft('{"zero_retention": "yes"}', array['openai/gpt-4o'])$$,
  '23514', 'config_data.zero_retention is true or false.', 'zero retention is a boolean');

select * from finish();
rollback;
