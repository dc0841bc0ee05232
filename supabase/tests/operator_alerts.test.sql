-- Alerts for an operator: raised once per thing where it happens (a
-- dispute, a failed report, a follow-up that keeps failing, a catalog that
-- has not synced for a day), claimed one kind at a time, at most one mail
-- per kind an hour.
begin;
select plan(14);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
        '{"prompt": "x"}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_1', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a',
                               1499, 'usd', 'pi_1');

select public.record_charge_dispute('dp_1', 'pi_1', 'ch_1', 1499, 'usd', 'fraudulent', 'needs_response');
select public.record_charge_dispute('dp_1', 'pi_1', 'ch_1', 1499, 'usd', 'fraudulent', 'needs_response');
select is((select array_agg(detail) from private.operator_alerts where kind = 'dispute'),
          array['A payment of 14.99 USD was disputed (fraudulent, needs_response), checkout session cs_1: answer it in Stripe''s Dashboard before its deadline.'],
          'a dispute alerts once, however often Stripe tells us');

select public.finish_report(r.id, r.lease_token, 'failed', 'Every call timed out.') from public.claim_next_report('w', 60) r;
select is((select detail from private.operator_alerts where kind = 'report_failed'),
          format('Report %s failed after 1 attempts and is refunded: Every call timed out.',
                 (select id from public.reports where stripe_session_id = 'cs_1')),
          'a failed report alerts');

create temporary table refund_claim as
select c.id, c.lease_token from public.claim_followups('w', 50, 60) c where c.kind = 'refund';
select ok(not public.fail_followup((select id from refund_claim), (select lease_token from refund_claim), 'Stripe said no', 1, 10, 2),
          'a first failure alerts nobody');
select is((select count(*)::int from private.operator_alerts where kind = 'stuck_followup'), 0, 'no alert yet');
update private.followups set next_attempt_at = now() where kind = 'refund';
truncate refund_claim;
insert into refund_claim select c.id, c.lease_token from public.claim_followups('w', 50, 60) c where c.kind = 'refund';
select ok(public.fail_followup((select id from refund_claim), (select lease_token from refund_claim), 'Stripe said no', 1, 10, 2),
          'the second does');
select alike((select detail from private.operator_alerts where kind = 'stuck_followup'),
            'The refund for report % has failed 2 times and needs a person: Stripe said no', 'and the operator hears of it');

insert into private.catalog_syncs (ok, at) values (true, now() - interval '2 hours');
select public.record_catalog_sync_failure('OpenRouter answered 503');
select is((select count(*)::int from private.operator_alerts where kind = 'catalog_sync'), 0,
          'a failing sync two hours after one that worked alerts nobody');
update private.catalog_syncs set at = at - interval '1 day' where ok;
select public.record_catalog_sync_failure('OpenRouter answered 503');
select public.record_catalog_sync_failure('OpenRouter answered 503');
select is((select count(*)::int from private.operator_alerts where kind = 'catalog_sync'), 1,
          'a day without a sync that worked alerts, once that day');

create temporary table claim as select * from public.claim_operator_alerts(60);
select is((select array_agg(kind order by kind) from claim),
          array['catalog_sync', 'dispute', 'report_failed', 'stuck_followup'], 'one claim per kind');
select is((select count(*)::int from public.claim_operator_alerts(60)), 0, 'a claimed kind is not claimed twice');
select is(public.record_operator_alerts_sent('dispute', (select lease_token from claim where kind = 'dispute')), 1,
          'the dispute''s mail went out');
select throws_ok($$select public.record_operator_alerts_sent('dispute', (select lease_token from claim where kind = 'dispute'))$$,
                 'PT410', 'the lease on the dispute alerts is no longer held', 'and is recorded once');

select public.record_charge_dispute('dp_2', 'pi_1', 'ch_1', 1499, 'usd', 'duplicate', 'needs_response');
select is((select count(*)::int from public.claim_operator_alerts(60) where kind = 'dispute'), 0,
          'a second dispute within the hour waits');
update private.operator_alerts set sent_at = now() - interval '61 minutes' where subject = 'dp_1';
select is((select alerts -> 0 ->> 'subject' from public.claim_operator_alerts(60) where kind = 'dispute'), 'dp_2',
          'and goes out an hour after the last mail of its kind');

select * from finish();
rollback;
