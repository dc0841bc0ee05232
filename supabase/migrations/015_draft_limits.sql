-- Limits at the door. A draft may hold only what the engine can score in
-- bounded time and memory: the scorer's work grows with the expected JSON
-- (its array matching with the square of an array's length), and every
-- byte of prompt and schema is sent, and paid for, on every call. Each
-- limit is refused with a sentence its owner understands, on every save
-- (not only when the draft is made ready), so that nothing oversized is
-- ever stored. The wizard reads the same numbers from draft_limits(), and
-- the engine reads them when it starts and holds model answers to them
-- before scoring (src/engine/limits.rs, src/engine/score/answer.rs).

create or replace function public.draft_limits() returns jsonb
language sql immutable security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'max_images', 50,
    'max_image_bytes', 10485760,
    'max_models', 10,
    'max_expected_bytes', 65536,
    'max_depth', 16,
    'max_array_items', 200,
    'max_fields', 2000,
    'max_prompt_bytes', 8192,
    'max_schema_bytes', 32768
  )
$$;

-- The shape of a JSON value, as the scorer sees it: how deep containers
-- nest (a scalar is 0, {"a": 1} is 1), the longest array, and the fields
-- (scalars and empty containers). The walk stops one level past the
-- deepest allowed, so a value nested a million deep costs no more than
-- one nested 17 deep.
create or replace function private.json_shape(p_value jsonb, out depth integer, out longest_array integer, out fields integer)
language sql immutable
set search_path = ''
as $$
  with recursive walk (v, level) as (
    select p_value, 0
    union all
    select child.v, w.level + 1
      from walk w
      cross join lateral (
        select e.value from jsonb_each(case when jsonb_typeof(w.v) = 'object' then w.v else '{}'::jsonb end) e
        union all
        select a.value from jsonb_array_elements(case when jsonb_typeof(w.v) = 'array' then w.v else '[]'::jsonb end) a
      ) as child (v)
     where w.level <= 16
  )
  select coalesce(max(level + case when v in ('{}'::jsonb, '[]'::jsonb) or jsonb_typeof(v) not in ('object', 'array')
                                   then 0 else 1 end), 0)::integer,
         coalesce(max(case when jsonb_typeof(v) = 'array' then jsonb_array_length(v) end), 0)::integer,
         (count(*) filter (where v in ('{}'::jsonb, '[]'::jsonb) or jsonb_typeof(v) not in ('object', 'array')))::integer
    from walk
$$;

-- "80 KB", "9.5 KB", "512 bytes": sizes as a person reads them.
create or replace function private.human_bytes(p_bytes bigint) returns text
language sql immutable
set search_path = ''
as $$
  select case when p_bytes < 1024 then p_bytes || ' bytes'
              when p_bytes < 1048576 then trim(to_char(p_bytes / 1024.0, 'FM999990.0')) || ' KB'
              else trim(to_char(p_bytes / 1048576.0, 'FM999990.0')) || ' MB' end
$$;

-- Refuses expected JSON the scorer could not bound; `p_what` names it in
-- the message ("the expected JSON of image 3 (invoice.png)").
create or replace function private.check_expected_json(p_expected jsonb, p_what text) returns void
language plpgsql immutable
set search_path = ''
as $$
declare
  _limits jsonb := public.draft_limits();
  _bytes integer := octet_length(p_expected::text);
  _shape record;
begin
  if _bytes > (_limits ->> 'max_expected_bytes')::integer then
    raise exception 'The % is %; the limit is %.', p_what, private.human_bytes(_bytes),
      private.human_bytes((_limits ->> 'max_expected_bytes')::integer)
      using errcode = 'check_violation';
  end if;
  _shape := private.json_shape(p_expected);
  if _shape.depth > (_limits ->> 'max_depth')::integer then
    raise exception 'The % nests more than % levels deep; the limit is %.', p_what,
      (_limits ->> 'max_depth')::integer, (_limits ->> 'max_depth')::integer
      using errcode = 'check_violation';
  end if;
  if _shape.longest_array > (_limits ->> 'max_array_items')::integer then
    raise exception 'A list in the % has % items; the limit is %.', p_what, _shape.longest_array,
      (_limits ->> 'max_array_items')::integer
      using errcode = 'check_violation';
  end if;
  if _shape.fields > (_limits ->> 'max_fields')::integer then
    raise exception 'The % has % fields; the limit is %.', p_what, _shape.fields,
      to_char((_limits ->> 'max_fields')::integer, 'FM9,999')
      using errcode = 'check_violation';
  end if;
end
$$;

-- The sizes every save must respect, whatever the draft's status.
create or replace function private.check_draft_limits(p_draft public.benchmark_drafts) returns void
language plpgsql
set search_path = ''
as $$
declare
  _limits jsonb := public.draft_limits();
  _images jsonb := p_draft.upload_data -> 'images';
  _image jsonb;
  _n integer := 0;
  _schema text;
  _bytes integer;
