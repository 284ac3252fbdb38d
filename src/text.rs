//! Owns how text that came from outside (a manifest, a saved plan, the journal, a lock file, a
//! Graph answer) is made safe to show on a terminal: control and bidirectional-override
//! characters are escaped so they cannot move the cursor, recolour, retitle or reorder the
//! screen, and values and source lines are cut to a readable length. It decides nothing about
//! what is shown.

use std::borrow::Cow;

/// Characters a terminal would act on instead of showing: C0 and C1 controls, DEL, and the
/// Unicode bidirectional overrides and isolates that reorder what is displayed.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// Escapes every control character (line breaks and tabs included) as `\n`, `\t`, `\u{1b}`...:
/// for one-line values such as a name, an id or a message read from outside.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_keeping(text, &[])
}

/// Like [`escape`], but keeps line breaks: for multi-line text of wamig's own making that
/// carries values from outside (an error message, a hint).
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_keeping(text, &['\n'])
}

fn escape_keeping<'a>(text: &'a str, keep: &[char]) -> Cow<'a, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep.contains(&c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) && !keep.contains(&c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text about to be written to a terminal, with every control character escaped except line
/// breaks, tabs and the colour sequences (`ESC [ digits ; m`) wamig's own styles write: the last
/// line of defence for any value from outside that reached output without being escaped.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let is_style = |rest: &str| {
        let params = rest.strip_prefix("\u{1b}[")?;
        let len = params.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
        (params.as_bytes().get(len) == Some(&b'm')).then_some(2 + len + 1)
    };
    if !text.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}'
            && let Some(len) = is_style(rest)
        {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if is_unsafe(c) && c != '\n' && c != '\t' {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text`, ending with `…` when cut.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// Characters shown before and after a column in a source excerpt.
const BEFORE: usize = 40;
const AFTER: usize = 60;

/// A window of `line` around the 1-based `column`, escaped, with `…` where it was cut, and how
/// many characters of the excerpt come before the column (where a pointer goes). Tabs are kept
/// so the pointer's indent can repeat them.
pub fn excerpt(line: &str, column: usize) -> (String, usize) {
    let column = column.max(1) - 1;
    let start = column.saturating_sub(BEFORE);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut pointer = None;
    let mut cut_end = false;
    for (shown, (index, c)) in line.chars().enumerate().skip(start).enumerate() {
        if index == column {
            pointer = Some(out.chars().count());
        }
        if shown == BEFORE + AFTER {
            cut_end = true;
            break;
        }
        if c == '\t' || !is_unsafe(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    if cut_end {
        out.push('…');
    }
    let pointer = pointer.unwrap_or_else(|| out.chars().count());
    (out, pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escape("acme-prod"), "acme-prod");
        assert!(matches!(escape("acme"), Cow::Borrowed(_)));
        assert_eq!(escape("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(escape("x\u{9b}31m\u{7f}"), "x\\u{9b}31m\\u{7f}");
        assert_eq!(escape("line\nnext\ttab\r"), "line\\nnext\\ttab\\r");
        assert_eq!(escape("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escape_lines("one\ntwo\u{1b}[2J"), "one\ntwo\\u{1b}[2J");
        assert_eq!(escape("é € 😀"), "é € 😀");
    }

    #[test]
    fn terminal_output_keeps_colours_and_escapes_the_rest() {
        let styled = "\u{1b}[1m\u{1b}[31merror\u{1b}[0m: x\n\tindented";
        assert_eq!(terminal_safe(styled), styled);
        assert_eq!(terminal_safe("a\u{1b}]8;;http://evil\u{7}link"), "a\\u{1b}]8;;http://evil\\u{7}link");
        assert_eq!(terminal_safe("\u{1b}[2J\u{1b}[H"), "\\u{1b}[2J\\u{1b}[H");
        assert_eq!(terminal_safe("over\rwrite\u{9b}2J"), "over\\rwrite\\u{9b}2J");
        assert_eq!(terminal_safe("trailing \u{1b}"), "trailing \\u{1b}");
    }

    #[test]
    fn shortens_by_characters() {
        assert_eq!(shorten("phone", 10), "phone");
        assert_eq!(shorten("ééééé", 3), "ééé…");
        assert_eq!(shorten("", 0), "");
    }

    #[test]
    fn excerpts_keep_the_pointer_on_the_column() {
        assert_eq!(excerpt("  - phnoe: 1", 5), ("  - phnoe: 1".to_owned(), 4));
        let long = format!("{}X{}", "a".repeat(1_000_000), "b".repeat(1_000_000));
        let (shown, pointer) = excerpt(&long, 1_000_001);
        assert!(shown.chars().count() <= BEFORE + AFTER + 2, "{}", shown.len());
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(shown.chars().nth(pointer), Some('X'));
        let (shown, pointer) = excerpt("a\u{1b}[2Jb", 6);
        assert_eq!(shown, "a\\u{1b}[2Jb");
        assert_eq!(shown.chars().nth(pointer), Some('b'));
        // A column past the end points just after the text.
        assert_eq!(excerpt("ab", 9), ("ab".to_owned(), 2));
    }
}
