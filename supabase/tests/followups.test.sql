-- Follow-ups: a finished report is owed its email (and, if it failed after
-- a payment, its refund); engines claim them under a lease, so no two do
-- the same one; what keeps failing backs off and alerts an operator once,
-- and never stands in front of what is due.
begin;
select plan(26);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
       '{"prompt": "x"}', array['openai/gpt-4o']
  from unnest(array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002']::uuid[]) d;
do $$
declare
  _claim public.reports;
begin
  perform public.fulfill_checkout('cs_failed', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
  perform public.fulfill_checkout('cs_done', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a');
  for _claim in select * from public.claim_next_report('w', 60)
                union all select * from public.claim_next_report('w', 60) loop
    if _claim.stripe_session_id = 'cs_failed' then
      perform public.finish_report(_claim.id, _claim.lease_token, 'failed', 'Every call timed out.');
    else
      perform public.finish_report(_claim.id, _claim.lease_token, 'complete');
    end if;
  end loop;
end
$$;
create temporary table ids as
select (select id from public.reports where stripe_session_id = 'cs_failed') as failed,
       (select id from public.reports where stripe_session_id = 'cs_done') as done,
       (select f.id from private.followups f join public.reports r on r.id = f.report_id
         where r.stripe_session_id = 'cs_failed' and f.kind = 'refund') as failed_refund,
       (select f.id from private.followups f join public.reports r on r.id = f.report_id
         where r.stripe_session_id = 'cs_done' and f.kind = 'email') as done_email;

select set_eq(
  $$select r.stripe_session_id, f.kind from private.followups f join public.reports r on r.id = f.report_id$$,
  $$values ('cs_failed', 'email'), ('cs_failed', 'refund'), ('cs_done', 'email')$$,
  'a finished report is owed its email, and a failed paid one its refund too'
);

-- One engine claims them all; another finds none of them.
create temporary table first_claim as select * from public.claim_followups('engine-1', 50, 60);
select is((select count(*)::int from first_claim), 3, 'all three are due at once, and claimed at once');
select is((select count(*)::int from public.claim_followups('engine-2', 50, 60)), 0,
          'a claimed follow-up is no other engine''s');
select is((select refund_state from first_claim d, ids where d.report_id = ids.failed and d.kind = 'email'),
          'pending', 'the failed report''s email can say its refund is on its way');
select is((select min(attempts) from first_claim), 1, 'the claim counts the attempt');

-- The refund fails: it waits, and the others stay due.
select is(public.fail_followup(ids.failed_refund, first_claim.lease_token, 'Stripe said no', 30, 3600, 3), false,
          'a first failure alerts nobody')
  from ids join first_claim on first_claim.id = ids.failed_refund;
select ok((select next_attempt_at > now() + interval '20 seconds' from private.followups, ids
            where report_id = ids.failed and kind = 'refund'),
          'a failed follow-up waits about its first backoff');
select throws_ok(format($$select public.fail_followup(%s, %L, 'again', 30, 3600, 3)$$, ids.failed_refund, first_claim.lease_token),
                 'PT410', format('the lease on follow-up %s is no longer held', ids.failed_refund),
                 'a lease given back fences that engine out, as report writes are fenced')
  from ids join first_claim on first_claim.id = ids.failed_refund;
-- Engine 1 dies holding the emails: once their lease expires, they are due again.
update private.followups set lease_expires_at = now() - interval '1 second' where kind = 'email';
create temporary table second_claim as select * from public.claim_followups('engine-2', 50, 60);
select set_eq($$select kind from second_claim$$, $$values ('email'), ('email')$$,
              'what failed is not due; both emails, whose engine died, are again');
select is((select refund_state from second_claim d, ids where d.report_id = ids.failed),
          'pending', 'a refund that failed once is still on its way');
select throws_ok(format($$select public.complete_followup(%s, %L)$$, ids.done_email, first_claim.lease_token),
                 'PT410', format('the lease on follow-up %s is no longer held', ids.done_email),
                 'the dead engine''s lease completes nothing')
  from ids join first_claim on first_claim.id = ids.done_email;

-- Failing again: the backoff doubles, and the third failure alerts, once.
create function pg_temp.fail_refund_again() returns boolean language plpgsql as $f$
declare
  _claimed record;
begin
  update private.followups set next_attempt_at = now() where kind = 'refund';
  select * into _claimed from public.claim_followups('engine-3', 50, 60) c where c.kind = 'refund';
  return public.fail_followup(_claimed.id, _claimed.lease_token, 'Stripe said no', 30, 3600, 3);
end
$f$;
select is(pg_temp.fail_refund_again(), false, 'second failure');
select ok((select next_attempt_at > now() + interval '45 seconds' from private.followups where kind = 'refund'),
          'the second backoff is about twice the first');
select is(pg_temp.fail_refund_again(), true, 'the third failure alerts an operator');
select is(pg_temp.fail_refund_again(), false, 'and the fourth does not alert again');
select is((select count(*)::int from private.stuck_followups), 1, 'the operator finds it in stuck_followups');

-- Done is recorded on the report and never done twice.
select lives_ok(format($$select public.complete_followup(%s, %L)$$, ids.done_email, second_claim.lease_token),
                'an email sent is recorded')
  from ids join second_claim on second_claim.id = ids.done_email;
select throws_ok(format($$select public.complete_followup(%s, %L)$$, ids.done_email, second_claim.lease_token),
                 'PT410', format('the lease on follow-up %s is no longer held', ids.done_email), 'and only once')
  from ids join second_claim on second_claim.id = ids.done_email;
select ok((select email_sent_at is not null from public.reports, ids where id = ids.done), 'on its report');

-- Paid twice: the second session is owed a refund and an email.
select is(public.record_checkout_session('cs_again', 'refund_owed', 'd0000000-0000-4000-8000-000000000002', 1499, 'usd',
          'This benchmark was already paid for, so this payment is refunded.'), 'refund_owed', 'a second payment is owed its refund');
select set_eq($$select kind from private.followups where stripe_session_id = 'cs_again'$$, $$values ('refund'), ('email')$$,
              'its refund and its email are scheduled');
create temporary table third_claim as select * from public.claim_followups('engine-3', 50, 60);
select is((select subject || '/' || report_id::text || '/' || status || '/' || refund_state || '/' || email
             from third_claim d where d.stripe_session_id = 'cs_again' and d.kind = 'email'),
          'session/' || (select done from ids) || '/refund_owed/pending/owner@example.test',
          'the email goes to the payer and links the report they did get');
select is(public.record_checkout_session('cs_again', 'expired'), 'refund_owed', 'nothing downgrades a refund owed');
select lives_ok(format($$select public.complete_followup(%s, %L, 're_again')$$, c.id, c.lease_token),
                'the refund is recorded')
  from third_claim c where c.stripe_session_id = 'cs_again' and c.kind = 'refund';
select is((select status || '/' || refund_id from public.checkout_sessions where stripe_session_id = 'cs_again'),
          'refunded/re_again', 'on the session, with its Stripe id');
select throws_ok($$select public.claim_followups('', 5, 60)$$, 'PT400', 'worker name must not be empty',
                 'a claim names its engine');

select * from finish();
rollback;
