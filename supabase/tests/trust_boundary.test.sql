-- What one account, one request or one payment can make the database do
-- (021_trust_boundary): safe storage names, bounded image sizes, one
-- settlement per Checkout Session, the success page's question, and the
-- per-account limits, each refused with its sentence.
begin;
\ir _helpers.psql
select plan(34);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into pg_temp.personas (name, role, claims) values
  ('owner', 'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}');

-- Storage names: one rule ----------------------------------------------------------
select is(private.storage_name_is_safe(n), ok, format('storage name %s is %s', replace(quote_nullable(n), chr(10), '\n'), case when ok then 'safe' else 'refused' end))
  from (values
    ('a0000000-0000-4000-8000-00000000000a/d1/3f2a.png', true),
    ('a0000000-0000-4000-8000-00000000000a/invoice_1-final.v2.jpeg', true),
    ('a0000000-0000-4000-8000-00000000000a/./a.png', false),
    ('a0000000-0000-4000-8000-00000000000a/../b0000000/a.png', false),
    ('a0000000-0000-4000-8000-00000000000a//a.png', false),
    ('a0000000-0000-4000-8000-00000000000a/.hidden.png', false),
    ('a0000000-0000-4000-8000-00000000000a/%2e/a.png', false),
    ('a0000000-0000-4000-8000-00000000000a/a\b.png', false),
    ('a0000000-0000-4000-8000-00000000000a/a b.png', false),
    ('a0000000-0000-4000-8000-00000000000a/a' || chr(10) || '.png', false),
    ('a0000000-0000-4000-8000-00000000000a/', false),
    ('a.png', false),
    (null, false)
  ) as t (n, ok);

-- A ready draft's paths obey it.
select throws_ok(
  $$insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
    values ('a0000000-0000-4000-8000-00000000000a', 'ready',
            '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/./a.png", "expected": {"total": 1}}]}',
            '{"prompt": "Extract."}', array['openai/gpt-4o'])$$,
  '23514', 'Every image must be stored under the owner''s own folder.',
  'a ready draft with a ./ segment is refused');

