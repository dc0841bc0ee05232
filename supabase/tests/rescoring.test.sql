-- Scoring a finished report again: only its owner corrects the expected
-- JSON (rescore_report), by the document keys read_report gives, within the
-- draft limits and the number of scorings a report may have; the engine
-- stores the new figures only for the corrections still waiting
-- (record_rescore), keeping the earlier ones, which the report's readers
-- see through read_report and read_report_scoring.
begin;
select plan(28);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
                                          ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "name": "invoice-1.png", "expected": {"total": "96.00"}},
                     {"path": "a0000000-0000-4000-8000-00000000000a/2.png", "name": "invoice-2.png", "expected": {"total": "10.00"}}]}',
        '{"prompt": "Read it."}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
create temporary table claimed as select * from public.claim_next_report('w', 30);
select id as report_id, lease_token, share_token from claimed \gset
select encode(sha256(convert_to('a0000000-0000-4000-8000-00000000000a/1.png', 'UTF8')), 'hex') as key1,
       encode(sha256(convert_to('a0000000-0000-4000-8000-00000000000a/2.png', 'UTF8')), 'hex') as key2 \gset
insert into public.benchmark_runs (id, report_id, model_id, image_index, output_json, passed, fields_total, fields_matched, field_diffs)
values ('f0000000-0000-4000-8000-0000000000f1', :'report_id', 'openai/gpt-4o', 0, '{"total": "97.00"}', false, 1, 0,
        '[{"kind": "mismatch", "path": ["total"], "expected": "96.00", "actual": "97.00"}]');
grant select on pg_temp.claimed to authenticated;

create function pg_temp.as_user(p_sub text) returns void language sql as $$
  select set_config('request.jwt.claims', jsonb_build_object('role', 'authenticated', 'sub', p_sub)::text, true);
  set local role authenticated;
$$;

-- While it runs, nobody scores it again.
select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb)),
                 'PT409', 'Only a finished report with answers can be scored again; this one is running.',
                 'a running report is not scored again');
reset role;
select public.record_report_figures(:'report_id', :'lease_token', '{"version": 3, "models": []}');
select public.finish_report(:'report_id', :'lease_token', 'complete');

-- Who may.
select pg_temp.as_user('b0000000-0000-4000-8000-00000000000b');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb)),
                 'PT404', null, 'another user cannot score it again');
select is(public.read_report_scoring(:'report_id', 1), null, 'nor read its earlier scorings');
reset role;
set local role anon;
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb)),
                 '42501', null, 'a visitor with the anon key cannot either');
reset role;

-- What the owner may give.
select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select throws_ok(format($$select public.rescore_report(%L, '[]')$$, :'report_id'), 'PT400', null, 'not an object: refused');
select throws_ok(format($$select public.rescore_report(%L, '{}')$$, :'report_id'), 'PT400', null, 'nothing to correct: refused');
select throws_ok(format($$select public.rescore_report(%L, '{"not-a-key": {"total": 1}}')$$, :'report_id'),
                 'PT400', 'This report has no document with the key not-a-key.', 'an unknown document key: refused');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id', jsonb_build_object(:'key1', '[1]'::jsonb)),
                 'PT400', 'The expected JSON of invoice-1.png must be a JSON object.', 'expected JSON that is not an object: refused');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id',
                        jsonb_build_object(:'key1', jsonb_build_object('note', repeat('x', 70000)))),
                 '23514', null, 'expected JSON over the draft limit: refused');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id',
                        (select jsonb_object_agg('k' || i, repeat('x', 1000)) from generate_series(1, 5000) i)),
                 'PT400', null, 'a request over 4 MB is refused before it is read');
reset role;
select is((select pending_corrections from public.reports where id = :'report_id'), null, 'refusals change nothing');

