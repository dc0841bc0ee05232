//! A finished report watched for new models, against the Resend stand-in:
//! the owner turns the watch on through PostgREST; models the catalog
//! offers later are mailed once each, at most once a week, with their
//! prices, a re-run link and an unsubscribe link that works signed out.

use std::time::Duration;

use modelpick::config::RunLimits as Limits;
use modelpick::engine::new_models::send_due;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::app::TestApp;
use crate::support::engine::TestWorld;
use crate::support::fixtures;
use crate::support::supabase::ANON_KEY;

async fn rpc(world: &TestWorld, token: Option<&str>, function: &str, args: Value) -> (u16, Value) {
    let rest = match token {
        Some(token) => world.supabase.rest_as(token),
        None => world.supabase.rest(ANON_KEY),
    };
    let response = rest
        .rpc(function, args.to_string())
        .execute()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

async fn offer(world: &TestWorld, id: &str, name: &str, prompt: &str, completion: &str) {
    world
        .supabase
        .db
        .client()
        .await
        .execute(
            "insert into public.model_catalog (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, active)
             values ($1, $2, split_part($1, '/', 1), $3::text::numeric, $4::text::numeric, true)",
            &[&id, &name, &prompt, &completion],
        )
        .await
        .unwrap();
}

/// A week passes for the watch.
async fn a_week_later(world: &TestWorld) {
    world
        .supabase
        .db
        .client()
        .await
        .execute(
            "update public.report_watches set last_sent_at = last_sent_at - interval '8 days'",
            &[],
        )
        .await
        .unwrap();
}

fn watch_mails(world: &TestWorld) -> Vec<Value> {
    world
        .resend
        .sent()
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with("New models for"))
        .collect()
}

#[tokio::test]
async fn new_models_are_mailed_once_each_and_the_link_stops_them_signed_out() {
    let world = TestWorld::new(1, |_| {}).await;
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    let token = world.supabase.access_token(&email, "a long password").await;
    let owner: Uuid = world
        .supabase
        .db
        .client()
        .await
        .query_one("select id from auth.users where email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    let report = world
        .paid_report_by(owner, 1, json!({"name": "March invoices"}), 1)
        .await;
    let engine = world.start_engine(Limits::default(), Duration::from_secs(5));
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    engine.shutdown().await;
    let followups = world.followups();

    let other = world
        .supabase
        .access_token(
            &format!("{}@example.test", Uuid::new_v4().simple()),
            "another password",
        )
        .await;
    let on = json!({"p_report_id": report, "p_on": true});
    assert_eq!(
        rpc(&world, Some(&other), "set_report_watch", on.clone())
            .await
            .0,
        404
    );
    assert_eq!(
        rpc(&world, None, "set_report_watch", on.clone()).await.0,
        401
    );
    assert_eq!(
        rpc(&world, Some(&token), "set_report_watch", on).await,
        (200, json!(true))
    );

    send_due(&followups).await;
    assert_eq!(watch_mails(&world).len(), 0, "nothing new: no mail");

    offer(&world, "acme/vision-pro", "Acme: Vision Pro", "0.2", "0.8").await;
    send_due(&followups).await;
    send_due(&followups).await;
    let mails = watch_mails(&world);
    assert_eq!(mails.len(), 1, "one mail for the new model: {mails:?}");
    let text = mails[0]["text"].as_str().unwrap();
    assert_eq!(mails[0]["to"][0], email.as_str());
    assert_eq!(
        mails[0]["subject"],
        "New models for \u{201c}March invoices\u{201d}"
    );
    assert!(
        text.contains("Acme: Vision Pro ($0.20 / $0.80 per million tokens in / out)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("/report/{report}?again=acme/vision-pro")),
        "{text}"
    );
    let one_click = mails[0]["headers"]["List-Unsubscribe"].as_str().unwrap();
    assert!(
        one_click.starts_with("<http://127.0.0.1:8787/api/unsubscribe?token=")
            && one_click.ends_with('>'),
        "{one_click}"
    );
    assert_eq!(
        mails[0]["headers"]["List-Unsubscribe-Post"],
        "List-Unsubscribe=One-Click"
    );

    offer(&world, "acme/vision-max", "Acme: Vision Max", "1", "4").await;
    send_due(&followups).await;
    assert_eq!(watch_mails(&world).len(), 1, "at most one mail a week");
    a_week_later(&world).await;
    send_due(&followups).await;
    let mails = watch_mails(&world);
    assert_eq!(mails.len(), 2);
    let second = mails[1]["text"].as_str().unwrap();
    assert!(
        second.contains("Acme: Vision Max ($1.00 / $4.00"),
        "{second}"
    );
    assert!(!second.contains("Vision Pro"), "{second}");

    let unsubscribe = second
        .split_whitespace()
        .find(|w| w.contains("/unsubscribe?token="))
        .unwrap();
    let stop = unsubscribe.split("token=").nth(1).unwrap();
    let (status, stopped) = rpc(&world, None, "stop_report_watch", json!({"p_token": stop})).await;
    assert_eq!(
        (status, stopped),
        (200, json!(true)),
        "signed out, the link stops it"
    );
    offer(&world, "acme/vision-ultra", "Acme: Vision Ultra", "2", "8").await;
    a_week_later(&world).await;
    send_due(&followups).await;
    assert_eq!(
        watch_mails(&world).len(),
        2,
        "no mail after the unsubscribe"
    );
}

/// A mail client's one-click unsubscribe (RFC 8058), at the sidecar: the
/// token alone stops the watch, signed out, once; a token that cannot be
/// one is refused before any query; only POST.
#[tokio::test]
async fn a_one_click_unsubscribe_stops_the_watch_by_its_token_alone() {
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let report = fixtures::paid_report(&db).await;
    let token: String = db
        .query_one(
            "insert into public.report_watches (report_id) values ($1) returning unsubscribe_token",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    let post = |token: &str| {
        TestApp::http()
            .post(format!("{}/api/unsubscribe?token={token}", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    let answer = post(&"0".repeat(64)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"stopped": false})
    );
    let answer = post("not a token!").await.unwrap();
    assert_eq!(answer.status(), 400);
    let get = TestApp::http()
        .get(format!("{}/api/unsubscribe?token={token}", app.url))
        .send()
        .await
        .unwrap();
    assert_ne!(get.status(), 200, "a link scanner's GET stops nothing");
    let answer = post(&token).await.unwrap();
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"stopped": true})
    );
    let answer = post(&token).await.unwrap();
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"stopped": false}),
        "once"
    );
    let left: i64 = db
        .query_one("select count(*) from public.report_watches", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
