//! Which documents two reports share: the same file (its key) with the
//! same expected JSON. The same file with other expected JSON is changed,
//! and not compared.

use std::collections::HashMap;

use super::Document;

/// Which documents the two reports share, by index in each.
pub(super) struct Matching {
    pub pairs: Vec<(usize, usize)>,
    pub only_earlier: Vec<String>,
    pub only_later: Vec<String>,
    pub changed: Vec<String>,
}

pub(super) fn match_documents(earlier: &[Document], later: &[Document]) -> Matching {
    let mut later_by_key: HashMap<&str, usize> = HashMap::new();
    for (i, doc) in later.iter().enumerate() {
        later_by_key.entry(doc.key.as_str()).or_insert(i);
    }
    let mut matching = Matching {
        pairs: Vec::new(),
        only_earlier: Vec::new(),
        only_later: Vec::new(),
        changed: Vec::new(),
    };
    let mut used = vec![false; later.len()];
    for (i, doc) in earlier.iter().enumerate() {
        match later_by_key.get(doc.key.as_str()) {
            Some(&j) if !used[j] => {
                used[j] = true;
                if doc.expected == later[j].expected {
                    matching.pairs.push((i, j));
                } else {
                    matching.changed.push(doc.name.clone());
                }
            }
            _ => matching.only_earlier.push(doc.name.clone()),
        }
    }
    matching.only_later = later
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(doc, _)| doc.name.clone())
        .collect();
    matching
}
