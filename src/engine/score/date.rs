//! Dates, for fields whose schema says `format: date` or `date-time`:
//! `2024-03-05`, `2024/03/05`, `5 March 2024`, `March 5, 2024`,
//! `5. März 2024`, `5 mars 2024`, `05.03.2024`, `2024年3月5日`. A numeric
//! date whose day and month could be swapped (`03/05/2024`) counts only
//! when both readings are the same date; `25/03/2024` can only be read one
//! way.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The readings a spelling allows: one, or two for an ambiguous numeric
/// day/month.
pub fn readings(text: &str) -> Vec<NaiveDate> {
    let text = text.trim();
    if let Some(date) = iso_like(text)
        .or_else(|| japanese(text))
        .or_else(|| worded(text))
    {
        return vec![date];
    }
    numeric(text)
}

/// Whether `answer` is the date `expected`: every reading of it is.
pub fn same_date(expected: &str, answer: &str) -> bool {
    let expected = readings(expected);
    let answer = readings(answer);
    expected.len() == 1 && !answer.is_empty() && answer.iter().all(|d| *d == expected[0])
}

/// Whether `answer` is the moment `expected`: the same instant when both
/// carry an offset, else the same local date and time.
pub fn same_date_time(expected: &str, answer: &str) -> bool {
    if let (Ok(e), Ok(a)) = (
        DateTime::parse_from_rfc3339(expected.trim()),
        DateTime::parse_from_rfc3339(answer.trim()),
    ) {
        return e == a;
    }
    match (naive(expected), naive(answer)) {
        (Some(e), Some(a)) => e == a,
        _ => false,
    }
}

fn naive(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.naive_local());
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// Year first: `2024-03-05`, `2024/03/05`, `2024.03.05`.
fn iso_like(text: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = text.split(['-', '/', '.']).collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => ymd(y, m, d),
        _ => None,
    }
}

fn japanese(text: &str) -> Option<NaiveDate> {
    let (y, rest) = text.split_once('年')?;
    let (m, rest) = rest.split_once('月')?;
    let d = rest.strip_suffix('日')?;
    ymd(y.trim(), m.trim(), d.trim())
}

/// Day-first dotted dates are German or Swiss (never US); slashes may be
/// either way round.
fn numeric(text: &str) -> Vec<NaiveDate> {
    let dotted: Vec<&str> = text.split('.').collect();
    if let [d, m, y] = dotted.as_slice() {
        return ymd(y, m, d).into_iter().collect();
    }
    let parts: Vec<&str> = text.split(['/', '-']).collect();
    let [a, b, y] = parts.as_slice() else {
        return Vec::new();
    };
    if y.len() != 4 {
        return Vec::new();
    }
    let mut found: Vec<NaiveDate> = [ymd(y, b, a), ymd(y, a, b)].into_iter().flatten().collect();
    found.dedup();
    found
}

const MONTHS: [[&str; 3]; 12] = [
    ["january", "januar", "janvier"],
    ["february", "februar", "février"],
    ["march", "märz", "mars"],
    ["april", "april", "avril"],
    ["may", "mai", "mai"],
    ["june", "juni", "juin"],
    ["july", "juli", "juillet"],
    ["august", "august", "août"],
    ["september", "september", "septembre"],
    ["october", "oktober", "octobre"],
    ["november", "november", "novembre"],
    ["december", "dezember", "décembre"],
];

fn month(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.').to_lowercase();
    if word.chars().count() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|names| {
            names
                .iter()
                .any(|n| *n == word || (word.chars().count() == 3 && n.starts_with(&word)))
        })
        .map(|i| i as u32 + 1)
}

/// `5 March 2024`, `5. März 2024`, `March 5, 2024`, `Mar 5 2024`.
fn worded(text: &str) -> Option<NaiveDate> {
    let words: Vec<&str> = text.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let [a, b, y] = words.as_slice() else {
        return None;
    };
    let day = |w: &str| w.trim_end_matches('.').to_owned();
    match (month(a), month(b)) {
        (Some(m), None) => ymd(y, &m.to_string(), &day(b)),
        (None, Some(m)) => ymd(y, &m.to_string(), &day(a)),
        _ => None,
    }
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let number = |s: &str| (!s.is_empty() && s.len() <= 4).then(|| s.parse::<u32>().ok())?;
    if y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(number(y)? as i32, number(m)?, number(d)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_date() {
        for spelling in [
            "2024-03-05",
            "2024/03/05",
            "5 March 2024",
            "March 5, 2024",
            "Mar 5 2024",
            "5. März 2024",
            "5 mars 2024",
            "05.03.2024",
            "2024年3月5日",
        ] {
            assert!(same_date("2024-03-05", spelling), "{spelling}");
        }
        assert!(
            same_date("2024-03-25", "25/03/2024"),
            "only one way to read it"
        );
        assert!(same_date("2024-03-25", "03/25/2024"));
        assert!(
            !same_date("2024-03-05", "03/05/2024"),
            "5 March or 3 May: not sure"
        );
        assert!(same_date("2024-05-05", "05/05/2024"), "both readings agree");
        assert!(!same_date("2024-03-05", "2024-03-06"));
        assert!(!same_date("2024-03-05", "soon"));
        assert!(same_date_time(
            "2024-03-05T14:30:00Z",
            "2024-03-05T15:30:00+01:00"
        ));
        assert!(same_date_time("2024-03-05T14:30:00", "2024-03-05 14:30"));
        assert!(!same_date_time(
            "2024-03-05T14:30:00Z",
            "2024-03-05T14:31:00Z"
        ));
    }
}
