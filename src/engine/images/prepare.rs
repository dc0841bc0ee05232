//! Every page a provider gets is one we prepared: decoded, turned upright
//! by its EXIF orientation, scaled so its long edge is at most
//! `send_max_side_px` and encoded within `send_max_image_bytes`, the same
//! bytes for every model (docs/reference/openrouter-privacy.md and
//! README's image policy say why: Anthropic refuses images over 5 MB, and
//! over 2,000 px in a request of more than 20 images).
//!
//! An upload that already meets the policy (upright, small enough, a PNG,
//! JPEG or WebP) is sent as it is: re-encoding it would only cost CPU and
//! sharpness. Anything else is decoded once, within a memory bound, and
//! re-encoded: PNG for a PNG or GIF (text and line art stay crisp), JPEG
//! for a photo, and JPEG at falling quality when a PNG is still too large.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// What a page may be when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    pub max_side_px: u32,
    pub max_bytes: usize,
}

/// The most a call's pages may hold together, encoded: Gemini refuses a
/// request of more than 20 MB of inline data and Anthropic one over 32 MB;
/// 14 MiB is 19.6 MB once in base64, with the prompt beside it.
pub const MAX_REQUEST_IMAGE_BYTES: usize = 14 << 20;

impl SendPolicy {
    /// The policy for each page of a document of `pages` pages, so that
    /// the call sending them all stays within `MAX_REQUEST_IMAGE_BYTES`.
    pub fn for_pages(self, pages: usize) -> Self {
        Self {
            max_bytes: self.max_bytes.min(MAX_REQUEST_IMAGE_BYTES / pages.max(1)),
            ..self
        }
    }
}

/// A page as it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// Whether the bytes are the upload's own (it met the policy).
    pub as_uploaded: bool,
}

/// The most a decoded page may hold in memory (a 9,000 × 12,000 px photo
/// decodes to 324 MB of RGB).
const MAX_DECODED_BYTES: u64 = 400 * 1024 * 1024;
/// JPEG qualities tried in turn until the page fits.
const JPEG_QUALITIES: [u8; 5] = [90, 82, 74, 64, 52];

/// The MIME type an image's first bytes say it has, if it is one we take.
pub fn media_type_of(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Whether an upload can be sent as it is, without decoding it: its
/// header says its size, its orientation is upright, its format is one
/// every provider reads (an animated GIF is not), and it fits the policy.
fn fits_as_uploaded(bytes: &[u8], policy: SendPolicy) -> Option<(u32, u32)> {
    let media_type = media_type_of(bytes)?;
    if media_type == "image/gif" || bytes.len() > policy.max_bytes {
        return None;
    }
    let size = imagesize::blob_size(bytes).ok()?;
    let (width, height) = (size.width as u32, size.height as u32);
    if width.max(height) > policy.max_side_px || width == 0 || height == 0 {
        return None;
    }
    let mut decoder = reader(bytes).ok()?.into_decoder().ok()?;
    (decoder.orientation().ok()? == Orientation::NoTransforms).then_some((width, height))
}

fn reader(bytes: &[u8]) -> std::io::Result<ImageReader<Cursor<&[u8]>>> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    Ok(reader)
}

