-- An account's data: exported whole, and deleted on request, keeping the
-- payments bookkeeping needs without anything that names the person; no
-- other account is touched, and nothing goes while a report runs or a
-- refund is owed.
begin;
select plan(13);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'leaving@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'staying@example.test');
insert into storage.objects (bucket_id, name, owner) values
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d1/a.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'a0000000-0000-4000-8000-00000000000a/d2/b.png', 'a0000000-0000-4000-8000-00000000000a'),
  ('benchmark-images', 'b0000000-0000-4000-8000-00000000000b/d1/c.png', 'b0000000-0000-4000-8000-00000000000b');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/d1/a.png", "expected": {"total": "1"}}]}',
        '{"prompt": "x"}', array['openai/gpt-4o']),
       ('d0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a', 'draft',
        '{"images": []}', '{}', '{}'),
       ('d0000000-0000-4000-8000-000000000003', 'b0000000-0000-4000-8000-00000000000b', 'ready',
        '{"images": [{"path": "b0000000-0000-4000-8000-00000000000b/d1/c.png", "expected": {"total": "1"}}]}',
        '{"prompt": "x"}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_a', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a', 1499, 'usd', 'pi_a');
select public.fulfill_checkout('cs_b', 'd0000000-0000-4000-8000-000000000003', 'b0000000-0000-4000-8000-00000000000b', 1499, 'usd', 'pi_b');
insert into public.benchmark_runs (report_id, model_id, image_index, output_json, passed)
select id, 'openai/gpt-4o', 0, '{"total": "1"}', true from public.reports;

create temporary table export as select public.export_account('a0000000-0000-4000-8000-00000000000a') as doc;
select is((select doc -> 'account' ->> 'email' from export), 'leaving@example.test', 'the export is of the account');
select is((select jsonb_array_length(doc -> 'drafts') || ' drafts, ' || jsonb_array_length(doc -> 'reports') || ' report, '
                  || jsonb_array_length(doc -> 'reports' -> 0 -> 'runs') || ' run, '
                  || jsonb_array_length(doc -> 'payments') || ' payment, ' || jsonb_array_length(doc -> 'images') || ' images'
             from export),
          '2 drafts, 1 report, 1 run, 1 payment, 2 images', 'with everything it holds');
select ok((select doc::text not like '%staying@example.test%' and doc::text not like '%b0000000-0000-4000-8000-00000000000b%' from export),
          'and nothing of another account');
select is(public.export_account(gen_random_uuid()), null, 'no account, no export');

select throws_ok($$select public.delete_account_data('a0000000-0000-4000-8000-00000000000a')$$, 'PT409',
                 'A benchmark of yours is still running. Delete your account once it has finished.',
                 'nothing is deleted while a report runs');
select public.finish_report(r.id, r.lease_token, 'failed', 'Every call failed.')
  from public.claim_next_report('w', 60) r;
select public.finish_report(r.id, r.lease_token, 'complete') from public.claim_next_report('w', 60) r;
select throws_ok($$select public.delete_account_data(u.id) from auth.users u
                    join public.reports r on r.user_id = u.id where r.status = 'failed'$$, 'PT409',
                 'A refund to you is still being made. Delete your account once it has gone through.',
                 'nor while a refund is owed');
update private.followups set done_at = now() where kind = 'refund';

select is(public.delete_account_data('a0000000-0000-4000-8000-00000000000a'),
          jsonb_build_object('images', jsonb_build_array('a0000000-0000-4000-8000-00000000000a/d1/a.png',
                                                         'a0000000-0000-4000-8000-00000000000a/d2/b.png'),
                             'payments_kept', 1),
          'the account''s data goes, and its images are named for Storage');
select is((select count(*)::int from public.benchmark_drafts where user_id = 'a0000000-0000-4000-8000-00000000000a')
          + (select count(*)::int from public.reports where user_id = 'a0000000-0000-4000-8000-00000000000a'),
          0, 'drafts and reports are gone');
select is((select (user_id, draft_id, status, amount_total, payment_intent_id)::text from public.checkout_sessions
            where stripe_session_id = 'cs_a'),
          '(,,paid,1499,pi_a)', 'the payment stays, naming no one');
select is((select count(*)::int from public.reports where user_id = 'b0000000-0000-4000-8000-00000000000b')
          + (select count(*)::int from public.benchmark_runs b join public.reports r on r.id = b.report_id
              where r.user_id = 'b0000000-0000-4000-8000-00000000000b')
          + (select count(*)::int from public.benchmark_drafts where user_id = 'b0000000-0000-4000-8000-00000000000b'),
          3, 'the other account keeps everything');
select is(public.delete_account_data('a0000000-0000-4000-8000-00000000000a') -> 'payments_kept', '0'::jsonb,
          'asking again is safe');

delete from auth.users where id = 'a0000000-0000-4000-8000-00000000000a';
select is((select count(*)::int from public.checkout_sessions where stripe_session_id = 'cs_a'), 1,
          'deleting the account in Auth keeps the payment');
delete from auth.users where id = 'b0000000-0000-4000-8000-00000000000b';
select is((select user_id from public.checkout_sessions where stripe_session_id = 'cs_b'), null,
          'even when an account is deleted some other way');

select * from finish();
rollback;
