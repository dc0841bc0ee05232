//! A report that asks each call three times: the engine makes every
//! repeat as a call of its own (reserved, charged and recorded once each),
//! and the figures say how alike each model's answers were.

use std::time::Duration;

use modelpick::config::RunLimits as Limits;
use serde_json::json;

use crate::support::engine::TestWorld;

#[tokio::test]
async fn each_call_is_made_as_many_times_as_asked_and_the_figures_compare_the_answers() {
    let world = TestWorld::new(2, |config| config.default_variation_rate = 1.0).await;
    let report = world.paid_report_with(2, json!({"repeats": 3})).await;
    let engine = world.start_engine(Limits::default(), Duration::from_secs(5));
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    engine.shutdown().await;

    assert_eq!(
        world.provider.calls().len(),
        2 * 2 * 3,
        "two models, two documents, three times each"
    );
    let db = world.supabase.db.client().await;
    let row = db
        .query_one(
            "select r.runs_planned, r.runs_done, r.status, r.figures,
                    r.cost_spent = (select sum(b.cost) from public.benchmark_runs b where b.report_id = r.id) as charged_each,
                    (select array_agg(distinct b.repeat order by b.repeat) from public.benchmark_runs b
                      where b.report_id = r.id) as repeats
               from public.reports r where r.id = $1",
            &[&report],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>("runs_planned"), 12);
    assert_eq!(row.get::<_, i32>("runs_done"), 12);
    assert_eq!(row.get::<_, String>("status"), "complete");
    assert!(
        row.get::<_, bool>("charged_each"),
        "every repeat is charged"
    );
    assert_eq!(row.get::<_, Vec<i32>>("repeats"), [0, 1, 2]);
    let figures: serde_json::Value = row.get("figures");
    for model in figures["models"].as_array().unwrap() {
        let repeats = &model["repeats"];
        assert_eq!(repeats["k"], 3, "{model}");
        assert!(
            repeats["agreement"].as_f64().unwrap() < 1.0,
            "every later answer varies: {repeats}"
        );
        assert!(
            !model["unstable_fields"].as_array().unwrap().is_empty(),
            "{model}"
        );
    }
    assert!(
        figures
            .to_string()
            .contains("its lead rests on answers that change"),
        "the verdict says the leader's answers change: {}",
        figures["verdict"]
    );
}
