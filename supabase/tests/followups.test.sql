-- Follow-ups: a finished report is owed its email (and, if it failed after
-- a payment, its refund); what keeps failing backs off and alerts an
-- operator once, and never stands in front of what is due.
begin;
select plan(21);

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
select is((select count(*)::int from public.due_followups(50)), 3, 'all three are due at once');
select is((select refund_state from public.due_followups(50) d, ids where d.report_id = ids.failed and d.kind = 'email'),
          'pending', 'the failed report''s email can say its refund is on its way');

-- The refund fails: it waits, and the others stay due.
select is(public.fail_followup((select failed_refund from ids), 'Stripe said no', 30, 3600, 3), false,
          'a first failure alerts nobody');
select ok((select next_attempt_at > now() + interval '20 seconds' from private.followups, ids
            where report_id = ids.failed and kind = 'refund'),
          'a failed follow-up waits about its first backoff');
select set_eq($$select kind from public.due_followups(50)$$, $$values ('email'), ('email')$$,
              'what failed is not due; both emails still are');
select is((select refund_state from public.due_followups(50) d, ids where d.report_id = ids.failed),
          'pending', 'a refund that failed once is still on its way');

-- Failing again: the backoff doubles, and the third failure alerts, once.
update private.followups set next_attempt_at = now() where kind = 'refund';
select is(public.fail_followup((select failed_refund from ids), 'Stripe said no', 30, 3600, 3), false, 'second failure');
select ok((select next_attempt_at > now() + interval '45 seconds' from private.followups where kind = 'refund'),
          'the second backoff is about twice the first');
update private.followups set next_attempt_at = now() where kind = 'refund';
select is(public.fail_followup((select failed_refund from ids), 'Stripe said no', 30, 3600, 3), true,
          'the third failure alerts an operator');
update private.followups set next_attempt_at = now() where kind = 'refund';
select is(public.fail_followup((select failed_refund from ids), 'Stripe said no', 30, 3600, 3), false,
          'and the fourth does not alert again');
select is((select count(*)::int from private.stuck_followups), 1, 'the operator finds it in stuck_followups');

-- Done is recorded on the report and never done twice.
select is(public.complete_followup((select done_email from ids)), true, 'an email sent is recorded');
select is(public.complete_followup((select done_email from ids)), false, 'and only once');
select ok((select email_sent_at is not null from public.reports, ids where id = ids.done), 'on its report');

-- Paid twice: the second session is owed a refund and an email.
select is(public.record_checkout_session('cs_again', 'refund_owed', 'd0000000-0000-4000-8000-000000000002', 1499, 'usd',
          'This benchmark was already paid for, so this payment is refunded.'), 'refund_owed', 'a second payment is owed its refund');
select set_eq($$select kind from private.followups where stripe_session_id = 'cs_again'$$, $$values ('refund'), ('email')$$,
              'its refund and its email are scheduled');
select is((select subject || '/' || report_id::text || '/' || status || '/' || refund_state || '/' || email
             from public.due_followups(50) d, ids where d.stripe_session_id = 'cs_again' and d.kind = 'email'),
          'session/' || (select done from ids) || '/refund_owed/pending/owner@example.test',
          'the email goes to the payer and links the report they did get');
select is(public.record_checkout_session('cs_again', 'expired'), 'refund_owed', 'nothing downgrades a refund owed');
select is(public.complete_followup((select id from private.followups where stripe_session_id = 'cs_again' and kind = 'refund'), 're_again'),
          true, 'the refund is recorded');
select is((select status || '/' || refund_id from public.checkout_sessions where stripe_session_id = 'cs_again'),
          'refunded/re_again', 'on the session, with its Stripe id');

select * from finish();
rollback;
