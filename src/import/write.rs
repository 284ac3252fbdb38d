//! Owns the text `wamig import` writes: a manifest laid out as a person would write it (the
//! schema comment line, a header saying where it came from, defaults factored out, one entry per
//! number with its display name as a comment, numbers that cannot move commented out with the
//! reason and the fix). Every value from Graph is quoted or sanitised here, so no WABA or display
//! name can change the YAML's structure. It decides nothing about which numbers go in.

use std::fmt::Write as _;

use super::{Entry, Imported, PIN_ENV, Selection};
use crate::manifest::check::DEFAULT_LANGUAGE;

/// Where the schema line points: beside the manifest, where `wamig schema` can write it.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=schemas/manifest.schema.json";

/// The manifest's text.
pub fn render(imported: &Imported) -> String {
    let mut out = String::new();
    header(&mut out, imported);
    out.push_str("version: 1\n");
    if let Some(version) = &imported.api_version {
        let _ = writeln!(out, "graph:\n  api_version: {}", quote(version));
    }
    let default_register = imported.default_register();
    out.push_str("defaults:\n");
    commented(&mut out, "  code_method: SMS", "SMS | VOICE: how Meta sends the verification code");
    let _ = writeln!(out, "  language: {DEFAULT_LANGUAGE}");
    let _ = writeln!(out, "  register: {default_register}");
    if imported.needs_pin() {
        commented(
            &mut out,
            &format!("  pin: {{ env: {PIN_ENV} }}"),
            "the 6-digit PIN is read from this variable, never written here",
        );
    }
    out.push_str("destinations:\n");
    for destination in &imported.destinations {
        let _ = writeln!(out, "  - waba: {}", quote(&destination.waba));
        if let Some(name) = &destination.name {
            let _ = writeln!(out, "    name: {}", quote(name));
        }
        if destination.entries.iter().any(Entry::is_written) {
            out.push_str("    numbers:\n");
        } else {
            commented(&mut out, "    numbers: []", "every number is left out: see below");
        }
        for entry in &destination.entries {
            number(&mut out, entry, default_register);
        }
    }
    out
}

/// A line with a comment lined up after it.
fn commented(out: &mut String, line: &str, comment: &str) {
    let _ = writeln!(out, "{line:<33} # {comment}");
}

fn header(out: &mut String, imported: &Imported) {
    out.push_str(SCHEMA_LINE);
    out.push_str("\n#\n");
    let _ = writeln!(out, "# Written by `{}` from live state.", imported.selection.command_line());
    match &imported.selection {
        Selection::Keep(_) => {
            out.push_str(
                "# Every number below lives today where it is listed, so `wamig plan` shows it in sync and\n\
                 # reports its drift (disconnected, flagged, lower quality or limit, moved away) from now on.\n",
            );
        }
        Selection::Move(_) => {
            for (id, name) in &imported.source_names {
                let destination = imported
                    .destinations
                    .iter()
                    .find(|d| d.entries.iter().any(|e| e.source_waba.as_deref() == Some(id.as_str())));
                if let Some(destination) = destination {
                    let _ = writeln!(
                        out,
                        "# Moves every number of {} to {}.",
                        waba_label(id, name.as_deref()),
                        waba_label(&destination.waba, destination.name.as_deref())
                    );
                }
            }
            out.push_str(
                "# Review it, then `wamig plan` shows the moves and `wamig apply` makes them. Numbers that\n\
                 # cannot move are commented out, each with the reason and the fix.\n",
            );
        }
    }
    out.push_str(
        "# The schema line above expects `wamig schema > schemas/manifest.schema.json` beside this file.\n",
    );
}

fn waba_label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("WABA {id} ({})", comment_text(name)),
        None => format!("WABA {id}"),
    }
}

fn number(out: &mut String, entry: &Entry, default_register: bool) {
    let name = entry.verified_name.as_deref().map(|n| format!("  # {}", comment_text(n))).unwrap_or_default();
    let mut lines = vec![format!("- phone: {}{name}", quote(&entry.phone))];
    if let Some(source) = &entry.source_waba {
        lines.push(format!("  source_waba: {}", quote(source)));
    }
    if entry.register != default_register {
        let why = if entry.register { "registered today" } else { "not registered today" };
        lines.push(format!("  register: {}  # {why}", entry.register));
    }
    if entry.is_written() {
        for line in lines {
            let _ = writeln!(out, "      {line}");
        }
        return;
    }
    for reason in &entry.left_out {
        let _ = writeln!(out, "      # Left out: {}", comment_text(&reason.message));
        let _ = writeln!(out, "      #   fix: {}", comment_text(&reason.fix));
    }
    for line in lines {
        let _ = writeln!(out, "      # {line}");
    }
}

/// Text safe inside a `#` comment: a line break or control character from Graph would end the
/// comment and start YAML.
fn comment_text(text: &str) -> String {
    text.chars().map(|c| if breaks_yaml(c) { ' ' } else { c }).collect()
}

fn breaks_yaml(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A YAML double-quoted scalar: `\` and `"` escaped, and every character that is a control,
/// a line break or not printable in YAML written as an escape, so the value reads back as is.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if breaks_yaml(c) || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
