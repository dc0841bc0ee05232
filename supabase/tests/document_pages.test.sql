-- A document is pages: a PDF rendered in the browser, or images added as
-- pages. Limits per document and per benchmark are the database's; every
-- page is under its owner's folder; the estimate and each reservation
-- count every page (its image tokens and its image price); the report
-- keeps every page for its owner, and says where each document's are.
-- A document saved before pages existed is its own one page.
begin;
select plan(14);

insert into auth.users (id, email) values ('a0000000-0000-4000-8000-00000000000a', 'owner@example.test');
insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, max_image_tokens)
values ('test/paged', 'Paged', 'Test', 1, 1, 0.01, 1000);

create function pg_temp.page(p_doc text, p_n integer) returns jsonb
language sql
as $$
  select jsonb_build_object('path', 'a0000000-0000-4000-8000-00000000000a/' || p_doc || '-' || p_n || '.png',
                            'width', 1000, 'height', 1000)
$$;
create function pg_temp.document(p_doc text, p_pages integer) returns jsonb
language sql
as $$
  select jsonb_build_object(
    'path', 'a0000000-0000-4000-8000-00000000000a/' || p_doc || '-1.png', 'name', p_doc || '.pdf',
    'pages', (select jsonb_agg(pg_temp.page(p_doc, n) order by n) from generate_series(1, p_pages) n),
    'expected', '{"total": 1}'::jsonb)
$$;
create function pg_temp.save(p_documents jsonb, p_status text default 'draft') returns void
language sql
as $$
  insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
  values ('a0000000-0000-4000-8000-00000000000a', p_status, jsonb_build_object('images', p_documents),
          '{"prompt": "Extract."}', array['test/paged'])
$$;

select is(private.document_pages('{"path": "u/a.png", "width": 10, "height": 20, "expected": {}}'),
          '[{"path": "u/a.png", "width": 10, "height": 20}]'::jsonb,
          'a document saved before pages existed is its own one page');
select lives_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 20)))$$,
                'a document of 20 pages');
select throws_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 21)))$$,
                 '23514', 'A document holds at most 20 pages; image 1 (invoice.pdf) has 21.',
                 'a document of 21 pages is refused, with its name');
select throws_ok($$select pg_temp.save((select jsonb_agg(pg_temp.document('d' || n, 20)) from generate_series(1, 11) n))$$,
                 '23514', 'A benchmark holds at most 200 pages in all; this one has 220.',
                 'more than 200 pages in all is refused');
select throws_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 2)
                     || jsonb_build_object('pages', jsonb_build_array(pg_temp.page('invoice', 1),
                                                                     pg_temp.page('invoice', 2) || '{"width": 0}'))))$$,
                 '23514', 'The width and height of page 2 of image 1 (invoice.pdf) must be whole numbers of pixels from 1 to 20,000.',
                 'each page''s size is checked, naming the page');
select throws_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 1) || '{"pages": []}'))$$,
                 '23514', 'The pages of image 1 (invoice.pdf) are a list of at least one page.',
                 'a document of no pages is refused');
select throws_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 2)
                     || jsonb_build_object('pages', jsonb_build_array(pg_temp.page('invoice', 1),
                          '{"path": "b0000000-0000-4000-8000-00000000000b/theirs.png"}'::jsonb))), 'ready')$$,
                 '23514', 'Every image must be stored under the owner''s own folder.',
                 'a page in someone else''s folder is refused when the draft is made ready');
select throws_ok($$select pg_temp.save(jsonb_build_array(pg_temp.document('invoice', 2)
                     || '{"path": "a0000000-0000-4000-8000-00000000000a/other.png"}'), 'ready')$$,
                 '23514', 'A document''s path is its first page''s.',
                 'a document''s own path is its first page');

-- The estimate counts every page: 3 pages of 1,000 x 1,000 px at the
-- model's 1,000 tokens each and $0.01 each.
insert into public.benchmark_drafts (id, user_id, status, upload_data, schema_data, selected_models)
values ('d0000000-0000-4000-8000-0000000000e1', 'a0000000-0000-4000-8000-00000000000a', 'ready',
        jsonb_build_object('images', jsonb_build_array(pg_temp.document('invoice', 3),
          jsonb_build_object('path', 'a0000000-0000-4000-8000-00000000000a/receipt.png', 'width', 1000, 'height', 1000,
                             'expected', '{"total": 2}'::jsonb))),
        '{"prompt": "Extract."}', array['test/paged']);
select set_config('request.jwt.claims', '{"role": "service_role"}', true);
select is((public.estimate_draft_cost('d0000000-0000-4000-8000-0000000000e1') ->> 'worst_case_usd')::numeric,
          private.call_worst_case((select to_jsonb(c) from public.model_catalog c where c.id = 'test/paged'),
                                  private.text_token_bound('Extract.', null), 3000, 1024, 3)
          + private.call_worst_case((select to_jsonb(c) from public.model_catalog c where c.id = 'test/paged'),
                                  private.text_token_bound('Extract.', null), 1000, 1024, 1),
          'the estimate counts each page''s image tokens and image price');
select ok(private.call_worst_case('{"prompt_usd_per_mtok": 0, "completion_usd_per_mtok": 0, "image_usd": 0.01}', 0, 0, 0, 3) = 0.03,
          'the image price is per page');
select set_config('request.jwt.claims', '', true);

select public.fulfill_checkout('cs_pages', 'd0000000-0000-4000-8000-0000000000e1', 'a0000000-0000-4000-8000-00000000000a');
select is((select image_paths from public.reports where stripe_session_id = 'cs_pages'),
          array['a0000000-0000-4000-8000-00000000000a/invoice-1.png', 'a0000000-0000-4000-8000-00000000000a/invoice-2.png',
                'a0000000-0000-4000-8000-00000000000a/invoice-3.png', 'a0000000-0000-4000-8000-00000000000a/receipt.png'],
          'the report keeps every page, in document and page order');
select is((select runs_planned from public.reports where stripe_session_id = 'cs_pages'), 2,
          'one call per document and model, whatever its pages');
select set_config('request.jwt.claims', '{"role": "authenticated", "sub": "a0000000-0000-4000-8000-00000000000a"}', true);
select is((select jsonb_agg(jsonb_build_object('pages', d -> 'pages', 'first_page', d -> 'first_page'))
             from jsonb_array_elements(public.read_report((select id from public.reports where stripe_session_id = 'cs_pages')) -> 'documents') d),
          '[{"pages": 3, "first_page": 0}, {"pages": 1, "first_page": 3}]'::jsonb,
          'the report says how many pages each document has and where they start');
select set_config('request.jwt.claims', '', true);

-- A reservation counts the pages the report was paid for, whatever the
-- engine says.
create temporary table claim as select * from public.claim_next_report('w', 60);
select is(public.reserve_run((select id from claim), (select lease_token from claim), 'test/paged', 0, 3000000),
          private.call_worst_case((select config_snapshot -> 'model_prices' -> 'test/paged' from public.reports where stripe_session_id = 'cs_pages'),
                                  private.text_token_bound('Extract.', null), 3000, 1024, 3),
          'the first document''s call reserves its three pages');

select * from finish();
rollback;
