//! SQL as `anon`, on a database built with Supabase's "default privileges
//! for new entities" on (so every function a migration made is granted to
//! every API role unless that migration revoked it): anon may call the
//! shared report's three readers and the unsubscribe link of a new-model
//! email, nothing else in `public`, and nothing at all in `private`.

use crate::support::db::{Grants, TestDb};

/// Calls every function of `schema` as `role` with null arguments; the
/// functions whose call was refused for want of privilege, and the rest.
async fn call_each(db: &TestDb, schema: &str, role: &str) -> (Vec<String>, Vec<String>) {
    let client = db.client().await;
    let functions = client
        .query(
            "select p.oid::regprocedure::text,
                    format('select %I.%I(%s)', n.nspname, p.proname,
                           (select string_agg(format('null::%s', t::regtype), ', ' order by i)
                              from unnest(p.proargtypes) with ordinality as a (t, i)))
               from pg_proc p join pg_namespace n on n.oid = p.pronamespace
              where n.nspname = $1 and p.prokind = 'f' and p.prorettype <> 'trigger'::regtype
              order by 1",
            &[&schema],
        )
        .await
        .unwrap();
    let (mut refused, mut ran) = (Vec::new(), Vec::new());
    for row in functions {
        let (name, call): (String, String) = (row.get(0), row.get(1));
        let attempt = format!(
            "begin; set local role {role}; \
             select set_config('request.jwt.claims', '{{\"role\": \"{role}\"}}', true); {call}; rollback;"
        );
        match client.batch_execute(&attempt).await {
            Err(e) if e.code().map(|c| c.code()) == Some("42501") => refused.push(name),
            _ => ran.push(name),
        }
        let _ = client.batch_execute("rollback").await;
    }
    (refused, ran)
}

#[tokio::test]
async fn anon_calls_only_the_shared_reports_readers_whatever_the_projects_setting() {
    for grants in [Grants::DefaultPrivileges, Grants::Today] {
        let db = TestDb::with(grants).await;
        let (refused, ran) = call_each(&db, "public", "anon").await;
        assert_eq!(
            ran,
            [
                "read_report(uuid,text)",
                "read_report_runs(uuid,text)",
                "read_report_scoring(uuid,integer,text)",
                "stop_report_watch(text)",
            ],
            "{grants:?}: anon ran these"
        );
        assert!(
            refused.iter().any(|f| f.starts_with("claim_next_report")),
            "{refused:?}"
        );
        let (_, ran_private) = call_each(&db, "private", "anon").await;
        assert_eq!(
            ran_private,
            Vec::<String>::new(),
            "{grants:?}: anon ran private functions"
        );
        let (_, ran_private) = call_each(&db, "private", "authenticated").await;
        assert_eq!(
            ran_private,
            Vec::<String>::new(),
            "{grants:?}: a user ran private functions by name"
        );
    }
}
