//! Owns the Markdown rendering for pull-request comments (README.md): summary table first, the
//! plan digest, a table of numbers, then per number a folded `<details>` with its checklist,
//! steps, template forecast and a `diff` block (made with `similar`) of current against desired
//! state. It guarantees the comment fits GitHub's 65,536-character limit by cutting per-number
//! detail, never the summary. Text from Graph (names, reasons) is escaped: it must not be able to
//! break the comment's structure.

use similar::{ChangeTag, TextDiff};

use super::{
    TemplateLine, count_checks, destination_label, drift_line, drift_suffix, headline, source_label,
    steps_line, summary_line, symbol, template_headline, template_lines, template_summary, template_symbol,
};
use crate::plan::drift::Severity;
use crate::plan::model::{Action, CheckStatus, Label, NumberPlan, Plan};

/// GitHub's limit on a comment's body.
pub const MAX_CHARS: usize = 65_536;
/// The summary, tables and details stop before this; the rest is room for the closing note.
const DETAILS_BUDGET: usize = 60_000;
/// The numbers table stops here, and the unmanaged list at the next mark, so that each of them
/// and some details always fit.
const TABLE_BUDGET: usize = 24_000;
const UNMANAGED_BUDGET: usize = 30_000;
/// Destinations' templates stop here, between the numbers table and the unmanaged list.
const TEMPLATES_BUDGET: usize = 27_000;

/// Renders the plan for a pull-request comment. Lengths are counted in bytes, which is never
/// less than GitHub's character count, so the limit holds for any text.
pub fn markdown(plan: &Plan) -> String {
    let plan = &*super::terminal_safe(plan);
    let mut out = String::new();
    out.push_str("## wamig plan\n\n");
    out.push_str("| to migrate | to resume | in sync | blocked | unmanaged |\n");
    out.push_str("|---:|---:|---:|---:|---:|\n");
    let s = &plan.summary;
    out.push_str(&format!(
        "| {} | {} | {} | {} | {} |\n\n",
        s.migrate, s.resume, s.in_sync, s.blocked, s.unmanaged
    ));
    out.push_str(&format!("**{}**\n\n", summary_line(s)));
    out.push_str(&format!(
        "Plan digest `{}` · made {} · Graph {} · manifest `{}` · live state `{}` · a saved plan is valid for {}\n\n",
        plan.digest,
        escape(&plan.created_at),
        escape(&plan.api_version),
        short(&plan.manifest_digest),
        short(&plan.snapshot_digest),
        duration(plan.ttl_seconds),
    ));
    if s.blocked > 0 {
        out.push_str(&format!(
            "> [!CAUTION]\n> {} blocked by a failed eligibility check: `wamig apply` will not touch {} until the check passes. See the hints below.\n\n",
            if s.blocked == 1 { "1 number is".to_owned() } else { format!("{} numbers are", s.blocked) },
            if s.blocked == 1 { "it" } else { "them" },
        ));
    }
    if let Some(line) = drift_line(plan) {
        out.push_str(&format!("> [!WARNING]\n> {} See each number's drift below.\n\n", escape(&line)));
    }
    if !plan.notes.is_empty() {
        for note in &plan.notes {
            out.push_str(&format!("- {}\n", escape(note)));
        }
        out.push('\n');
    }

    let ordered = review_order(plan);
    if !ordered.is_empty() {
        out.push_str(
            "### Numbers\n\n| | number | action | from | to | what happens |\n|---|---|---|---|---|---|\n",
        );
        let mut cut = 0;
        for number in &ordered {
            let row = table_row(number);
            if cut > 0 || out.len() + row.len() > TABLE_BUDGET {
                cut += 1;
            } else {
                out.push_str(&row);
            }
        }
        if cut > 0 {
            out.push_str(&format!(
                "\n*… {cut} more number{} not listed in this table; run `wamig show plan.json` or see the JSON plan.*\n",
                plural(cut)
            ));
        }
        out.push('\n');
    }

    if !plan.destinations.is_empty() {
        // Bounded: each list names at most a few templates before "and N more".
        out.push_str("### Templates\n\n");
        let mut cut = 0;
        for destination in &plan.destinations {
            let mut block = format!(
                "**{}** {}\n",
                escape(template_symbol(destination)),
                escape(&template_headline(destination))
            );
            for (kind, line) in template_lines(destination) {
                let mark = match kind {
                    TemplateLine::Add => "➕ ",
                    TemplateLine::Missing => "⚠️ ",
                    TemplateLine::Unknown => "❔ ",
                    TemplateLine::Info => "",
                };
                block.push_str(&format!("- {mark}{}\n", escape(&line)));
            }
            block.push('\n');
            if cut > 0 || out.len() + block.len() > TEMPLATES_BUDGET {
                cut += 1;
            } else {
                out.push_str(&block);
            }
        }
        if cut > 0 {
            out.push_str(&format!(
                "*… templates of {cut} more destination{} not shown; see the JSON plan.*\n\n",
                plural(cut)
            ));
        }
    }

    if !plan.unmanaged.is_empty() {
        out.push_str(&format!(
            "<details>\n<summary>{} unmanaged number{} (in a destination WABA, not in the manifest; wamig leaves them alone)</summary>\n\n",
            plan.unmanaged.len(),
            plural(plan.unmanaged.len())
        ));
        let mut cut = 0;
        for unmanaged in &plan.unmanaged {
            let mut facts = Vec::new();
            if let Some(id) = &unmanaged.id {
                facts.push(format!("id {}", escape(id)));
            }
            if let Some(status) = &unmanaged.status {
                facts.push(escape(status.as_str()));
            }
            let facts = if facts.is_empty() { String::new() } else { format!(" ({})", facts.join(", ")) };
            let line = format!("- `{}` in WABA {}{facts}\n", code(&unmanaged.phone), escape(&unmanaged.waba));
            if cut > 0 || out.len() + line.len() > UNMANAGED_BUDGET {
                cut += 1;
            } else {
                out.push_str(&line);
            }
        }
        if cut > 0 {
            out.push_str(&format!("- *… and {cut} more; see the JSON plan*\n"));
        }
        out.push_str("\n</details>\n\n");
    }

    if !ordered.is_empty() {
        out.push_str("### Details\n\n");
        let mut cut = 0;
        for number in &ordered {
            let block = details(number);
            if cut > 0 || out.len() + block.len() > DETAILS_BUDGET {
                cut += 1;
            } else {
                out.push_str(&block);
            }
        }
        if cut > 0 {
            out.push_str(&format!(
                "*… details of {cut} more number{} cut to fit the comment; run `wamig show plan.json` or see the JSON plan.*\n",
                plural(cut)
            ));
        }
    }
    out
}

