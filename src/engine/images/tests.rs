use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_page_is_encoded_once_as_a_data_url_and_measured() {
    let page = image::DynamicImage::new_rgb8(100, 141);
    let mut png = std::io::Cursor::new(Vec::new());
    page.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    let policy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 << 20,
    };
    let sent = prepare_page("a/scan.png", png.clone(), policy)
        .await
        .unwrap();
    assert_eq!((sent.width, sent.height, sent.pixels), (100, 141, 14_100));
    assert_eq!((sent.bytes, sent.media_type), (png.len(), "image/png"));
    assert!(sent
        .url_json
        .starts_with(b"\"data:image/png;base64,iVBORw0KGgo"));
    assert!(sent.url_json.ends_with(b"\""));
    assert_eq!(
        prepare_page("a/notes.png", b"%PDF-1.7 not an image".to_vec(), policy)
            .await
            .unwrap_err(),
        "the file a/notes.png is not a PNG, JPEG, WebP or GIF image"
    );
}

/// A storage that serves the same page for any name, counting reads.
async fn counting_storage() -> (Arc<ImageSource>, Arc<AtomicUsize>) {
    use warp::Filter;
    let reads = Arc::new(AtomicUsize::new(0));
    let page = devstack::png::png(300, 400, "page", 0);
    let counted = reads.clone();
    let routes = warp::path("object").and(warp::path::tail()).map(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        page.clone()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    let source = ImageSource {
        http: reqwest::Client::new(),
        storage_url: format!("http://{addr}"),
        service_role_key: "key".into(),
    };
    (Arc::new(source), reads)
}

#[tokio::test]
async fn pages_are_prepared_a_few_documents_ahead_and_let_go_after_their_last_call() {
    let (source, reads) = counting_storage().await;
    let wanted = (0..30)
        .map(|i| (i, vec![format!("u/d{i}a.png"), format!("u/d{i}b.png")], 2))
        .collect();
    let policy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 << 20,
    };
    let pages = PagesAhead::start(source, wanted, 1 << 20, policy);
    let first = pages.get(0).await;
    let kept = Arc::downgrade(&first.as_ref().as_ref().unwrap()[0]);
    // Document 0's pages are places 0 and 1: places up to 1 + 16 are
    // read, the last of them document 8's second page.
    let last_place_read = 1 + PAGES_AHEAD;
    let furthest = last_place_read / 2;
    for _ in 0..200 {
        if pages.ready(furthest).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(pages.ready(furthest).is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        reads.load(Ordering::SeqCst),
        PAGES_AHEAD + 2,
        "nothing further ahead of the document asked for is read"
    );
    assert!(pages.ready(furthest + 1).is_none());

    pages.call_made(0);
    assert!(pages.ready(0).is_some(), "one call still needs it");
    drop(first);
    pages.call_made(0);
    assert!(pages.ready(0).is_none());
    assert!(kept.upgrade().is_none(), "its encoding is let go");
    assert_eq!(
        pages.get(0).await.as_ref().as_ref().unwrap_err(),
        "document 0 was asked for after its last call"
    );

    let last = pages.get(29).await;
    assert_eq!(last.as_ref().as_ref().unwrap().len(), 2);
}

#[tokio::test]
async fn the_stand_ins_test_pages_are_real_pngs_sent_as_uploaded() {
    let policy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 << 20,
    };
    let png = devstack::png::png(1240, 1754, "test page", 200_000);
    let sent = prepare_page("a/test.png", png.clone(), policy)
        .await
        .unwrap();
    assert_eq!(
        (sent.width, sent.height, sent.bytes),
        (1240, 1754, png.len())
    );
    let a4 = devstack::png::png(2480, 3508, "A4 at 300 dpi", 0);
    let sent = prepare_page("a/a4.png", a4, policy).await.unwrap();
    assert_eq!((sent.width, sent.height), (1414, 2000));
}

#[test]
fn a_documents_pages_share_what_one_request_may_carry() {
    let policy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 << 20,
    };
    assert_eq!(policy.for_pages(1), policy, "one page: its own limit");
    assert_eq!(policy.for_pages(3).max_bytes, 4 << 20, "three fit whole");
    let twenty = policy.for_pages(20);
    assert_eq!(twenty.max_bytes, MAX_REQUEST_IMAGE_BYTES / 20);
    assert!(20 * twenty.max_bytes <= MAX_REQUEST_IMAGE_BYTES);
    assert_eq!(twenty.max_side_px, 2000);
}
