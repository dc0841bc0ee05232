-- A draft holds only what the engine can score in bounded time and pay for
-- knowingly: every limit is refused on save, with a sentence its owner
-- understands, and nothing oversized is stored.
begin;
select plan(16);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');

create function pg_temp.save(p_expected jsonb, p_prompt text default 'Extract.', p_schema jsonb default null)
returns void
language sql
as $$
  insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
  values ('a0000000-0000-4000-8000-00000000000a', 'draft',
          jsonb_build_object('images', jsonb_build_array(jsonb_build_object(
            'path', 'a0000000-0000-4000-8000-00000000000a/invoice.png', 'name', 'invoice.png',
            'expected', p_expected))),
          jsonb_build_object('prompt', p_prompt, 'userSchema', p_schema),
          array['openai/gpt-4o'])
$$;

-- n levels of {"a": …} around a scalar.
create function pg_temp.nested(n integer) returns jsonb
language sql
as $$ select (repeat('{"a": ', n) || '1' || repeat('}', n))::jsonb $$;

select is(public.draft_limits(),
  '{"max_images": 50, "max_image_bytes": 10485760, "max_models": 10, "max_expected_bytes": 65536,
    "max_depth": 16, "max_array_items": 200, "max_fields": 2000, "max_prompt_bytes": 8192,
    "max_schema_bytes": 32768, "max_answer_tokens": 1024, "soft_ceiling_usd": 6.50,
    "hard_ceiling_usd": 7.00, "max_image_side_px": 20000, "max_open_drafts": 50,
    "max_stored_images": 500, "max_checkouts_per_hour": 20,
    "send_max_side_px": 2000, "send_max_image_bytes": 4194304,
    "max_pages_per_document": 20, "max_pages_per_benchmark": 200,
    "max_scorings_per_report": 20, "max_repeats": 3}'::jsonb,
  'the limits, as the database enforces them and the wizard and the engine read them');

select is((select row(depth, longest_array, fields)::text from private.json_shape('{"a": [1, 2, {"b": []}], "c": {}}')),
  '(3,3,4)', 'shape: depth, longest list and fields (empty containers are fields)');
select is((select depth from private.json_shape(pg_temp.nested(1000))), 18,
  'the walk stops past the deepest allowed level, however deep the value');

select lives_ok($$select pg_temp.save(pg_temp.nested(16))$$, '16 levels deep is allowed');
select throws_ok($$select pg_temp.save(pg_temp.nested(17))$$, '23514',
  'The expected JSON of image 1 (invoice.png) nests more than 16 levels deep; the limit is 16.',
  '17 levels deep is refused');
select throws_ok($$select pg_temp.save(pg_temp.nested(1000))$$, '23514',
  'The expected JSON of image 1 (invoice.png) nests more than 16 levels deep; the limit is 16.',
  'a value nested a thousand deep is refused as quickly');

select lives_ok($$select pg_temp.save(jsonb_build_object('items', (select jsonb_agg(i) from generate_series(1, 200) i)))$$,
  'a list of 200 items is allowed');
select throws_ok($$select pg_temp.save(jsonb_build_object('items', (select jsonb_agg(i) from generate_series(1, 5000) i)))$$,
  '23514', 'A list in the expected JSON of image 1 (invoice.png) has 5000 items; the limit is 200.',
  'the 5,000-element array that made the scorer explode is refused');

select throws_ok($$select pg_temp.save((select jsonb_object_agg('row' || r, (select jsonb_agg(c) from generate_series(1, 101) c))
                                          from generate_series(1, 20) r))$$,
  '23514', 'The expected JSON of image 1 (invoice.png) has 2020 fields; the limit is 2,000.',
  'more than 2,000 fields is refused');

select throws_ok($$select pg_temp.save(jsonb_build_object('text', repeat('x', 70000)))$$,
  '23514', 'The expected JSON of image 1 (invoice.png) is 68.4 KB; the limit is 64.0 KB.',
  'expected JSON over 64 KB is refused');

select throws_ok($$select pg_temp.save('{"a": 1}', repeat('p', 9000))$$,
  '23514', 'The prompt is 8.8 KB; the limit is 8.0 KB.', 'a prompt over 8 KB is refused');

select throws_ok($$select pg_temp.save('{"a": 1}', 'Extract.', jsonb_build_object('description', repeat('s', 33000)))$$,
  '23514', 'The JSON schema is 32.2 KB; the limit is 32.0 KB.', 'a schema over 32 KB is refused');

select throws_ok($$insert into public.benchmark_drafts (user_id, upload_data)
                  values ('a0000000-0000-4000-8000-00000000000a',
                          jsonb_build_object('images', (select jsonb_agg(jsonb_build_object('path', 'a0000000-0000-4000-8000-00000000000a/' || i || '.png'))
                                                          from generate_series(1, 51) i)))$$,
  '23514', 'A benchmark holds at most 50 images; this one has 51.', '51 images are refused, even in a draft');

select throws_ok($$insert into public.benchmark_drafts (user_id, upload_data)
                  values ('a0000000-0000-4000-8000-00000000000a',
                          jsonb_build_object('junk', repeat('j', 5 * 1024 * 1024)))$$,
  '23514', 'The images'' expected JSON together is 5.0 MB; the limit is 4 MB.',
  'an oversized upload is measured before anything is walked');

select is((select count(*)::integer from public.benchmark_drafts where user_id = 'a0000000-0000-4000-8000-00000000000a'), 2, 'only the two drafts within limits were stored');

select is((select row(file_size_limit, allowed_mime_types)::text from storage.buckets where id = 'benchmark-images'),
  '(10485760,"{image/png,image/jpeg,image/webp,image/gif}")', 'the bucket takes images of at most 10 MiB');

select * from finish();
rollback;
