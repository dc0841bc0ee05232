//! Text placed into HTML we write ourselves (pages, emails).

/// Escapes `&`, `<`, `>`, `"` and `'`, so text is shown as text, in an
/// element or in an attribute whichever quote it is written in.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_is_shown_as_text() {
        assert_eq!(
            super::escape(r#"<a href="x">&</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_single_quote_cannot_end_an_attribute() {
        assert_eq!(
            super::escape("' onmouseover='alert(1)"),
            "&#39; onmouseover=&#39;alert(1)"
        );
    }
}
