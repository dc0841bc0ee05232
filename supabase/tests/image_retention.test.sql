-- Retention: a finished report's images are let go of a set number of days
-- after it finished; the report stays readable, its link stops showing
-- them, and a file another report or an unpaid re-run draft still uses
-- stays for it.
begin;
select plan(9);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
select d, 'a0000000-0000-4000-8000-00000000000a', 'ready',
       jsonb_build_object('images', jsonb_build_array(
         jsonb_build_object('path', 'a0000000-0000-4000-8000-00000000000a/' || n || '.png', 'expected', '{}'::jsonb),
         jsonb_build_object('path', 'a0000000-0000-4000-8000-00000000000a/shared.png', 'expected', '{}'::jsonb))),
       '{"prompt": "x"}', array['openai/gpt-4o']
  from (values ('d0000000-0000-4000-8000-000000000001'::uuid, 'old'), ('d0000000-0000-4000-8000-000000000002'::uuid, 'new'))
       v(d, n);
select public.fulfill_checkout('cs_old', 'd0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-00000000000a');
select public.fulfill_checkout('cs_new', 'd0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-00000000000a');
select public.finish_report(r.id, r.lease_token, 'complete') from public.claim_next_report('w', 60) r;
select public.finish_report(r.id, r.lease_token, 'complete') from public.claim_next_report('w', 60) r;
update public.reports set finished_at = now() - interval '31 days', share_images = true where stripe_session_id = 'cs_old';
update public.reports set finished_at = now() - interval '29 days' where stripe_session_id = 'cs_new';

select is(public.expire_report_images(40), 0, 'nothing is older than 40 days');
select is(public.expire_report_images(30), 1, 'the report finished 31 days ago lets go of its images');
select is(public.image_deletions_due(), array['a0000000-0000-4000-8000-00000000000a/old.png'],
          'the file only it kept waits to be deleted');
select is((select (images_deleted_at = now(), share_images, status, figures is not distinct from figures)::text
             from public.reports where stripe_session_id = 'cs_old'),
          '(t,f,complete,t)', 'it stays readable, and its link stops showing images');
select is(public.expire_report_images(30), 0, 'a report expires once');

-- A re-run draft of the newer report's documents keeps them.
insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
values ('a0000000-0000-4000-8000-00000000000a', 'draft',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/new.png", "expected": {}}]}', '{}', '{}');
update public.reports set finished_at = now() - interval '31 days' where stripe_session_id = 'cs_new';
select public.expire_report_images(30);
select is(public.image_deletions_due(),
          array['a0000000-0000-4000-8000-00000000000a/old.png', 'a0000000-0000-4000-8000-00000000000a/shared.png'],
          'the last report using a file lets go of it; an unpaid draft''s file stays');
select is(public.image_deletions_done(array['a0000000-0000-4000-8000-00000000000a/old.png', 'nothing']), 1,
          'a file deleted from Storage waits no more');
select throws_ok($$select public.expire_report_images(0)$$, 'PT400',
                 'images are kept 1 to 3650 days, and expired at most 1000 reports at a time', 'a day at least');
select throws_ok($$select public.expire_report_images(30, 100000)$$, 'PT400', null, 'and a bounded batch');

select * from finish();
rollback;