-- And so does every upload (the storage policy, as the uploader).
select is(pg_temp.attempt('owner', $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/./a.png')$q$),
          'policy', 'an upload named with a ./ segment is refused');
select is(pg_temp.attempt('owner', $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d/a.png')$q$),
          'allowed', 'an upload with a plain name is taken');

-- Image sizes ------------------------------------------------------------------
select throws_ok(
  format($$insert into public.benchmark_drafts (user_id, upload_data)
           values ('a0000000-0000-4000-8000-00000000000a', '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/a.png", "name": "scan.png", "width": %s, "height": 10}]}')$$,
         repeat('9', 60000)),
  '23514', 'The width and height of image 1 (scan.png) must be whole numbers of pixels from 1 to 20,000.',
  'a 60,000-digit width is refused');
select throws_ok(
  $$insert into public.benchmark_drafts (user_id, upload_data)
    values ('a0000000-0000-4000-8000-00000000000a', '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/a.png", "name": "scan.png", "width": 1000.5, "height": 10}]}')$$,
  '23514', 'The width and height of image 1 (scan.png) must be whole numbers of pixels from 1 to 20,000.',
  'a fractional width is refused');
select throws_ok(
  $$insert into public.benchmark_drafts (user_id, upload_data)
    values ('a0000000-0000-4000-8000-00000000000a', '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/a.png", "name": "scan.png", "width": 20001, "height": 10}]}')$$,
  '23514', 'The width and height of image 1 (scan.png) must be whole numbers of pixels from 1 to 20,000.',
  'a width past 20,000 is refused');
select throws_ok(
  $$insert into public.benchmark_drafts (user_id, upload_data)
    values ('a0000000-0000-4000-8000-00000000000a', '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/a.png", "name": "scan.png", "width": "100", "height": 10}]}')$$,
  '23514', 'The width and height of image 1 (scan.png) must be whole numbers of pixels from 1 to 20,000.',
  'a width written as text is refused');
select lives_ok(
  $$insert into public.benchmark_drafts (user_id, upload_data)
    values ('a0000000-0000-4000-8000-00000000000a', '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/a.png", "width": 20000, "height": 1}, {"path": "a0000000-0000-4000-8000-00000000000a/b.png"}]}')$$,
  'sizes within bounds, or none at all, are taken');

-- One settlement per session ----------------------------------------------------
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'draft',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/d1/a.png", "expected": {"total": 1}}]}',
        '{"prompt": "Extract."}', array['openai/gpt-4o']);
select public.open_checkout_session('cs_test_flipflop', 'd0000000-0000-4000-8000-0000000000d1');
-- Paid while the draft was not ready: owed a refund.
select throws_ok($$select public.fulfill_checkout('cs_test_flipflop', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$$,
                 'PT422', null, 'a payment for an unfinished draft makes no report');
select is(public.record_checkout_session('cs_test_flipflop', 'refund_owed', 'd0000000-0000-4000-8000-0000000000d1', 1499, 'usd', 'not ready'),
          'refund_owed', 'so it is recorded as owed a refund');
-- The owner makes the draft ready: the session still cannot become a report.
update public.benchmark_drafts set status = 'ready' where id = 'd0000000-0000-4000-8000-0000000000d1';
select throws_ok($$select public.fulfill_checkout('cs_test_flipflop', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$$,
                 'PT410', 'checkout session cs_test_flipflop is owed a refund, so it cannot become a report',
                 'a session owed a refund never becomes a report, even once its draft is ready');
select is((select count(*)::int from public.reports where stripe_session_id = 'cs_test_flipflop'), 0, 'no report was made');
select is((select status from public.benchmark_drafts where id = 'd0000000-0000-4000-8000-0000000000d1'), 'ready',
          'and the draft stays ready, to be paid for properly');
select public.complete_followup(c.id, c.lease_token, 're_1') from public.claim_followups('w', 50, 60) c
 where c.stripe_session_id = 'cs_test_flipflop' and c.kind = 'refund';
select throws_ok($$select public.fulfill_checkout('cs_test_flipflop', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a')$$,
                 'PT410', null, 'nor once it is refunded');

-- The success page's question: only sessions we know.
select is((select count(*)::int from public.checkout_session_state('cs_test_made_up')), 0,
          'a session we never made has no state (so Stripe is not asked)');
select is((select status from public.checkout_session_state('cs_test_flipflop')), 'refunded',
          'a session we made has its state');

-- Per-account limits --------------------------------------------------------------
insert into pg_temp.personas (name, role, claims) values
  ('other', 'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}');
insert into public.benchmark_drafts (user_id)
select 'b0000000-0000-4000-8000-00000000000b' from generate_series(1, 49);
select is(pg_temp.attempt('other', $q$insert into public.benchmark_drafts (config_data) values ('{}')$q$),
          'allowed', 'a 50th unfinished draft is taken');
insert into public.benchmark_drafts (user_id) values ('b0000000-0000-4000-8000-00000000000b');
select is(pg_temp.attempt('other', $q$insert into public.benchmark_drafts (config_data) values ('{}')$q$),
          'error 23514: You have 50 unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.',
          'the 51st is refused with its sentence');

select lives_ok($$select public.admit_checkout('b0000000-0000-4000-8000-00000000000b') from generate_series(1, 20)$$,
                '20 checkouts an hour are admitted');
select throws_ok($$select public.admit_checkout('b0000000-0000-4000-8000-00000000000b')$$,
                 'PT429', 'You have started 20 checkouts in the last hour, the most we allow. Try again in 60 minutes.',
                 'the 21st is refused, saying when to try again');

insert into storage.objects (bucket_id, name, owner)
select 'benchmark-images', 'a0000000-0000-4000-8000-00000000000a/many/' || i || '.png', 'a0000000-0000-4000-8000-00000000000a'
  from generate_series(1, 500) i;
select is(pg_temp.attempt('owner', $q$insert into storage.objects (bucket_id, name) values ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/many/last.png')$q$),
          'error 42501: You have stored 500 document images, the most one account may keep. Delete drafts you no longer need to upload more.',
          'the 501st stored image is refused with its sentence (Storage passes a 42501 message on)');

-- What the largest draft the limits allow costs to estimate (a figure, not
-- a bound: see scripts/test's output).
insert into public.benchmark_drafts (id, user_id, upload_data, schema_data, selected_models)
select 'd0000000-0000-4000-8000-0000000000d9', 'a0000000-0000-4000-8000-00000000000a',
       jsonb_build_object('images', (select jsonb_agg(jsonb_build_object(
         'path', 'a0000000-0000-4000-8000-00000000000a/big/' || i || '-1.png', 'width', 20000, 'height', 20000,
         'pages', (select jsonb_agg(jsonb_build_object(
                    'path', 'a0000000-0000-4000-8000-00000000000a/big/' || i || '-' || p || '.png',
                    'width', 20000, 'height', 20000)) from generate_series(1, 4) p),
         'expected', jsonb_build_object('total', i))) from generate_series(1, 50) i)),
       jsonb_build_object('prompt', repeat('p', 8000), 'userSchema', jsonb_build_object('description', repeat('s', 32000))),
       (select array_agg(id) from (select id from public.model_catalog order by id limit 10) m);
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
do $$
declare
  _start timestamptz := clock_timestamp();
  _runs integer := 20;
begin
  for _i in 1.._runs loop
    perform public.estimate_draft_cost('d0000000-0000-4000-8000-0000000000d9');
  end loop;
  perform set_config('test.estimate_ms',
    round(extract(epoch from clock_timestamp() - _start) * 1000 / _runs, 2)::text, true);
end
$$;
select diag(format('estimate_draft_cost on the largest draft the limits allow (50 documents of 4 pages, 200 pages in all, x %s models): %s ms per call',
                   (select count(*) from public.model_catalog), current_setting('test.estimate_ms')));

select * from finish();
rollback;