/// An upload, as far as it can be told without decoding it.
pub enum Upload {
    /// It meets the policy as it is, and is sent byte for byte.
    Ready(Prepared),
    /// It must be decoded and encoded again ([`re_encode`]), as the media
    /// type its bytes say.
    NeedsWork(Vec<u8>, &'static str),
}

/// What the upload at `path` is, or why it is not an image we take.
/// Cheap: reads its header only.
pub fn inspect(path: &str, bytes: Vec<u8>, policy: SendPolicy) -> Result<Upload, String> {
    let media_type = media_type_of(&bytes)
        .ok_or_else(|| format!("the file {path} is not a PNG, JPEG, WebP or GIF image"))?;
    Ok(match fits_as_uploaded(&bytes, policy) {
        Some((width, height)) => Upload::Ready(Prepared {
            bytes,
            media_type,
            width,
            height,
            as_uploaded: true,
        }),
        None => Upload::NeedsWork(bytes, media_type),
    })
}

/// The page at `path` (of `media_type`) as it will be sent, or why it
/// cannot be. CPU-bound: run it off the async threads.
pub fn re_encode(
    path: &str,
    bytes: Vec<u8>,
    media_type: &str,
    policy: SendPolicy,
) -> Result<Prepared, String> {
    let damaged = |e: image::ImageError| format!("the image {path} could not be decoded: {e}");
    let mut decoder = reader(&bytes)
        .map_err(|e| format!("the image {path} could not be read: {e}"))?
        .into_decoder()
        .map_err(damaged)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut page = DynamicImage::from_decoder(decoder).map_err(damaged)?;
    drop(bytes);
    page.apply_orientation(orientation);
    let lossless = matches!(media_type, "image/png" | "image/gif");
    // A page that no quality fits (noise, film grain) is made smaller
    // still, a quarter at a time, down to a side no text survives below.
    let mut page = fit(page, policy.max_side_px);
    loop {
        if let Some(prepared) = encode(&page, lossless, policy.max_bytes) {
            return Ok(prepared);
        }
        let side = page.width().max(page.height()) * 3 / 4;
        if side < MIN_SIDE_PX {
            return Err(format!(
                "the image {path} cannot be made smaller than {} MiB",
                policy.max_bytes / (1024 * 1024)
            ));
        }
        page = fit(page, side);
    }
}

/// Below this long edge a page is not worth sending.
const MIN_SIDE_PX: u32 = 600;

/// The page scaled down (never up) so its long edge is at most `max_side`.
fn fit(page: DynamicImage, max_side: u32) -> DynamicImage {
    let (width, height) = (page.width(), page.height());
    if width.max(height) <= max_side {
        return page;
    }
    // Area averaging: the right filter for shrinking, and fast.
    page.thumbnail(max_side, max_side)
}

/// The page encoded within `max_bytes`: PNG first where the upload was
/// lossless, then JPEG at falling quality.
fn encode(page: &DynamicImage, lossless: bool, max_bytes: usize) -> Option<Prepared> {
    let prepared = |bytes: Vec<u8>, media_type| Prepared {
        bytes,
        media_type,
        width: page.width(),
        height: page.height(),
        as_uploaded: false,
    };
    if lossless {
        let mut png = Vec::new();
        let encoder =
            PngEncoder::new_with_quality(&mut png, CompressionType::Default, FilterType::Adaptive);
        if page.write_with_encoder(encoder).is_ok() && png.len() <= max_bytes {
            return Some(prepared(png, "image/png"));
        }
    }
    let flat = flatten_on_white(page);
    JPEG_QUALITIES.iter().find_map(|&quality| {
        let mut jpeg = Vec::new();
        let encoder = JpegEncoder::new_with_quality(&mut jpeg, quality);
        (flat.write_with_encoder(encoder).is_ok() && jpeg.len() <= max_bytes)
            .then(|| prepared(jpeg, "image/jpeg"))
    })
}

/// JPEG holds no transparency: a transparent background becomes white
/// (the paper it stands for), not black.
fn flatten_on_white(page: &DynamicImage) -> DynamicImage {
    if !page.color().has_alpha() {
        return DynamicImage::ImageRgb8(page.to_rgb8());
    }
    let rgba = page.to_rgba8();
    let rgb = image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32)) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    });
    DynamicImage::ImageRgb8(rgb)
}

