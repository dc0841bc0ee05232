-- followup finished at (generated from supabase/schemas by scripts/db-diff; edit
-- the schema files, not this).

SET local check_function_bodies = off;

DROP FUNCTION "public"."claim_followups"(text, integer, integer);

CREATE OR REPLACE FUNCTION public.claim_followups (
  p_worker        text,
  p_limit         integer DEFAULT 50,
  p_lease_seconds integer DEFAULT 120
)
  RETURNS TABLE (
    id                bigint,
    lease_token       uuid,
    subject           text,
    kind              text,
    attempts          integer,
    report_id         uuid,
    stripe_session_id text,
    status            text,
    status_reason     text,
    email             text,
    refund_state      text,
    finished_at       timestamp with time zone
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception 'worker name must not be empty' using errcode = 'PT400';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception 'lease must be between 1 and 3600 seconds' using errcode = 'PT400';
  end if;
  return query
  with claimed as (
    update private.followups f
       set lease_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => p_lease_seconds),
           attempts = f.attempts + 1
     where f.id in (
       select c.id from private.followups c
        where c.done_at is null and c.next_attempt_at <= now()
          and (c.lease_expires_at is null or c.lease_expires_at < now())
        order by c.next_attempt_at, c.created_at
        limit greatest(least(p_limit, 1000), 0)
        for update skip locked)
    returning f.*
  )
  select f.id, f.lease_token,
         case when f.report_id is not null then 'report' else 'session' end,
         f.kind, f.attempts,
         coalesce(r.id, (select dr.id from public.reports dr where dr.draft_id = s.draft_id
                          order by dr.created_at limit 1)),
         coalesce(r.stripe_session_id, s.stripe_session_id),
         coalesce(r.status, s.status),
         coalesce(r.status_reason, s.detail),
         u.email::text,
         case
           when coalesce(r.refund_id, s.refund_id) is not null then 'refunded'
           when refund.id is null then 'none'
           when refund.alerted_at is not null then 'failing'
           else 'pending'
         end,
         r.finished_at
    from claimed f
    left join public.reports r on r.id = f.report_id
    left join public.checkout_sessions s on s.stripe_session_id = f.stripe_session_id
    left join auth.users u on u.id = coalesce(r.user_id, s.user_id)
    left join private.followups refund
      on refund.kind = 'refund'
     and (refund.report_id = f.report_id or refund.stripe_session_id = f.stripe_session_id)
   order by f.next_attempt_at, f.created_at;
end
$function$;


COMMENT ON FUNCTION "public"."claim_followups"(text, integer, integer) IS 'Claims up to `p_limit` follow-ups whose time has come, the longest-waiting first, for `p_lease_seconds`; concurrent callers never get the same one. Each comes with what doing it needs (the report it is about, whom to mail, where the refund stands, when the report finished) and the lease token that fences its completion or failure.';

REVOKE ALL ON FUNCTION "public"."claim_followups"(text, integer, integer) FROM PUBLIC, "anon", "authenticated", "service_role";



GRANT EXECUTE ON FUNCTION "public"."claim_followups"(text, integer, integer) TO "service_role";
