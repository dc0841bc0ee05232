//! The HTML and text we write ourselves (pages, emails), from the files in
//! `templates/`. Everything placed into an `.html` template is escaped
//! unless the template says `|safe`, which only trusted HTML gets.

use askama::Template;

/// A link a page ends with.
pub struct Link {
    pub href: String,
    pub text: &'static str,
}

impl Link {
    pub fn dashboard() -> Self {
        Link {
            href: "/".into(),
            text: "Go to your dashboard",
        }
    }
}

/// A small page in the product's look: a title, a few paragraphs of text,
/// the reference support finds a failure by, and where to go next.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct Notice<'a> {
    pub title: &'a str,
    pub paragraphs: &'a [&'a str],
    pub reference: Option<&'a str>,
    pub link: Option<Link>,
}

/// A page whose body is HTML we made from our own Markdown.
#[derive(Template)]
#[template(path = "policy.html")]
pub struct PolicyPage<'a> {
    pub title: &'a str,
    pub policy: &'a str,
}

/// What an email to a customer says: its lead, the link it gives, a note,
/// and when the report's images are deleted.
pub struct EmailParts<'a> {
    pub lead: &'a str,
    pub link: Option<&'a str>,
    pub note: Option<&'a str>,
    pub retention: Option<&'a str>,
    /// Where the reader stops emails of this kind, signed in or not.
    pub unsubscribe: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email.html")]
struct EmailHtml<'a> {
    m: &'a EmailParts<'a>,
}

#[derive(Template)]
#[template(path = "email.txt")]
struct EmailText<'a> {
    m: &'a EmailParts<'a>,
}

/// The email's text and HTML bodies.
pub fn email_bodies(parts: &EmailParts) -> (String, String) {
    (
        render(&EmailText { m: parts }),
        render(&EmailHtml { m: parts }),
    )
}

/// What an operator's mail says: what happened, each alert with its time,
/// and where to look.
pub struct AlertParts<'a> {
    pub lead: &'a str,
    pub alerts: &'a [AlertLine],
    pub hint: &'a str,
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertHtml<'a> {
    m: &'a AlertParts<'a>,
}

#[derive(Template)]
#[template(path = "alert.txt")]
struct AlertText<'a> {
    m: &'a AlertParts<'a>,
}

/// The operator's mail's text and HTML bodies.
pub fn alert_bodies(parts: &AlertParts) -> (String, String) {
    (
        render(&AlertText { m: parts }),
        render(&AlertHtml { m: parts }),
    )
}

/// One alert in an operator's mail.
pub struct AlertLine {
    pub at: chrono::DateTime<chrono::Utc>,
    pub detail: String,
}

/// Our templates only place text and numbers, whose formatting cannot fail.
pub fn render(template: &impl Template) -> String {
    template
        .render()
        .expect("a template of text and numbers renders")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_page_is_shown_as_text() {
        let page = render(&Notice {
            title: "<script>x</script>",
            paragraphs: &[r#"<a href="x">&</a>"#],
            reference: Some("' onmouseover='alert(1)"),
            link: None,
        });
        assert!(
            page.contains("<title>&#60;script&#62;x&#60;/script&#62; · ModelPick</title>"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains(r#"<a href="x">"#), "{page}");
        assert!(!page.contains("' onmouseover"), "{page}");
    }

    #[test]
    fn an_email_escapes_its_html_and_not_its_text() {
        let (_, html) = email_bodies(&EmailParts {
            lead: "Totals <b>differ</b>",
            link: Some("https://example.com/report/1?a=1&b=\"2\""),
            note: Some("5 < 6"),
            retention: None,
            unsubscribe: Some("https://example.com/unsubscribe?token=\"t\""),
        });
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("\"2\""), "{html}");
        assert!(!html.contains("5 < 6"), "{html}");
        assert!(!html.contains("token=\"t\""), "{html}");
        let (text, _) = email_bodies(&EmailParts {
            lead: "Totals <b>differ</b>",
            link: Some("https://example.com/report/1"),
            note: Some("5 < 6"),
            retention: Some("Images go in 30 days."),
            unsubscribe: None,
        });
        assert_eq!(
            text,
            "Totals <b>differ</b>\n\nhttps://example.com/report/1\n\nNote: 5 < 6\n\nImages go in 30 days.\n\n— ModelPick"
        );
    }
}