-- A correction waits for the engine, and says so.
listen report_rescore;
select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select is(public.rescore_report(:'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb)),
          '{"version": 2, "pending": true}'::jsonb, 'the owner''s correction is accepted: version 2 is on its way');
select is(public.rescore_report(:'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb)),
          '{"version": 2, "pending": true}'::jsonb, 'the same correction again changes nothing');
select is(public.read_report(:'report_id') -> 'scoring',
          '{"version": 1, "rescored_at": null, "pending": true, "earlier": []}'::jsonb,
          'the report says it is scored as paid for, and that a new scoring is pending');
select is(public.rescore_report(:'report_id', jsonb_build_object(:'key2', '{"total": "11.00"}'::jsonb)),
          '{"version": 2, "pending": true}'::jsonb, 'a second correction joins the first');
reset role;
select is((select pending_corrections from public.reports where id = :'report_id'),
          jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb, :'key2', '{"total": "11.00"}'::jsonb),
          'both wait, by document key');
select is(array(select id from public.reports_to_rescore(10)), array[:'report_id'::uuid], 'the engine finds the report to score again');

-- The engine's write is fenced by the corrections it scored.
select is(public.record_rescore(:'report_id', jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb),
                                '{"version": 3, "stale": true}', '[]'),
          false, 'figures scored with corrections no longer waiting are not stored');
select is(public.record_rescore(:'report_id', (select pending_corrections from public.reports where id = :'report_id'),
                                '{"version": 3, "models": [], "rescored": true}',
                                '[{"id": "f0000000-0000-4000-8000-0000000000f1", "passed": true, "field_diffs": [], "fields_total": 1, "fields_matched": 1}]'),
          true, 'figures scored with the waiting corrections are stored');
select is((select row(passed, fields_matched, field_diffs)::text from public.benchmark_runs where id = 'f0000000-0000-4000-8000-0000000000f1'),
          '(t,1,[])', 'each call''s new score with them');
select is((select row(version, figures, corrections)::text from public.report_scorings where report_id = :'report_id'),
          '(1,"{""models"": [], ""version"": 3}",)', 'the figures shown before are kept as version 1');
select is(public.record_rescore(:'report_id', null, '{}', '[]'), false, 'nothing waits any more');

-- What readers see.
select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select is((select jsonb_build_object('version', s -> 'version', 'pending', s -> 'pending', 'earlier', jsonb_array_length(s -> 'earlier'))
             from (select public.read_report(:'report_id') -> 'scoring' as s) x),
          '{"version": 2, "pending": false, "earlier": 1}'::jsonb, 'the owner sees version 2, with one earlier');
select is((select jsonb_agg(jsonb_build_object('expected', d -> 'expected', 'corrected', d -> 'corrected') order by d ->> 'index')
             from jsonb_array_elements(public.read_report(:'report_id') -> 'documents') d),
          '[{"expected": {"total": "97.00"}, "corrected": true}, {"expected": {"total": "11.00"}, "corrected": true}]'::jsonb,
          'and the expected JSON as corrected');
-- Correcting back to what was paid for drops the correction.
select is(public.rescore_report(:'report_id', jsonb_build_object(:'key2', '{"total": "10.00"}'::jsonb)),
          '{"version": 3, "pending": true}'::jsonb, 'correcting a document back to what was paid for scores again');
reset role;
select is((select pending_corrections from public.reports where id = :'report_id'),
          jsonb_build_object(:'key1', '{"total": "97.00"}'::jsonb), 'without that document''s correction');
set local role anon;
select set_config('request.jwt.claims', '{"role": "anon"}', true);
select is(public.read_report_scoring(:'report_id', 1, :'share_token') -> 'figures', '{"version": 3, "models": []}'::jsonb,
          'a share-link holder reads the earlier figures');
reset role;

-- A report is scored at most max_scorings_per_report times.
update public.reports set scoring_version = (public.draft_limits() ->> 'max_scorings_per_report')::integer, pending_corrections = null
 where id = :'report_id';
select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select throws_ok(format($$select public.rescore_report(%L, %L)$$, :'report_id', jsonb_build_object(:'key2', '{"total": "12.00"}'::jsonb)),
                 'PT429', 'This report has been scored 20 times; the limit is 20.', 'after the last scoring allowed, no more');
reset role;

select * from finish();
rollback;
