-- The queue functions in one session: what claim takes and leaves, leases as
-- fencing tokens, release, finish. (Claims racing across sessions and
-- SKIP LOCKED are exercised with several connections in the Rust tests.)
begin;
select plan(16);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select ('d0000000-0000-4000-8000-00000000000' || n)::uuid, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
       '{"prompt": "x"}', array['openai/gpt-4o']
  from generate_series(1, 2) n;
do $$
begin
  perform public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
  perform public.fulfill_checkout('cs_2', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a');
end
$$;
-- Distinct payment times, oldest first.
update public.reports set paid_at = now() - interval '2 minutes' where stripe_session_id = 'cs_1';

create temporary table c1 as select * from public.claim_next_report('w1', 60);
select is((select stripe_session_id from c1), 'cs_1', 'the oldest paid report is claimed first');
select is((select status || '/' || attempts || '/' || lease_owner from c1), 'running/1/w1', 'claimed: running, attempt 1, owner recorded');
select ok((select lease_expires_at between now() + interval '59 seconds' and now() + interval '61 seconds' from c1), 'the lease lasts as asked');

create temporary table c2 as select * from public.claim_next_report('w2', 60);
select is((select stripe_session_id from c2), 'cs_2', 'a report under a live lease is not claimed again');
select is((select count(*)::int from public.claim_next_report('w3', 60)), 0, 'nothing left to claim');

-- w1 dies: its lease expires, w3 takes over.
update public.reports set lease_expires_at = now() - interval '1 second' where id = (select id from c1);
create temporary table c3 as select * from public.claim_next_report('w3', 60);
select is((select id from c3), (select id from c1), 'an expired lease is taken over');
select is((select attempts from c3), 2, 'the takeover counts as attempt 2');
select isnt((select lease_token from c3), (select lease_token from c1), 'with a fresh lease token');

select is(public.renew_report_lease((select id from c1), (select lease_token from c1), 60), false, 'the old token cannot renew');
select is(public.finish_report((select id from c1), (select lease_token from c1), 'complete'), false, 'the old token cannot finish');
select is(public.release_report((select id from c1), (select lease_token from c1)), false, 'the old token cannot release');
select is(public.renew_report_lease((select id from c3), (select lease_token from c3), 60), true, 'the new token renews');

select is(public.release_report((select id from c2), (select lease_token from c2)), true, 'a held report can be released');
select is((select status || '/' || attempts from public.reports where id = (select id from c2)), 'paid/0', 'released: paid again, attempt not counted');

select throws_ok($$select public.finish_report((select id from c3), (select lease_token from c3), 'paid')$$,
                 'PT400', null, 'finish only to complete or failed');
select throws_ok($$select public.claim_next_report('w', 0)$$, 'PT400', null, 'a zero-second lease is refused');

select * from finish();
rollback;
