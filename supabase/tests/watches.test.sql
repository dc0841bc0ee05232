-- Watching a finished report for new models: only its owner turns it on
-- (set_report_watch), and only on a complete report; a claim names the
-- models offered since, not in the report and not named before, at most
-- once a week; the mail is recorded only under its lease; the unsubscribe
-- token stops it for whoever holds it, signed in or not, and nothing else.
begin;
select plan(20);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
                                          ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models, config_data)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {"total": 1}}]}',
        '{"prompt": "Read it."}', array['openai/gpt-4o'], '{"name": "March invoices"}');
select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
create temporary table claimed as select * from public.claim_next_report('w', 30);
select id as report_id, lease_token from claimed \gset
grant select on pg_temp.claimed to authenticated;

create function pg_temp.as_user(p_sub text) returns void language sql as $$
  select set_config('request.jwt.claims', jsonb_build_object('role', 'authenticated', 'sub', p_sub)::text, true);
  set local role authenticated;
$$;

select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select throws_ok(format($$select public.set_report_watch(%L, true)$$, :'report_id'), 'PT409',
                 'Only a finished report can be watched for new models; this one is running.',
                 'a running report is not watched');
reset role;
select public.record_report_figures(:'report_id', :'lease_token',
  '{"version": 3, "models": [{"model_id": "openai/gpt-4o", "display_name": "GPT-4o"}]}');
select public.finish_report(:'report_id', :'lease_token', 'complete');

select pg_temp.as_user('b0000000-0000-4000-8000-00000000000b');
select throws_ok(format($$select public.set_report_watch(%L, true)$$, :'report_id'), 'PT404', null,
                 'another user cannot watch it');
reset role;
set local role anon;
select throws_ok(format($$select public.set_report_watch(%L, true)$$, :'report_id'), '42501', null,
                 'nor can a visitor');
reset role;

select pg_temp.as_user('a0000000-0000-4000-8000-00000000000a');
select is(public.set_report_watch(:'report_id', true), true, 'the owner watches it');
select is(public.set_report_watch(:'report_id', true), true, 'asking again changes nothing');
select is(public.read_report(:'report_id') -> 'watching', 'true'::jsonb, 'the report says so to its owner');
reset role;
select is((select count(*)::integer from public.report_watches), 1, 'one watch');

-- Nothing new yet: nothing to mail.
select is((select count(*)::integer from public.claim_watch_emails('w', 10, 60)), 0,
          'no model offered since: no mail');
-- Two models arrive; one of them is already in the report, one is inactive.
insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, active, created_at)
values ('acme/vision-pro', 'Acme: Vision Pro', 'acme', 0.2, 0.8, true, now() + interval '1 second'),
       ('acme/vision-old', 'Acme: Vision Old', 'acme', 0.1, 0.4, false, now() + interval '1 second');
update public.model_catalog set created_at = now() + interval '1 second' where id = 'openai/gpt-4o';
create temporary table due as select * from public.claim_watch_emails('w', 10, 60);
select is((select jsonb_agg(m ->> 'id') from due, jsonb_array_elements(due.models) m), '["acme/vision-pro"]'::jsonb,
          'the mail names the active model the report did not try');
select is((select row(email, report_name, pick ->> 'id')::text from due), '(owner@example.test,"March invoices",openai/gpt-4o)',
          'with whom to mail, the report''s name and its pick');
select is((select count(*)::integer from public.claim_watch_emails('w', 10, 60)), 0, 'a claimed watch is not claimed twice');
select throws_ok(format($$select public.complete_watch_email(%L, gen_random_uuid(), '{acme/vision-pro}')$$, :'report_id'),
                 'PT410', null, 'another lease records nothing');
select lives_ok(format($$select public.complete_watch_email(%L, %L, '{acme/vision-pro}')$$, :'report_id',
                       (select lease_token from due)), 'the claimer records the mail');
select is((select notified_models from public.report_watches), '{acme/vision-pro}'::text[], 'its model is named once');

-- A week later, another model: mailed, but never the first again.
insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, active, created_at)
values ('acme/vision-max', 'Acme: Vision Max', 'acme', 1, 4, true, now() + interval '2 seconds');
select is((select count(*)::integer from public.claim_watch_emails('w', 10, 60)), 0, 'not twice in a week');
update public.report_watches set last_sent_at = now() - interval '8 days';
select is((select jsonb_agg(m ->> 'id') from public.claim_watch_emails('w', 10, 60) d, jsonb_array_elements(d.models) m),
          '["acme/vision-max"]'::jsonb, 'a week later, only the model not named before');

-- The unsubscribe link works signed out, by its token only.
select unsubscribe_token from public.report_watches \gset
set local role anon;
select set_config('request.jwt.claims', '{"role": "anon"}', true);
select is(public.stop_report_watch(repeat('0', 64)), false, 'a made-up token stops nothing');
select is(public.stop_report_watch(:'unsubscribe_token'), true, 'the mail''s token stops the watch, signed out');
select is(public.stop_report_watch(:'unsubscribe_token'), false, 'and then stops nothing more');
reset role;
select is((select count(*)::integer from public.report_watches), 0, 'no watch is left');

select * from finish();
rollback;
