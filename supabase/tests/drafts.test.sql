-- A draft becomes `ready` only when it can really be run.
begin;
select plan(9);

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

select * from finish();
rollback;
