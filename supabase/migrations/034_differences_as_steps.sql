-- Differences as the engine stores them now (src/figures/diff.rs): `path`
-- as steps, `where` in words, `field` with rows folded, and `costs_field`
-- (whether the difference makes an expected field wrong: not what the
-- model added, not a note). Those recorded before were missing some: the
-- oldest had a path in the scoring policy's notation (`items[1].price`, an
-- extra row `items[+2]`, the answer itself ``) and none of the rest. Each
-- is completed here, so nothing reads the old notation any more and the
-- report page only shows what is stored. Data only: the helpers live in
-- pg_temp and go with the session.

CREATE FUNCTION pg_temp.path_steps(p_notation text) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  AS $function$
declare
  v_steps jsonb := '[]'::jsonb;
  v_part text;
  v_key text;
  v_row text;
begin
  foreach v_part in array string_to_array(coalesce(p_notation, ''), '.') loop
    continue when v_part = '';
    v_key := split_part(v_part, '[', 1);
    if v_key <> '' then
      v_steps := v_steps || jsonb_build_array(v_key);
    end if;
    for v_row in select m[1] from regexp_matches(v_part, '\[(\+?[0-9]+)\]', 'g') as m loop
      v_steps := v_steps || case
        when left(v_row, 1) = '+' then jsonb_build_array(jsonb_build_object('extra', substr(v_row, 2)::integer))
        else jsonb_build_array(v_row::integer)
      end;
    end loop;
  end loop;
  return v_steps;
end
$function$;

CREATE FUNCTION pg_temp.path_words(p_steps jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $function$
  select coalesce(string_agg(case jsonb_typeof(s)
                               when 'string' then s #>> '{}'
                               when 'number' then 'row ' || ((s #>> '{}')::integer + 1)
                               else 'extra row ' || ((s ->> 'extra')::integer + 1)
                             end, ' › ' order by n),
                  'the answer')
    from jsonb_array_elements(p_steps) with ordinality as e(s, n)
$function$;

CREATE FUNCTION pg_temp.path_field(p_steps jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  AS $function$
  select coalesce(jsonb_agg(case when jsonb_typeof(s) = 'string' then s else 'null'::jsonb end order by n),
                  '[]'::jsonb)
    from jsonb_array_elements(p_steps) with ordinality as e(s, n)
$function$;

CREATE FUNCTION pg_temp.difference_as_steps(p_diff jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE
  AS $function$
  select d || jsonb_build_object('costs_field', coalesce((d -> 'costs_field'), to_jsonb(d ->> 'kind' not in ('extra', 'note'))))
    from (select case
                   when jsonb_typeof(p_diff -> 'path') is distinct from 'array' then
                     (select p_diff || jsonb_build_object('path', steps, 'where', pg_temp.path_words(steps),
                                                          'field', pg_temp.path_field(steps))
                        from (select pg_temp.path_steps(p_diff ->> 'path') as steps) s)
                   else p_diff
                 end as d) completed
$function$;

UPDATE public.benchmark_runs b
   SET field_diffs = (select jsonb_agg(pg_temp.difference_as_steps(d) order by n)
                        from jsonb_array_elements(b.field_diffs) with ordinality as e(d, n))
 WHERE jsonb_typeof(b.field_diffs) = 'array'
   AND EXISTS (select 1 from jsonb_array_elements(b.field_diffs) d
                where jsonb_typeof(d -> 'path') is distinct from 'array' or not d ? 'costs_field');
