//! The scoring policy (`docs/scoring.md`), written once and shown twice:
//! as its own page (`/scoring`) and inside every report ("How we score").

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::templates::{render, PolicyPage};

const SCORING_POLICY: &str = include_str!("../../docs/scoring.md");
const REPORT_PAGE: &str = include_str!("../../web/report.html");
/// Where the report page takes the policy.
const POLICY_SLOT: &str = "<!-- how-we-score -->";

/// The policy as HTML, its headings moved `shift` levels down (inside a
/// report its title is the section's summary, so it is left out there).
fn policy_html(shift: usize, with_title: bool) -> String {
    let lower = |level: HeadingLevel| {
        let levels = [
            HeadingLevel::H1,
            HeadingLevel::H2,
            HeadingLevel::H3,
            HeadingLevel::H4,
            HeadingLevel::H5,
            HeadingLevel::H6,
        ];
        levels[(level as usize - 1 + shift).min(5)]
    };
    let mut in_title = false;
    let events = Parser::new(SCORING_POLICY).filter_map(|event| match event {
        Event::Start(Tag::Heading {
            level: HeadingLevel::H1,
            ..
        }) if !with_title => {
            in_title = true;
            None
        }
        Event::End(TagEnd::Heading(HeadingLevel::H1)) if !with_title => {
            in_title = false;
            None
        }
        _ if in_title => None,
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Some(Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        })),
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(lower(level)))),
        other => Some(other),
    });
    let mut html = String::with_capacity(SCORING_POLICY.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The report page with the policy in its place.
pub fn report_page() -> String {
    REPORT_PAGE.replacen(POLICY_SLOT, &policy_html(1, false), 1)
}

/// The policy as a page of its own.
pub fn scoring_page() -> String {
    render(&PolicyPage {
        title: "How we score",
        policy: &policy_html(0, true),
    })
}
