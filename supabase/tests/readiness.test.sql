-- What /ready reads: each engine's last sweep, and the catalog's syncs.
begin;
select plan(4);

select is(public.readiness() -> 'engine_swept_at', 'null'::jsonb, 'no engine has swept yet');
insert into private.engine_sweeps (worker, swept_at) values ('gone', now() - interval '2 days');
select public.record_engine_sweep('engine-1');
select is((public.readiness() ->> 'engine_swept_at')::timestamptz, now(), 'the last sweep of any engine');
select is((select array_agg(worker) from private.engine_sweeps), array['engine-1'],
          'an engine silent for a day is forgotten');
insert into private.catalog_syncs (ok, error, at) values (false, 'OpenRouter answered 503', now() - interval '1 hour');
select is(public.readiness() - 'now' - 'engine_swept_at',
          jsonb_build_object('catalog_synced_at', null, 'catalog_failed_at', now() - interval '1 hour',
                             'catalog_offers_models', exists (select 1 from public.model_catalog where active)),
          'the catalog''s last syncs, and whether it offers anything');

select * from finish();
rollback;
