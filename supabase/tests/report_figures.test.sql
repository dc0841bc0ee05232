-- A report's figures are written once, by the engine holding its lease,
-- while it runs or as it finishes it; the owner and a share-link holder read them through
-- read_report(), nobody else. A finished report whose figures are missing
-- or older than the page reads (no document_results) is listed for the
-- engine to compute them again from its runs, once.
begin;
select plan(15);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
                                          ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {"a": 1}}]}',
        '{"prompt": "Read it."}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
create temporary table claimed as select * from public.claim_next_report('w', 30);

select is(public.record_report_figures((select id from claimed), gen_random_uuid(), '{"version": 1}'), false,
          'another lease writes no figures');
select is(public.record_report_figures((select id from claimed), (select lease_token from claimed), '{"version": 1, "documents": 1}'), true,
          'the engine holding the lease writes them');
select public.finish_report((select id from claimed), (select lease_token from claimed), 'complete');
select is(public.record_report_figures((select id from claimed), (select lease_token from claimed), '{"version": 2}'), false,
          'a finished report''s figures stay as they were');

select is(array(select id from public.reports_to_refigure('00000000-0000-0000-0000-000000000000', 10)), '{}'::uuid[],
          'a finished report without runs has nothing to compute figures from');
insert into public.benchmark_runs (report_id, model_id, image_index, passed, fields_total, fields_matched)
values ((select id from claimed), 'openai/gpt-4o', 0, true, 1, 1);
select is(array(select id from public.reports_to_refigure('00000000-0000-0000-0000-000000000000', 10)),
          array[(select id from claimed)], 'one with runs and figures the page cannot read whole is listed');
select is(array(select id from public.reports_to_refigure((select id from claimed), 10)), '{}'::uuid[],
          'after itself, in id order, nothing');
select is(public.record_refigured_report((select id from claimed), '{"version": 1, "documents": 1, "document_results": []}'), true,
          'its figures are computed again once');
select is(public.record_refigured_report((select id from claimed), '{"version": 9, "document_results": []}'), false,
          'and then stay');
update public.reports set figures = '{"version": 1, "documents": 1}' where id = (select id from claimed);
select throws_ok($$update public.reports set figures = jsonb_build_object('x', repeat('x', 3 * 1024 * 1024))$$, '23514', null,
                 'figures are bounded in size');

-- Finishing with the figures stores both in one write, fenced like the rest.
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/2.png", "expected": {"a": 2}}]}',
        '{"prompt": "Read it."}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_2', 'd0000000-0000-4000-8000-0000000000d2', 'a0000000-0000-4000-8000-00000000000a');
create temporary table second as select * from public.claim_next_report('w', 30);
select is(public.finish_report((select id from second), gen_random_uuid(), 'complete', null, false, '{"version": 7}'), false,
          'another lease finishes nothing and writes no figures');
select is(public.finish_report((select id from second), (select lease_token from second), 'complete', null, false, '{"version": 7}'), true,
          'the engine holding the lease finishes the report with its figures');
select is((select array[status, figures ->> 'version'] from public.reports where id = (select id from second)),
          array['complete', '7'], 'both written together');

select r.id as report_id, r.share_token from public.reports r where r.id = (select id from claimed) \gset
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "a0000000-0000-4000-8000-00000000000a"}', true);
set local role authenticated;
select is(public.read_report(:'report_id') -> 'figures', '{"version": 1, "documents": 1}'::jsonb,
          'the owner reads them with the report');
select set_config('request.jwt.claims', '{"role": "anon"}', true);
set local role anon;
select is(public.read_report(:'report_id', :'share_token') -> 'figures',
          '{"version": 1, "documents": 1}'::jsonb, 'so does a share-link holder');
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "b0000000-0000-4000-8000-00000000000b"}', true);
set local role authenticated;
select is(public.read_report(:'report_id'), null, 'nobody else');

select * from finish();
rollback;
