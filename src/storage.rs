//! Objects in Supabase Storage as the engine and the sidecar read them:
//! one rule for the names we read (the database's), and one way to turn a
//! name into the URL that reads it with the service role.

use crate::config::{ExposeSecret, SecretString};

/// The private bucket of the images users benchmark (migration 002).
pub const BENCHMARK_IMAGES: &str = "benchmark-images";

/// Whether `name` is a storage object name we read as it is written: 2 to
/// 8 parts joined by `/`, each 1 to 128 letters, digits, `.`, `_` and `-`,
/// not starting with a dot; at most 512 bytes. Nothing in such a name is
/// rewritten on its way into a URL (no `.` or `..` part, no `%`, no `\`).
/// The same rule as `private.storage_name_is_safe`, which the storage
/// policies and `check_ready_draft` apply (a test holds the two together).
pub fn name_is_safe(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    name.len() <= 512
        && (2..=8).contains(&parts.len())
        && parts.iter().all(|part| {
            (1..=128).contains(&part.len())
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The URL of object `name` in `bucket` under `storage_url`
/// (`<SUPABASE_URL>/storage/v1`); `None` for a name the rule refuses (a
/// ready draft cannot hold one, so this is a second line).
pub fn object_url(storage_url: &str, bucket: &str, name: &str) -> Option<String> {
    name_is_safe(name).then(|| format!("{storage_url}/object/{bucket}/{name}"))
}

/// A download of object `name` in `bucket` with the service-role key
/// (which reads any user's folder: callers read only names a draft's
/// checks put in its owner's); `None` as for `object_url`.
pub fn service_download(
    http: &reqwest::Client,
    storage_url: &str,
    service_role_key: &SecretString,
    bucket: &str,
    name: &str,
) -> Option<reqwest::RequestBuilder> {
    let url = object_url(storage_url, bucket, name)?;
    let key = service_role_key.expose_secret();
    Some(http.get(url).bearer_auth(key).header("apikey", key))
}

/// Objects removed per Storage request.
const REMOVE_BATCH: usize = 100;

/// Deletes objects `names` of the images bucket with the service-role key,
/// a hundred per request; names that are gone already are no error.
pub async fn service_remove(
    http: &reqwest::Client,
    storage_url: &str,
    service_role_key: &SecretString,
    names: &[String],
) -> Result<(), String> {
    let key = service_role_key.expose_secret();
    for batch in names.chunks(REMOVE_BATCH) {
        let response = http
            .delete(format!("{storage_url}/object/{BENCHMARK_IMAGES}"))
            .bearer_auth(key)
            .header("apikey", key)
            .json(&serde_json::json!({ "prefixes": batch }))
            .send()
            .await
            .map_err(|e| format!("Storage: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "Storage answered {} removing images",
                response.status()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_nothing_rewrites_are_read() {
        let uid = "a0000000-0000-4000-8000-00000000000a";
        for safe in [
            format!("{uid}/d1/3f2a.png"),
            format!("{uid}/invoice_1-final.v2.jpeg"),
        ] {
            assert!(name_is_safe(&safe), "{safe}");
        }
        for unsafe_name in [
            format!("{uid}/./a.png"),
            format!("{uid}/../b/a.png"),
            format!("{uid}//a.png"),
            format!("{uid}/.hidden.png"),
            format!("{uid}/%2e/a.png"),
            format!("{uid}/a\\b.png"),
            format!("{uid}/a b.png"),
            format!("{uid}/a\n.png"),
            format!("{uid}/"),
            "a.png".to_owned(),
            format!("{uid}/{}", "x".repeat(129)),
        ] {
            assert!(!name_is_safe(&unsafe_name), "{unsafe_name:?}");
        }
        assert_eq!(
            object_url("http://s/storage/v1", BENCHMARK_IMAGES, &format!("{uid}/d/a.png")).as_deref(),
            Some("http://s/storage/v1/object/benchmark-images/a0000000-0000-4000-8000-00000000000a/d/a.png")
        );
        assert_eq!(
            object_url(
                "http://s/storage/v1",
                BENCHMARK_IMAGES,
                &format!("{uid}/./a.png")
            ),
            None
        );
    }
}
