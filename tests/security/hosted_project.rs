//! What a hosted project is given (everything under `supabase/`) holds no
//! account and no known password, and the instructions for a hosted
//! project never wipe it or push demo data.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_under_supabase_creates_an_account_or_holds_a_password() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(&root.join("supabase"), &mut all);
    // pgTAP tests make throwaway users inside a rolled-back transaction;
    // what ships is the rest.
    let shipped: Vec<_> = all
        .iter()
        .filter(|p| !p.starts_with(root.join("supabase/tests")))
        .collect();
    assert!(shipped.len() > 20, "{shipped:?}");
    for path in shipped {
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .to_lowercase();
        for word in [
            "insert into auth.users",
            "insert into auth.identities",
            "crypt(",
            "modelpick-demo",
            "demo@modelpick.local",
        ] {
            assert!(
                !text.contains(word),
                "{} holds {word:?}: demo accounts belong in devstack/",
                path.display()
            );
        }
    }
    let demo = std::fs::read_to_string(root.join("devstack/fixtures/demo/seed.sql")).unwrap();
    assert!(
        demo.contains("demo@modelpick.local"),
        "the local demo data lives here"
    );
}

#[test]
fn the_instructions_for_a_hosted_project_push_migrations_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["docs/deploy.md", "docs/development.md", "scripts/dev"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            !text.contains("`supabase db reset` (or"),
            "{file} offers db reset for a hosted project"
        );
        assert!(
            text.contains("--include-seed"),
            "{file} warns against pushing seed data"
        );
    }
}
