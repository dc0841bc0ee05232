//! The rule for a storage name is the database's (the storage policies and
//! check_ready_draft apply `private.storage_name_is_safe`) and the one the
//! engine and the sidecar read by (`storage::name_is_safe`), and the two
//! agree on every name an attacker would try.

use modelpick::storage::name_is_safe as storage_name_is_safe;

use crate::support::db::TestDb;

#[tokio::test]
async fn the_engine_and_the_database_hold_one_rule_for_storage_names() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let uid = "a0000000-0000-4000-8000-00000000000a";
    let long = "x".repeat(128);
    let too_long = "x".repeat(129);
    let deep = ["a"; 8].join("/");
    let too_deep = ["a"; 9].join("/");
    let names: Vec<String> = [
        "d1/3f2a.png",
        "invoice_1-final.v2.jpeg",
        "./a.png",
        "../b/a.png",
        "/a.png",
        "a.png/",
        ".hidden.png",
        "%2e/a.png",
        "%2E%2E/a.png",
        "a\\b.png",
        "a b.png",
        "a\n.png",
        "a\t.png",
        "a\u{0}.png",
        "é.png",
        "a?.png",
        "a#.png",
        "a;.png",
        "..",
        ".",
        "",
        "a//b.png",
        &long,
        &too_long,
    ]
    .iter()
    .map(|rest| format!("{uid}/{rest}"))
    .chain([deep, too_deep, "a.png".to_owned(), "a".repeat(600)])
    .collect();
    for name in names {
        let database: bool = client
            .query_one(
                "select private.storage_name_is_safe($1)",
                &[&name.replace('\0', "")],
            )
            .await
            .unwrap()
            .get(0);
        let engine = storage_name_is_safe(&name.replace('\0', ""));
        assert_eq!(
            engine, database,
            "{name:?}: engine {engine}, database {database}"
        );
    }
}
