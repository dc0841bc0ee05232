//! `Stripe-Signature` verification: HMAC-SHA256 of `"{t}.{raw body}"` keyed
//! with the whole `whsec_…` secret, any `v1` may match (secret rotation
//! sends one per active secret), `v0` and unknown schemes are ignored, and
//! the timestamp must be within the tolerance in either direction.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Stripe's libraries use five minutes.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    MissingHeader,
    #[error("the Stripe-Signature header has no valid timestamp")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signature was made {0} s away from now, more than the tolerance")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// Checks `header` against the exact bytes Stripe sent, at time `now`
/// (Unix seconds).
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeader)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                if let Ok(bytes) = hex::decode(sig) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let age = now - timestamp;
    if age.abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance(age));
    }
    let expected = mac(secret, timestamp, payload);
    // verify_slice compares in constant time.
    if signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
    const NOW: i64 = 1_800_000_000;

    /// A header as Stripe sends it (the tests' own Stripe signer, checked
    /// against the official package, is `devstack::stripe::sign`).
    fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
        let signature = hex::encode(mac(secret, timestamp, payload).finalize().into_bytes());
        format!("t={timestamp},v1={signature}")
    }

    fn v1(secret: &str, t: i64, body: &[u8]) -> String {
        sign(body, secret, t)
            .split_once(",v1=")
            .unwrap()
            .1
            .to_owned()
    }

    #[test]
    fn a_valid_signature_passes() {
        assert_eq!(
            verify(Some(&sign(BODY, SECRET, NOW)), BODY, SECRET, NOW),
            Ok(())
        );
    }

    #[test]
    fn a_one_byte_change_fails() {
        let header = sign(BODY, SECRET, NOW);
        let mut body = BODY.to_vec();
        body.push(b' ');
        assert_eq!(
            verify(Some(&header), &body, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_fail() {
        let good = v1(SECRET, NOW, BODY);
        assert_eq!(
            verify(None, BODY, SECRET, NOW),
            Err(SignatureError::MissingHeader)
        );
        assert_eq!(
            verify(Some(""), BODY, SECRET, NOW),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(Some(&format!("v1={good}")), BODY, SECRET, NOW),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(Some(&format!("t=abc,v1={good}")), BODY, SECRET, NOW),
            Err(SignatureError::NoTimestamp)
        );
        assert_eq!(
            verify(Some(&format!("t={NOW}")), BODY, SECRET, NOW),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            verify(Some(&format!("t={NOW},v1=zz")), BODY, SECRET, NOW),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            verify(Some(&format!("t={NOW},v0={good}")), BODY, SECRET, NOW),
            Err(SignatureError::NoSignature)
        );
    }

    #[test]
    fn any_v1_may_match_and_v0_is_ignored() {
        let good = v1(SECRET, NOW, BODY);
        let other = v1("whsec_old_secret", NOW, BODY);
        for header in [
            format!("t={NOW},v1={good},v1={other}"),
            format!("t={NOW},v1={other},v1={good}"),
            format!("t={NOW},v1={good},v0={other}"),
        ] {
            assert_eq!(verify(Some(&header), BODY, SECRET, NOW), Ok(()), "{header}");
        }
        let two_bad = format!("t={NOW},v1={other},v1={}", v1("whsec_third", NOW, BODY));
        assert_eq!(
            verify(Some(&two_bad), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_key_is_the_whole_secret() {
        let without_prefix = sign(BODY, "test_secret", NOW);
        assert_eq!(
            verify(Some(&without_prefix), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&sign(BODY, "whsec_other", NOW)), BODY, SECRET, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_tolerance_holds_both_ways() {
        for (offset, ok) in [
            (-301, false),
            (-299, true),
            (0, true),
            (299, true),
            (301, false),
        ] {
            let header = sign(BODY, SECRET, NOW + offset);
            assert_eq!(
                verify(Some(&header), BODY, SECRET, NOW).is_ok(),
                ok,
                "offset {offset}"
            );
        }
    }
}