/// Blocked numbers first (they need someone to act), then changes, then what is already done,
/// drifted before the rest; manifest order within each group.
fn review_order(plan: &Plan) -> Vec<&NumberPlan> {
    let rank = |number: &NumberPlan| match number.action {
        Action::Blocked => 0,
        Action::Migrate => 1,
        Action::Resume => 2,
        Action::InSync if !number.drift.is_empty() => 3,
        Action::InSync => 4,
    };
    let mut ordered: Vec<&NumberPlan> = plan.numbers.iter().collect();
    ordered.sort_by_key(|number| rank(number));
    ordered
}

fn table_row(number: &NumberPlan) -> String {
    let what = match number.action {
        Action::Blocked => {
            let failed: Vec<&str> = number
                .checks
                .iter()
                .filter(|check| check.status == CheckStatus::Fail)
                .map(|check| check.id.as_ref())
                .collect();
            format!("fails {}", failed.join(", "))
        }
        Action::InSync => "nothing to do".to_owned(),
        _ => steps_line(number),
    };
    let what = if number.drift.is_empty() {
        what
    } else {
        let ids: Vec<&str> = number.drift.iter().map(|d| d.id.as_str()).collect();
        format!("{what}; drifted: {}", ids.join(", "))
    };
    let to = match &number.destination_name {
        Some(name) => format!("{} ({})", number.destination_waba, name),
        None => number.destination_waba.clone(),
    };
    format!(
        "| {} | `{}` | {} | {} | {} | {} |\n",
        symbol(number.action),
        code(&number.phone),
        number.action.as_str(),
        cell(number.source_waba.as_deref().unwrap_or("unknown")),
        cell(&to),
        cell(&what),
    )
}