begin
  if jsonb_typeof(_images) = 'array' then
    if jsonb_array_length(_images) > (_limits ->> 'max_images')::integer then
      raise exception 'A benchmark holds at most % images; this one has %.',
        (_limits ->> 'max_images')::integer, jsonb_array_length(_images)
        using errcode = 'check_violation';
    end if;
    for _image in select * from jsonb_array_elements(_images) loop
      _n := _n + 1;
      if _image ? 'expected' then
        perform private.check_expected_json(_image -> 'expected', format('expected JSON of image %s (%s)', _n,
          coalesce(_image ->> 'name', regexp_replace(coalesce(_image ->> 'path', '?'), '^.*/', ''))));
      end if;
    end loop;
  end if;
  _bytes := octet_length(coalesce(p_draft.schema_data ->> 'prompt', ''));
  if _bytes > (_limits ->> 'max_prompt_bytes')::integer then
    raise exception 'The prompt is %; the limit is %.', private.human_bytes(_bytes),
      private.human_bytes((_limits ->> 'max_prompt_bytes')::integer)
      using errcode = 'check_violation';
  end if;
  foreach _schema in array array['userSchema', 'inferredSchema'] loop
    _bytes := octet_length(coalesce(p_draft.schema_data -> _schema, 'null'::jsonb)::text);
    if _bytes > (_limits ->> 'max_schema_bytes')::integer then
      raise exception 'The JSON schema is %; the limit is %.', private.human_bytes(_bytes),
        private.human_bytes((_limits ->> 'max_schema_bytes')::integer)
        using errcode = 'check_violation';
    end if;
  end loop;
  if cardinality(p_draft.selected_models) > (_limits ->> 'max_models')::integer then
    raise exception 'A benchmark compares at most % models; this one has %.',
      (_limits ->> 'max_models')::integer, cardinality(p_draft.selected_models)
      using errcode = 'check_violation';
  end if;
end
$$;

-- SECURITY DEFINER: the helpers it calls live in `private`, which the API
-- roles cannot reach; it reads nothing but the row and the catalog.
create or replace function private.check_ready_draft() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  _images jsonb := new.upload_data -> 'images';
  _image jsonb;
  _unknown text;
begin
  perform private.check_draft_limits(new);
  if new.status <> 'ready' then
    return new;
  end if;
  if jsonb_typeof(_images) is distinct from 'array' or jsonb_array_length(_images) = 0 then
    raise exception 'A ready draft needs at least one image.'
      using errcode = 'check_violation', hint = 'upload_data.images is empty';
  end if;
  for _image in select * from jsonb_array_elements(_images) loop
    if jsonb_typeof(_image -> 'path') is distinct from 'string'
       or (storage.foldername(_image ->> 'path'))[1] is distinct from new.user_id::text
       or position('..' in _image ->> 'path') > 0 then
      raise exception 'Every image must be stored under the owner''s own folder.'
        using errcode = 'check_violation', detail = coalesce(_image ->> 'path', 'missing path');
    end if;
    if jsonb_typeof(_image -> 'expected') is distinct from 'object' then
      raise exception 'Every image needs the JSON object expected from it.'
        using errcode = 'check_violation', detail = _image ->> 'path';
    end if;
  end loop;
  if cardinality(new.selected_models) = 0 then
    raise exception 'A ready draft needs at least one model.' using errcode = 'check_violation';
  end if;
  if cardinality(new.selected_models) <> (select count(distinct m) from unnest(new.selected_models) m) then
    raise exception 'A model is selected twice.' using errcode = 'check_violation';
  end if;
  select m into _unknown
    from unnest(new.selected_models) m
   where not exists (select 1 from public.model_catalog c where c.id = m and c.active)
   limit 1;
  if _unknown is not null then
    raise exception 'Unknown model: %', _unknown using errcode = 'check_violation';
  end if;
  if coalesce(btrim(new.schema_data ->> 'prompt'), '') = '' then
    raise exception 'A ready draft needs an extraction prompt.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;

-- The columns themselves are bounded too, so that no write (a service-role
-- one included) stores more than the checks above could ever allow.
alter table public.benchmark_drafts
  add constraint benchmark_drafts_upload_data_size check (octet_length(upload_data::text) <= 4 * 1024 * 1024),
  add constraint benchmark_drafts_schema_data_size check (octet_length(schema_data::text) <= 128 * 1024),
  add constraint benchmark_drafts_config_data_size check (octet_length(config_data::text) <= 16 * 1024),
  add constraint benchmark_drafts_selected_models_count check (cardinality(selected_models) <= 10);

-- A draft's whole upload is measured before any image is walked: the walk
-- must never be the expensive part.
create or replace function private.check_draft_size() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if octet_length(new.upload_data::text) > 4 * 1024 * 1024 then
    raise exception 'The images'' expected JSON together is %; the limit is 4 MB.',
      private.human_bytes(octet_length(new.upload_data::text))
      using errcode = 'check_violation';
  end if;
  if octet_length(new.schema_data::text) > 128 * 1024 or octet_length(new.config_data::text) > 16 * 1024 then
    raise exception 'The draft''s settings are too large.' using errcode = 'check_violation';
  end if;
  return new;
end
$$;

-- Triggers fire in name order: the size check first.
create trigger benchmark_drafts_a_size before insert or update on public.benchmark_drafts
  for each row execute function private.check_draft_size();

-- Storage: the bucket's own limits, stated again so that an older project
-- whose bucket was created before them gets them too.
update storage.buckets
   set file_size_limit = 10485760,
       allowed_mime_types = array['image/png', 'image/jpeg', 'image/webp', 'image/gif']
 where id = 'benchmark-images';

revoke all on function public.draft_limits() from public, anon, authenticated, service_role;
grant execute on function public.draft_limits() to anon, authenticated, service_role;