/// [`inspect`], then [`re_encode`] when it needs work.
#[cfg(test)]
fn prepare(path: &str, bytes: Vec<u8>, policy: SendPolicy) -> Result<Prepared, String> {
    match inspect(path, bytes, policy)? {
        Upload::Ready(prepared) => Ok(prepared),
        Upload::NeedsWork(bytes, media_type) => re_encode(path, bytes, media_type, policy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

    const POLICY: SendPolicy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 * 1024 * 1024,
    };

    fn encoded(page: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        page.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    }

    /// A page with text-like stripes, so it does not compress to nothing.
    fn page(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            let ink = (x / 3 + y / 7) % 5 == 0;
            if ink {
                Rgb([20, 20, 30])
            } else {
                Rgb([250, 250, 245])
            }
        }))
    }

    #[test]
    fn a_page_that_meets_the_policy_is_sent_as_uploaded() {
        let png = encoded(&page(800, 1100), ImageFormat::Png);
        let prepared = prepare("u/a.png", png.clone(), POLICY).unwrap();
        assert!(prepared.as_uploaded);
        assert_eq!(prepared.bytes, png);
        assert_eq!(
            (prepared.width, prepared.height, prepared.media_type),
            (800, 1100, "image/png")
        );
    }

    #[test]
    fn a_large_page_is_scaled_to_the_long_edge_and_keeps_its_shape() {
        let jpeg = encoded(&page(3000, 4000), ImageFormat::Jpeg);
        let prepared = prepare("u/photo.jpg", jpeg, POLICY).unwrap();
        assert!(!prepared.as_uploaded);
        assert_eq!((prepared.width, prepared.height), (1500, 2000));
        assert_eq!(prepared.media_type, "image/jpeg");
        let back = image::load_from_memory(&prepared.bytes).unwrap();
        assert_eq!((back.width(), back.height()), (1500, 2000));
    }

    #[test]
    fn a_page_over_the_byte_limit_is_encoded_within_it() {
        // Noise: a PNG of it stays large, so it ends as a JPEG.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        };
        let noisy = DynamicImage::ImageRgb8(RgbImage::from_fn(1900, 1900, |_, _| {
            Rgb([next(), next(), next()])
        }));
        let png = encoded(&noisy, ImageFormat::Png);
        assert!(
            png.len() > POLICY.max_bytes,
            "the test page is over the limit"
        );
        let prepared = prepare("u/noise.png", png, POLICY).unwrap();
        assert!(prepared.bytes.len() <= POLICY.max_bytes);
        assert_eq!((prepared.width, prepared.height), (1900, 1900));
        assert_eq!(prepared.media_type, "image/jpeg");
    }

    #[test]
    fn a_page_no_quality_fits_is_made_smaller_until_it_does() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise = DynamicImage::ImageRgb8(RgbImage::from_fn(2000, 2000, |_, _| {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            };
            Rgb([next(), next(), next()])
        }));
        let png = encoded(&noise, ImageFormat::Png);
        let prepared = prepare("u/grain.png", png, POLICY).unwrap();
        assert!(prepared.bytes.len() <= POLICY.max_bytes);
        assert!(prepared.width <= 2000 && prepared.width == prepared.height);
        let tiny = SendPolicy {
            max_side_px: 2000,
            max_bytes: 1000,
        };
        assert!(
            prepare("u/grain.png", encoded(&noise, ImageFormat::Png), tiny)
                .unwrap_err()
                .starts_with("the image u/grain.png cannot be made smaller than")
        );
    }

    #[test]
    fn transparency_becomes_white_paper_not_black() {
        let half = DynamicImage::ImageRgba8(RgbaImage::from_fn(2, 1, |x, _| {
            Rgba([0, 0, 0, if x == 0 { 0 } else { 255 }])
        }));
        let flat = flatten_on_white(&half).to_rgb8();
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(1, 0).0, [0, 0, 0]);
    }

    /// A JPEG whose EXIF says "rotate 90° clockwise to view" (orientation
    /// 6), as a phone held upright writes it.
    fn sideways_jpeg(width: u32, height: u32) -> Vec<u8> {
        use image::ImageEncoder as _;
        let exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
        let mut jpeg = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut jpeg, 90);
        encoder.set_exif_metadata(exif).unwrap();
        let pixels = page(width, height).to_rgb8();
        encoder
            .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        jpeg
    }

    #[test]
    fn a_sideways_photo_is_turned_upright_even_when_small_enough() {
        let jpeg = sideways_jpeg(400, 300);
        assert_eq!(
            fits_as_uploaded(&jpeg, POLICY),
            None,
            "not upright: not sent as is"
        );
        let prepared = prepare("u/phone.jpg", jpeg, POLICY).unwrap();
        assert_eq!((prepared.width, prepared.height), (300, 400));
        assert!(!prepared.as_uploaded);
        let big = prepare("u/phone-big.jpg", sideways_jpeg(4000, 3000), POLICY).unwrap();
        assert_eq!((big.width, big.height), (1500, 2000));
    }

    #[test]
    fn a_gif_is_always_re_encoded_and_garbage_is_refused_with_a_sentence() {
        let gif = encoded(&page(40, 30), ImageFormat::Gif);
        let prepared = prepare("u/a.gif", gif, POLICY).unwrap();
        assert_eq!(
            (prepared.media_type, prepared.as_uploaded),
            ("image/png", false)
        );
        assert_eq!(
            prepare("u/a.pdf", b"%PDF-1.7".to_vec(), POLICY).unwrap_err(),
            "the file u/a.pdf is not a PNG, JPEG, WebP or GIF image"
        );
        let mut cut = encoded(&page(3000, 10), ImageFormat::Png);
        cut.truncate(cut.len() / 2);
        assert!(prepare("u/cut.png", cut, POLICY)
            .unwrap_err()
            .starts_with("the image u/cut.png could not be decoded"));
    }
}
