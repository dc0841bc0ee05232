-- Stripe's charge.refunded and charge.dispute.created: a refund made in the
-- Dashboard marks the payment's session and report refunded and settles a
-- refund still owed, so no second refund is made; a dispute is kept for an
-- operator; neither changes anything else.
begin;
select plan(19);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
       '{"prompt": "x"}', array['openai/gpt-4o']
  from unnest(array['d0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002',
                    'd0000000-0000-4000-8000-000000000003']::uuid[]) d;

select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_1');
select is((select (status, amount_total, currency, payment_intent_id)::text from public.checkout_sessions
            where stripe_session_id = 'cs_1'),
          '(paid,1499,usd,pi_1)', 'a paid session keeps what Stripe said it was paid, and by which payment');

select is(public.record_charge_refunded('pi_1', 'ch_1', 1499, 500), 'partially_refunded', 'a partial refund');
select is((select (status, amount_refunded, refund_id)::text from public.checkout_sessions where stripe_session_id = 'cs_1'),
          '(paid,500,)', 'is recorded as an amount; the session stays paid');
select is((select refunded_at from public.reports where stripe_session_id = 'cs_1'), null, 'and the report is not refunded');
select r.id as report_1, r.share_token as share_1 from public.reports r where r.stripe_session_id = 'cs_1' \gset
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "a0000000-0000-4000-8000-00000000000a"}', true);
set local role authenticated;
select is(public.read_report(:'report_1') -> 'amount_refunded', '500'::jsonb, 'its owner reads how much was refunded');
set local role anon;
select set_config('request.jwt.claims', '{"role": "anon"}', true);
select is(public.read_report(:'report_1', :'share_1') -> 'amount_refunded', 'null'::jsonb, 'a share-link holder does not');
reset role;

select is(public.record_charge_refunded('pi_1', 'ch_1', 1499, 1499), 'refunded', 'the whole amount refunded');
select is((select (status, amount_refunded, refund_id, refunded_at = now())::text from public.checkout_sessions
            where stripe_session_id = 'cs_1'),
          '(refunded,1499,ch_1,t)', 'marks the session refunded');
select is((select (refund_id, refunded_at = now(), status)::text from public.reports where stripe_session_id = 'cs_1'),
          '(ch_1,t,paid)', 'and its report, which is otherwise left as it is');
select is(public.record_charge_refunded('pi_1', 'ch_1', 1499, 1499), 'already_refunded', 'a redelivery changes nothing');
select is(public.record_charge_refunded('pi_unknown', 'ch_9', 1499, 1499), 'unknown', 'a payment that is not ours');

-- Two reports that failed, each owed its refund.
select public.fulfill_checkout('cs_2', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_2');
select public.fulfill_checkout('cs_3', 'd0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_3');
do $$
declare
  _claim public.reports;
begin
  for _claim in select * from public.claim_next_report('w', 60) union all select * from public.claim_next_report('w', 60)
                union all select * from public.claim_next_report('w', 60) loop
    if _claim.stripe_session_id <> 'cs_1' then
      perform public.finish_report(_claim.id, _claim.lease_token, 'failed', 'Every call timed out.');
    else
      perform public.release_report(_claim.id, _claim.lease_token);
    end if;
  end loop;
end
$$;
-- An engine holds the refund of cs_3 this moment.
create temporary table held as
select c.id, c.lease_token from public.claim_followups('engine', 50, 60) c
 where c.kind = 'refund' and c.stripe_session_id = 'cs_3';
update private.followups f set lease_token = null, lease_expires_at = null, attempts = 0
 where f.kind = 'refund' and f.id not in (select id from held);

select is(public.record_charge_refunded('pi_2', 'ch_2', 1499, 1499), 'refunded', 'a Dashboard refund of a failed report');
select ok((select f.done_at is not null from private.followups f join public.reports r on r.id = f.report_id
            where r.stripe_session_id = 'cs_2' and f.kind = 'refund'),
          'settles the refund it was owed: no second refund');
select is(public.record_charge_refunded('pi_3', 'ch_3', 1499, 1499), 'refunded', 'a Dashboard refund while an engine refunds');
select ok((select f.done_at is null from private.followups f join held h on h.id = f.id),
          'leaves the held refund to its engine');
select lives_ok($$select public.complete_followup((select id from held), (select lease_token from held), null)$$,
                'which completes it without a refund id of its own, the payment being refunded');
select is((select refund_id from public.reports where stripe_session_id = 'cs_3'), 'ch_3',
          'the refund on record stays the Dashboard''s');

select is(public.record_charge_dispute('dp_1', 'pi_1', 'ch_1', 1499, 'usd', 'fraudulent', 'needs_response'), 'recorded',
          'a dispute is recorded');
select is(public.record_charge_dispute('dp_1', 'pi_1', 'ch_1', 1499, 'usd', 'fraudulent', 'needs_response')
          || ' ' || (select stripe_session_id from private.charge_disputes where dispute_id = 'dp_1'),
          'already_recorded cs_1', 'once, with the session its payment paid for');

select * from finish();
rollback;
