-- A private bucket for the images a user benchmarks. Each user reads and
-- writes only under their own folder, `<user id>/…`; the engine reads with the
-- service-role key, which bypasses these policies. An image a paid report has
-- yet to run cannot be replaced or deleted under it.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
  'benchmark-images',
  'benchmark-images',
  false,
  10485760,
  array['image/png', 'image/jpeg', 'image/webp', 'image/gif']
)
on conflict (id) do nothing;

create policy "Owners read their benchmark images"
  on storage.objects for select
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
  );

create policy "Owners upload into their own folder"
  on storage.objects for insert
  to authenticated
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
  );

create policy "Owners replace their benchmark images"
  on storage.objects for update
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
    and not exists (
      select 1 from public.reports r
       where r.status in ('paid', 'running') and objects.name = any (r.image_paths)
    )
  )
  with check (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
  );

create policy "Owners delete their benchmark images"
  on storage.objects for delete
  to authenticated
  using (
    bucket_id = 'benchmark-images'
    and (storage.foldername(name))[1] = auth.uid()::text
    and not exists (
      select 1 from public.reports r
       where r.status in ('paid', 'running') and objects.name = any (r.image_paths)
    )
  );
