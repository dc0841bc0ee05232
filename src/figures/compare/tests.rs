use super::*;
use serde_json::json;

fn doc(key: &str, total: i64) -> Document {
    Document {
        key: key.into(),
        name: format!("{key}.png"),
        expected: json!({"total": total, "vendor": "Acme", "date": "2026-01-02", "number": key}),
    }
}

fn run(model: &str, index: usize, matched: u32, cost: &str) -> RunRow {
    RunRow {
        repeat: 0,
        model_id: model.into(),
        image_index: index,
        passed: matched == 4,
        fields_total: 4,
        fields_matched: matched,
        cost_usd: cost.parse().unwrap(),
        latency_ms: 900,
        error: None,
        unavailable: false,
        diffs: Vec::new(),
    }
}

fn model(id: &str, name: &str) -> SideModel {
    SideModel {
        id: id.into(),
        display_name: name.into(),
        price: None,
    }
}

fn side(
    id: &str,
    day: u32,
    documents: Vec<Document>,
    models: Vec<SideModel>,
    runs: Vec<RunRow>,
) -> Side {
    Side {
        id: id.into(),
        name: format!("report {id}"),
        paid_at: format!("2026-{day:02}-01T00:00:00Z").parse().unwrap(),
        documents,
        models,
        runs,
        pick: None,
    }
}

/// March: GPT-4o on 12 documents, right on 3 fields of 4 everywhere.
/// April: the same 12 and one more; Gemini right everywhere at a fifth
/// of the cost.
fn march_and_april() -> (Side, Side) {
    let docs: Vec<Document> = (0..12).map(|i| doc(&format!("k{i}"), i)).collect();
    let mut april_docs = docs.clone();
    april_docs.push(doc("k-extra", 99));
    let mut march = side(
        "a",
        3,
        docs,
        vec![model("openai/gpt-4o", "GPT-4o")],
        (0..12)
            .map(|i| run("openai/gpt-4o", i, 3, "0.005"))
            .collect(),
    );
    march.pick = Some("openai/gpt-4o".into());
    let april = side(
        "b",
        4,
        april_docs,
        vec![model("google/gemini-2.5-flash", "Gemini 2.5 Flash")],
        (0..13)
            .map(|i| run("google/gemini-2.5-flash", i, 4, "0.001"))
            .collect(),
    );
    (march, april)
}

#[test]
fn a_new_model_that_beats_the_earlier_pick_is_said_with_its_lead_and_cost() {
    let (march, april) = march_and_april();
    // The order of the arguments does not matter: March is earlier.
    let result = compare(april, march, &HashMap::new());
    assert_eq!(result.earlier.id, "a");
    assert_eq!(result.documents, 12);
    assert_eq!(result.only_later, ["k-extra.png"]);
    assert_eq!(
        result.verdict,
        "Gemini 2.5 Flash (new) beats your earlier pick GPT-4o by 25.0 points of field accuracy on the same 12 documents, at a fifth of the cost."
    );
    assert_eq!(result.models[0].label, "Gemini 2.5 Flash (new)");
    assert!(result.models[0].new);
    assert_eq!(
        result.models[0].figures.documents, 12,
        "the extra document is not counted"
    );
    assert!(result.comparison.unwrap().separable);
}

#[test]
fn a_lead_the_documents_cannot_confirm_is_said_as_such() {
    let (mut march, mut april) = march_and_april();
    march.runs = (0..12)
        .map(|i| run("openai/gpt-4o", i, 4 - u32::from(i == 0), "0.005"))
        .collect();
    april.runs = (0..12)
        .map(|i| run("google/gemini-2.5-flash", i, 4, "0.005"))
        .collect();
    let result = compare(march, april, &HashMap::new());
    assert!(
        result.verdict.starts_with("Gemini 2.5 Flash (new) leads your earlier pick GPT-4o by 2.1 points of field accuracy on the same 12 documents, at about the same cost, a lead these documents cannot confirm (the difference could be anywhere from"),
        "{}",
        result.verdict
    );
}

#[test]
fn a_tie_is_said_as_a_tie_whichever_ranks_first() {
    let (mut march, mut april) = march_and_april();
    march.runs = (0..12)
        .map(|i| run("openai/gpt-4o", i, 4, "0.001"))
        .collect();
    april.runs = (0..12)
        .map(|i| run("google/gemini-2.5-flash", i, 4, "0.002"))
        .collect();
    let result = compare(march, april, &HashMap::new());
    assert_eq!(
        result.verdict,
        "Gemini 2.5 Flash (new) ties with your earlier pick GPT-4o on the same 12 documents: 100% of fields right each, at twice the cost."
    );
}

#[test]
fn changed_documents_are_named_and_a_model_run_twice_is_told_apart() {
    let (march, mut april) = march_and_april();
    april.documents[0].expected = json!({"total": 1000});
    april.models.push(model("openai/gpt-4o", "GPT-4o"));
    april
        .runs
        .extend((0..13).map(|i| run("openai/gpt-4o", i, 3, "0.004")));
    let result = compare(march, april, &HashMap::new());
    assert_eq!(result.changed, ["k0.png"]);
    assert_eq!(result.documents, 11);
    let labels: Vec<&str> = result.models.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Gemini 2.5 Flash (new)",
            "GPT-4o (later)",
            "GPT-4o (earlier)"
        ]
    );
}

#[test]
fn reports_without_a_shared_document_say_so() {
    let (march, mut april) = march_and_april();
    for (i, doc) in april.documents.iter_mut().enumerate() {
        doc.key = format!("other{i}");
    }
    let result = compare(march, april, &HashMap::new());
    assert_eq!(result.documents, 0);
    assert_eq!(result.only_earlier.len(), 12);
    assert!(result
        .verdict
        .starts_with("These two reports share no document"));
}

#[test]
fn price_then_and_now() {
    let (mut march, april) = march_and_april();
    let price = |p: &str| ListedPrice {
        prompt_usd_per_mtok: p.parse().unwrap(),
        completion_usd_per_mtok: "10".parse().unwrap(),
        image_usd: Decimal::ZERO,
    };
    march.models[0].price = Some(price("2.5"));
    let now = HashMap::from([("openai/gpt-4o".to_owned(), price("1.25"))]);
    let result = compare(march, april, &now);
    let gpt = result
        .models
        .iter()
        .find(|m| m.model_id == "openai/gpt-4o")
        .unwrap();
    assert_eq!(gpt.price_then, Some(price("2.5")));
    assert_eq!(gpt.price_now, Some(price("1.25")));
    let gemini = result.models.iter().find(|m| m.new).unwrap();
    assert_eq!(
        gemini.price_now, None,
        "not in today's catalog: no longer offered"
    );
}