fn details(number: &NumberPlan) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "<details>\n<summary><b>{}</b> <code>{}</code> {}</summary>\n\n",
        html(symbol(number.action)),
        html(&number.phone),
        html(&format!("{}{}", headline(number), drift_suffix(number))),
    ));
    let mut route = match number.action {
        Action::InSync => format!("In {}", escape(&destination_label(number))),
        _ => format!("From {} to {}", escape(&source_label(number)), escape(&destination_label(number))),
    };
    if let Some(id) = &number.phone_number_id {
        route.push_str(&format!(" · phone number id in the destination `{}`", code(id)));
    }
    if let Some(line) = number.manifest_line {
        route.push_str(&format!(" · manifest line {line}"));
    }
    out.push_str(&route);
    out.push_str("\n\n");

    if !number.checks.is_empty() {
        let passed = count_checks(number, CheckStatus::Pass);
        let failed = count_checks(number, CheckStatus::Fail);
        let unknown = count_checks(number, CheckStatus::Unknown);
        out.push_str(&format!("**Checks:** {passed} passed, {failed} failed, {unknown} unknown\n\n"));
        for status in [CheckStatus::Fail, CheckStatus::Unknown, CheckStatus::Pass] {
            let listed: Vec<_> = number.checks.iter().filter(|check| check.status == status).collect();
            for (i, check) in listed.iter().enumerate() {
                let item = match status {
                    CheckStatus::Pass => format!("- [x] `{}`: {}", code(&check.id), escape(&check.message)),
                    CheckStatus::Fail => {
                        format!("- [ ] ❌ **`{}`**: {}", code(&check.id), escape(&check.message))
                    }
                    CheckStatus::Unknown => {
                        format!("- [ ] ❔ `{}` (unknown): {}", code(&check.id), escape(&check.message))
                    }
                };
                out.push_str(&item);
                // Checks that share a cause share a hint: say it once, after the last of them.
                let next_hint = listed.get(i + 1).and_then(|next| next.hint.as_ref());
                if let Some(hint) = &check.hint
                    && status != CheckStatus::Pass
                    && next_hint != Some(hint)
                {
                    out.push_str(&format!("<br>*hint:* {}", escape(hint)));
                }
                out.push('\n');
            }
        }
        out.push('\n');
    }

    if !number.drift.is_empty() {
        out.push_str("**Drift** (not a change; wamig applies nothing for it)\n\n");
        for item in &number.drift {
            let mark = match item.severity {
                Severity::Critical => "❗",
                Severity::Warning => "⚠️",
            };
            out.push_str(&format!(
                "- {mark} **`{}`** ({}): {}<br>*hint:* {}\n",
                code(&item.id),
                item.severity.as_str(),
                escape(&item.message),
                escape(&item.hint)
            ));
        }
        out.push('\n');
    }

    if !number.steps.is_empty() {
        let title = if number.action == Action::Blocked { "Steps once unblocked" } else { "Steps" };
        out.push_str(&format!("**{title}:** {}\n\n", escape(&steps_line(number))));
    }
    if let Some(at) = &number.code_requested_at {
        let digits = number.phone.trim_start_matches('+');
        out.push_str(&format!(
            "**Awaiting the code** requested by {} at {}: give it to `wamig apply` as `WAMIG_CODE_{}` or in `<codes-dir>/{}`.\n\n",
            escape(&number.code_method),
            escape(at),
            code(digits),
            code(digits),
        ));
    }
    if let Some(forecast) = &number.templates {
        let (summary, details) = template_summary(forecast, number);
        out.push_str(&format!("**Templates:** {}\n", escape(&summary)));
        for detail in details {
            out.push_str(&format!("- {}\n", escape(&detail)));
        }
        out.push('\n');
    }
    out.push_str(&diff_block(number));
    if !number.notes.is_empty() {
        out.push_str("**Notes**\n");
        for note in &number.notes {
            out.push_str(&format!("- {}\n", escape(note)));
        }
        out.push('\n');
    }
    out.push_str("</details>\n\n");
    out
}

/// Current state against desired as a unified-looking diff: unchanged lines (what moves with
/// the number) stay as context so a reviewer sees the whole picture.
fn diff_block(number: &NumberPlan) -> String {
    let render = |lines: &[(Label, String)]| -> String {
        lines.iter().map(|(key, value)| format!("{}: {}\n", one_line(key), one_line(value))).collect()
    };
    let old = render(&number.current);
    let new = render(&number.desired);
    let diff = TextDiff::from_lines(old.as_str(), new.as_str());
    let mut body = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
            ChangeTag::Equal => ' ',
        };
        body.push(sign);
        body.push_str(change.value());
        if !body.ends_with('\n') {
            body.push('\n');
        }
    }
    let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
    format!("{fence}diff\n{body}{fence}\n\n")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn short(digest: &str) -> String {
    escape(&digest.chars().take(12).collect::<String>())
}

fn duration(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{} h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

/// Escapes for HTML inside `<summary>`.
fn html(text: &str) -> String {
    one_line(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Content of a code span: a backtick would end it early, so it becomes a quote.
fn code(text: &str) -> String {
    one_line(text).replace('`', "'")
}

/// Inline Markdown from plan text. Our messages mark code with backtick pairs, which are kept;
/// everything else that Markdown or HTML would interpret is escaped. Unpaired backticks (from a
/// name read from Graph, say) are escaped too.
fn escape(text: &str) -> String {
    let text = one_line(text);
    let parts: Vec<&str> = text.split('`').collect();
    let paired = parts.len() % 2 == 1;
    let mut out = String::with_capacity(text.len());
    for (i, part) in parts.iter().enumerate() {
        if paired && i % 2 == 1 {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            if !paired && i > 0 {
                out.push_str("\\`");
            }
            escape_plain(part, &mut out);
        }
    }
    out
}

fn escape_plain(text: &str, out: &mut String) {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // GFM never reads an underscore between two word characters as emphasis, so
            // `name_status` stays readable in the comment's source.
            '_' if i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|next| next.is_alphanumeric()) =>
            {
                out.push('_')
            }
            '\\' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

/// A table cell: no code spans (a pipe inside one would still split the cell), all escaped.
fn cell(text: &str) -> String {
    escape(&text.replace('`', "'"))
}
