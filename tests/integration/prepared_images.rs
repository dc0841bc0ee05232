//! Every provider gets an image it accepts: a phone photo far over
//! Anthropic's limits and a 10 MiB PNG leave the engine upright, at most
//! 2,000 px on their long edge and 4 MiB, the same bytes for every model.

use std::io::Cursor;
use std::time::Duration;

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};
use modelpick::config::RunLimits;
use modelpick::engine::images::MAX_REQUEST_IMAGE_BYTES;

use crate::support::engine::TestWorld;
use crate::support::supabase::TestSupabase;

const MAX_SIDE: u32 = 2000;
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// A 9,000 x 12,000 px photo as a phone held upright stores it: the
/// sensor's 12,000 x 9,000 rows, with EXIF orientation 6 ("turn 90°
/// clockwise to view").
fn phone_photo() -> Vec<u8> {
    let sensor = RgbImage::from_fn(12_000, 9_000, |x, y| {
        if (x / 40 + y / 40) % 9 == 0 {
            Rgb([30, 30, 40])
        } else {
            Rgb([240, 238, 230])
        }
    });
    let exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let mut jpeg = Cursor::new(Vec::new());
    let mut encoder = JpegEncoder::new_with_quality(&mut jpeg, 85);
    encoder.set_exif_metadata(exif).unwrap();
    encoder
        .write_image(&sensor, 12_000, 9_000, ExtendedColorType::Rgb8)
        .unwrap();
    jpeg.into_inner()
}

#[tokio::test]
async fn a_phone_photo_and_a_10_mib_png_are_sent_upright_within_the_limits() {
    let photo = phone_photo();
    let big_png = devstack::png::png(
        1240,
        1754,
        "a scan with a large comment",
        (10 << 20) - (64 << 10),
    );
    assert!(big_png.len() > MAX_BYTES && big_png.len() <= 10 << 20);
    let world =
        TestWorld::with_files(TestSupabase::start().await, vec![photo, big_png], |_| {}).await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(RunLimits::default(), Duration::from_secs(30));
    let states = world
        .wait_finished(&[report], Duration::from_secs(120))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);

    let calls = world.provider.calls();
    assert_eq!(calls.len(), 4, "each model read each document once");
    for call in &calls {
        assert_eq!(call.images.len(), 1);
        let sent = &call.images[0];
        assert!(sent.width.max(sent.height) <= MAX_SIDE, "{sent:?}");
        assert!(sent.bytes <= MAX_BYTES, "{sent:?}");
    }
    let photo_sent: Vec<_> = calls
        .iter()
        .filter(|c| c.images[0].media_type == "image/jpeg")
        .map(|c| &c.images[0])
        .collect();
    assert_eq!(photo_sent.len(), 2);
    assert_eq!(
        (photo_sent[0].width, photo_sent[0].height),
        (1500, 2000),
        "the photo is turned upright (portrait) and scaled to 2,000 px"
    );
    assert_eq!(
        photo_sent[0], photo_sent[1],
        "every model gets the same bytes"
    );
    let scan_sent: Vec<_> = calls
        .iter()
        .filter(|c| c.images[0].media_type == "image/png")
        .map(|c| &c.images[0])
        .collect();
    assert_eq!(scan_sent.len(), 2);
    assert_eq!((scan_sent[0].width, scan_sent[0].height), (1240, 1754));
    assert!(scan_sent[0].bytes < 1 << 20, "the comment padding is gone");
    assert_eq!(scan_sent[0], scan_sent[1]);
}

#[tokio::test]
async fn a_document_of_three_pages_is_read_in_one_call_with_its_pages_in_order() {
    let pages: Vec<Vec<u8>> = (0..6)
        .map(|i| devstack::png::png(1240, 1754, &format!("page {i}"), 0))
        .collect();
    let shas: Vec<String> = pages
        .iter()
        .map(|p| devstack::provider::sha256_hex(p))
        .collect();
    let first_truth = crate::support::engine::truth(0);
    let second_truth = crate::support::engine::truth(3);
    let world = TestWorld::with_files(TestSupabase::start().await, pages, |config| {
        config
            .answers
            .insert(shas[..3].join("+"), first_truth.clone());
        config
            .answers
            .insert(shas[3..].join("+"), second_truth.clone());
    })
    .await;
    let report = world.paid_report_of(2, serde_json::json!({}), 3).await;
    let engine = world.start_engine(RunLimits::default(), Duration::from_secs(30));
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    let state = &states[0];
    assert_eq!(state.status, "complete", "{state:?}");
    assert_eq!(
        (state.runs_done, state.runs_planned),
        (4, 4),
        "2 documents x 2 models"
    );

    let calls = world.provider.calls();
    assert_eq!(calls.len(), 4);
    for call in &calls {
        let sent: Vec<&str> = call.images.iter().map(|i| i.sha256.as_str()).collect();
        assert!(
            sent == shas[..3] || sent == shas[3..],
            "each call carries one document's three pages, in order: {sent:?}"
        );
    }
    let db = world.supabase.db.client().await;
    let passed: i64 = db
        .query_one(
            "select count(*) from public.benchmark_runs where report_id = $1 and passed",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        passed, 4,
        "every model read each document right from its pages"
    );
    let paths: Vec<String> = db
        .query_one(
            "select image_paths from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        paths.len(),
        6,
        "every page is the report's, for its owner to see"
    );
}

#[tokio::test]
async fn a_document_of_large_pages_is_sent_within_what_one_request_may_carry() {
    // Five scans of nearly 4 MiB each: each within a page's limit, but
    // together past what Gemini takes in one request.
    let pages: Vec<Vec<u8>> = (0..5)
        .map(|i| devstack::png::png(1240, 1754, &format!("scan {i}"), MAX_BYTES - (128 << 10)))
        .collect();
    assert!(pages.iter().map(Vec::len).sum::<usize>() > MAX_REQUEST_IMAGE_BYTES);
    let world = TestWorld::with_files(TestSupabase::start().await, pages, |_| {}).await;
    let report = world.paid_report_of(1, serde_json::json!({}), 5).await;
    let engine = world.start_engine(RunLimits::default(), Duration::from_secs(30));
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    let calls = world.provider.calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(
            call.images.len(),
            5,
            "the document's five pages, in one call"
        );
        let total: usize = call.images.iter().map(|i| i.bytes).sum();
        assert!(
            total <= MAX_REQUEST_IMAGE_BYTES,
            "{total} bytes of images in one request"
        );
        assert!(call
            .images
            .iter()
            .all(|i| (i.width, i.height) == (1240, 1754)));
    }
}
