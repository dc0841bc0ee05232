-- 026: the same file is the same document in two reports (by a key that
-- does not show its path), and link holders get a report's image paths to
-- sign only while its owner shares them, under the link of the day.
begin;
\ir _helpers.psql
select plan(13);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test'),
  ('b0000000-0000-4000-8000-00000000000b', 'other@example.test');
insert into pg_temp.personas (name, role, claims) values
  ('owner', 'authenticated', '{"sub": "a0000000-0000-4000-8000-00000000000a", "role": "authenticated"}'),
  ('other', 'authenticated', '{"sub": "b0000000-0000-4000-8000-00000000000b", "role": "authenticated"}');

insert into public.benchmark_drafts (id, user_id, status, config_data, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a', 'ready', '{"name": "Invoices"}',
        '{"images": [{"path": "a0000000-0000-4000-8000-00000000000a/d1/a.png", "name": "a.png", "expected": {"total": 1}}]}',
        '{"prompt": "Extract."}', array['openai/gpt-4o']);
select public.fulfill_checkout('cs_first', 'd0000000-0000-4000-8000-0000000000d1', 'a0000000-0000-4000-8000-00000000000a');
update public.reports set id = 'e0000000-0000-4000-8000-0000000000e1', share_token = 'token-one', status = 'complete';

select pg_temp.act_as('owner');
create temporary table rerun as select public.draft_from_report('e0000000-0000-4000-8000-0000000000e1') as id;
reset role;
update public.benchmark_drafts set selected_models = array['openai/gpt-4o-mini'], status = 'ready'
 where id = (select id from rerun);
create temporary table again as
  select report_id as id from public.fulfill_checkout('cs_again', (select id from rerun), 'a0000000-0000-4000-8000-00000000000a');
grant select on again to authenticated;

select pg_temp.act_as('owner');
select is(
  public.read_report('e0000000-0000-4000-8000-0000000000e1') #>> '{documents,0,key}',
  public.read_report((select id from again)) #>> '{documents,0,key}',
  'the same file is the same document in both reports'
);
select is(
  public.read_report('e0000000-0000-4000-8000-0000000000e1') #>> '{documents,0,key}',
  encode(sha256(convert_to('a0000000-0000-4000-8000-00000000000a/d1/a.png', 'UTF8')), 'hex'),
  'its key is the SHA-256 of its path'
);
select ok(
  strpos(public.read_report('e0000000-0000-4000-8000-0000000000e1', 'token-one')::text, 'a0000000-0000-4000-8000-00000000000a') = 0,
  'a link holder learns no path and no owner'
);
select ok(public.read_report('e0000000-0000-4000-8000-0000000000e1') ? 'paid_at', 'the report says when it was paid');
select is(public.read_report('e0000000-0000-4000-8000-0000000000e1') -> 'share_images', 'false'::jsonb,
          'images are not shared by default');
reset role;

select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', 'token-one'), null,
          'a link holder gets no image while the owner has not shared them');

select pg_temp.act_as('other');
select throws_ok($$select public.set_report_image_sharing('e0000000-0000-4000-8000-0000000000e1', true)$$,
                 'PT404', 'no report e0000000-0000-4000-8000-0000000000e1 among yours',
                 'no one else can share the owner''s images');
reset role;
select pg_temp.act_as('owner');
select ok(public.set_report_image_sharing('e0000000-0000-4000-8000-0000000000e1', true), 'the owner shares them');
reset role;

select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', 'token-one'),
          array['a0000000-0000-4000-8000-00000000000a/d1/a.png'],
          'with the link, that report''s paths are given to sign');
select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', 'token-two'), null,
          'a wrong token gets nothing');

select pg_temp.act_as('owner');
create temporary table rotated as select public.rotate_report_share_token('e0000000-0000-4000-8000-0000000000e1') as token;
reset role;
select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', 'token-one'), null,
          'the old link gets nothing once the link is rotated');
select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', (select token from rotated)),
          array['a0000000-0000-4000-8000-00000000000a/d1/a.png'],
          'the new link keeps the setting');

select pg_temp.act_as('owner');
select public.revoke_report_share_token('e0000000-0000-4000-8000-0000000000e1');
reset role;
select is(public.shared_report_images('e0000000-0000-4000-8000-0000000000e1', (select token from rotated)), null,
          'a revoked link gets nothing');

select * from finish();
rollback;
