use super::*;

fn reply(status: u16, text: &str) -> Reply {
    Reply {
        status,
        retry_after: Some(Duration::from_secs(2)),
        generation_id: Some("gen-1".into()),
        text: text.into(),
    }
}

#[test]
fn what_each_reply_says_about_money_and_retrying() {
    let answered = completion(reply(
        200,
        r#"{"choices":[{"message":{"content":"The total is 5."}}],"usage":{"prompt_tokens":10,"completion_tokens":5,"cost":0.01}}"#,
    ))
    .unwrap();
    assert_eq!(answered.text, "The total is 5.", "prose is an answer too");
    assert_eq!(answered.usage.total_tokens, 15);
    assert!(matches!(answered.billed, Billed::Usage(_)));

    // An empty or blank answer is an answer (billed), not a failure.
    for empty in [r#""""#, r#"" \n ""#, "null"] {
        let answer = completion(reply(
            200,
            &format!(r#"{{"choices":[{{"message":{{"content":{empty}}}}}],"usage":{{"prompt_tokens":900,"completion_tokens":0,"cost":0.002}}}}"#),
        ))
        .unwrap();
        assert_eq!(answer.text.trim(), "", "{empty}");
        assert_eq!(answer.usage.prompt_tokens, 900);
    }
    // An answer that does not say what it used: cost unknown, to be
    // looked up by its generation.
    let unmetered = completion(reply(
        200,
        r#"{"id":"gen-3","choices":[{"message":{"content":"{}"}}]}"#,
    ))
    .unwrap();
    assert_eq!(
        unmetered.billed,
        Billed::Unknown {
            generation_id: Some("gen-1".into())
        }
    );
    // No completion at all is the provider's failure.
    let nothing =
        completion(reply(200, r#"{"choices":[],"usage":{"prompt_tokens":5}}"#)).unwrap_err();
    assert_eq!(nothing.why, "the provider's answer held no completion");
    assert_eq!(nothing.retry, Retry::Backoff);

    let unreadable = completion(reply(200, "<html>upstream")).unwrap_err();
    assert_eq!(
        (unreadable.billed, unreadable.retry),
        (
            Billed::Unknown {
                generation_id: Some("gen-1".into())
            },
            Retry::Backoff
        )
    );
    let error_inside = completion(reply(
        200,
        r#"{"id":"gen-2","error":{"message":"upstream died"}}"#,
    ))
    .unwrap_err();
    assert_eq!(
        error_inside.why,
        "the provider failed while answering: upstream died"
    );
    assert!(matches!(error_inside.billed, Billed::Unknown { .. }));

    let limited = read_reply(reply(429, r#"{"error":{"message":"slow down"}}"#)).unwrap_err();
    assert_eq!(
        (limited.billed, limited.retry),
        (
            Billed::Nothing,
            Retry::RateLimited(Some(Duration::from_secs(2)))
        )
    );
    let refused = read_reply(reply(402, r#"{"error":{"message":"no credit"}}"#)).unwrap_err();
    assert_eq!(refused.retry, Retry::Never);
    assert_eq!(
        refused.why,
        "the provider account is out of credit (HTTP 402): no credit"
    );
    assert_eq!(
        read_reply(reply(503, "")).unwrap_err().retry,
        Retry::Backoff
    );
}
