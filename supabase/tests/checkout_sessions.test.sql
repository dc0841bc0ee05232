-- Checkout sessions: a paid session is final, whatever arrives after it.
begin;
select plan(7);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/1.png", "expected": {}}]}',
        '{"prompt": "x"}', array['openai/gpt-4o']);

select is(public.record_checkout_session('cs_async', 'awaiting_payment', 'd0000000-0000-4000-8000-000000000001',
          1499, 'usd'), 'awaiting_payment', 'an unpaid completion is recorded as awaiting payment');
select is((select count(*)::int from public.reports), 0, 'and creates no report');

do $$ begin
  perform public.fulfill_checkout('cs_async', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
end $$;
select is((select status from public.checkout_sessions where stripe_session_id = 'cs_async'), 'paid', 'fulfillment marks the session paid');
select is(public.record_checkout_session('cs_async', 'expired'), 'paid', 'a late expiry does not undo a payment');
select is(public.record_checkout_session('cs_async', 'payment_failed'), 'paid', 'nor does a late failure');
select is((select status from public.reports where stripe_session_id = 'cs_async'), 'paid', 'the report stands');
select throws_ok($$select public.record_checkout_session('cs_x', 'paid')$$, 'PT400', null,
                 'only fulfill_checkout records a payment');

select * from finish();
rollback;
