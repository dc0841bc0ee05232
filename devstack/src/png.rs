//! Image files for tests and benchmarks: a real PNG (a blank page of the
//! size asked, which any decoder reads) with a text chunk that makes each
//! file unique and as large as asked.

use std::io::Write as _;

/// A PNG of `width` x `height` pixels, about `size` bytes long, labelled.
pub fn png(width: u32, height: u32, label: &str, size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut bytes, b"IHDR", &header);
    let mut text = b"Comment\0".to_vec();
    text.extend_from_slice(label.as_bytes());
    if text.len() + 64 < size {
        text.resize(size - 64, b'.');
    }
    chunk(&mut bytes, b"tEXt", &text);
    chunk(&mut bytes, b"IDAT", &blank_rows(width, height));
    chunk(&mut bytes, b"IEND", &[]);
    bytes
}

/// The zlib stream of `height` white RGB rows (each with its filter byte),
/// compressed row by row so a large page never sits whole in memory.
fn blank_rows(width: u32, height: u32) -> Vec<u8> {
    let row = {
        let mut row = vec![0xFFu8; 1 + 3 * width as usize];
        row[0] = 0;
        row
    };
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for _ in 0..height {
        z.write_all(&row).expect("writing to memory");
    }
    z.finish().expect("writing to memory")
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= *byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_crc_is_pngs() {
        // The IEND chunk's CRC is fixed by the format.
        assert_eq!(super::crc32(b"IEND"), 0xAE42_6082);
        let png = super::png(2480, 3508, "x", 40_000);
        assert!(png.len() >= 40_000, "{}", png.len());
        assert_eq!(&png[16..24], &[0, 0, 9, 176, 0, 0, 13, 180]);
    }
}
