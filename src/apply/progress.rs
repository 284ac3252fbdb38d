//! Owns apply's live progress view on a terminal: one line per number with what it is doing
//! now, a spinner while a call runs or a code is awaited (with the time left under
//! `--wait-for-codes`), redrawn in place at the bottom of stderr through `Ui::set_live`. It is
//! used only when stderr is a terminal and logs are text; everywhere else apply's plain log
//! lines stand alone. It decides how progress looks, never what apply does, and it only ever
//! sees phone numbers and step texts, never a secret.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::ui::{Level, Styles, Ui};

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// How often the view is redrawn, so spinners turn and countdowns count.
pub const TICK: Duration = Duration::from_millis(120);

/// Where one number stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowState {
    /// Not started yet (waiting for a `--parallelism` slot).
    Queued,
    /// A step is under way; the text says which.
    Working(String),
    /// Waiting for a verification code, until `until` when `--wait-for-codes` bounds the wait;
    /// `hint` says where the code goes.
    Waiting {
        what: String,
        hint: String,
        until: Option<Instant>,
    },
    Done(String),
    Failed(String),
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub phone: String,
    pub state: RowState,
}

/// The view's lines for `rows` at spinner frame `tick`, each cut to fit `width` columns so the
/// terminal never wraps one (which would break redrawing in place). Pure: tested without a
/// terminal.
pub fn render(rows: &[Row], tick: usize, now: Instant, width: usize, styles: &Styles) -> Vec<String> {
    let count = |f: fn(&RowState) -> bool| rows.iter().filter(|r| f(&r.state)).count();
    let parts = [
        (count(|s| matches!(s, RowState::Done(_))), "done"),
        (count(|s| matches!(s, RowState::Working(_))), "in progress"),
        (count(|s| matches!(s, RowState::Waiting { .. })), "waiting for a code"),
        (count(|s| matches!(s, RowState::Queued)), "queued"),
        (count(|s| matches!(s, RowState::Failed(_))), "failed"),
        (count(|s| matches!(s, RowState::Interrupted)), "interrupted"),
    ];
    let summary: Vec<String> =
        parts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    let mut lines = vec![styles.bold.paint(fit(&format!("Applying: {}", summary.join(", ")), width))];
    let phone_width = rows.iter().map(|r| r.phone.chars().count()).max().unwrap_or(0);
    let frame = SPINNER[tick % SPINNER.len()];
    for row in rows {
        let (icon, paint, text) = match &row.state {
            RowState::Queued => ('·', styles.dim, "queued".to_owned()),
            RowState::Working(what) => (frame, styles.hint, what.clone()),
            // The time left comes before the hint, which is what a narrow terminal cuts.
            RowState::Waiting { what, hint, until: Some(until) } => {
                let left = crate::duration::display_seconds(until.saturating_duration_since(now));
                (frame, styles.warning, format!("{what} ({left} left): {hint}"))
            }
            // Not waiting any longer in this run: no spinner.
            RowState::Waiting { what, hint, until: None } => ('…', styles.warning, format!("{what}: {hint}")),
            RowState::Done(what) => ('✓', styles.ok, what.clone()),
            RowState::Failed(what) => ('✗', styles.error, what.clone()),
            RowState::Interrupted => ('!', styles.warning, "interrupted; progress saved".to_owned()),
        };
        let plain = format!("  {icon} {:<phone_width$}  {text}", row.phone);
        let fitted = fit(&plain, width);
        // Only the icon is coloured: cutting never splits an escape sequence.
        let rest: String = fitted.chars().skip(3).collect();
        lines.push(format!("  {}{rest}", paint.paint(icon.to_string())));
    }
    lines
}

/// Cuts `text` to at most `width - 1` characters (the last column is left free: some
/// terminals wrap when it is written), marking the cut with `…`.
fn fit(text: &str, width: usize) -> String {
    let max = width.saturating_sub(1).max(10);
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The live view of one apply.
pub struct Progress {
    ui: Ui,
    rows: Mutex<Vec<Row>>,
    tick: AtomicUsize,
    width: usize,
}

impl Progress {
    pub fn new(ui: Ui, phones: impl IntoIterator<Item = String>) -> Progress {
        let rows = phones.into_iter().map(|phone| Row { phone, state: RowState::Queued }).collect();
        Progress { ui, rows: Mutex::new(rows), tick: AtomicUsize::new(0), width: terminal_width() }
    }

    pub fn set(&self, phone: &str, state: RowState) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(row) = rows.iter_mut().find(|r| r.phone == phone) {
            row.state = state;
        }
    }

    /// Takes in one of apply's per-number events. Returns whether the event still needs its
    /// plain log line: progress news is shown in the view instead, warnings and errors are
    /// printed above it as well.
    pub fn observe(&self, phone: &str, level: Level, event: &str, message: &str) -> bool {
        match event {
            "step_started" | "step_finished" | "step_skipped" | "retry" => {
                self.set(phone, RowState::Working(message.to_owned()))
            }
            "step_failed" => self.set(phone, RowState::Failed(message.to_owned())),
            "verified" => self.set(phone, RowState::Done("migrated".to_owned())),
            _ => {}
        }
        self.redraw();
        level <= Level::Warn
    }

    pub fn redraw(&self) {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let lines = {
            let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            render(&rows, tick, Instant::now(), self.width, &self.ui.stderr_styles)
        };
        self.ui.set_live(lines);
    }

    /// Leaves the final view on the terminal as ordinary lines, so what follows prints below it.
    pub fn finish(&self) {
        let lines = {
            let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            render(&rows, 0, Instant::now(), self.width, &self.ui.stderr_styles)
        };
        self.ui.set_live(Vec::new());
        self.ui.err(&format!("{}\n", lines.join("\n")));
    }
}

/// The terminal's width in columns: `stty size` on the controlling terminal (no crate needed),
/// else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    let from_stty = std::fs::File::open("/dev/tty")
        .ok()
        .and_then(|tty| std::process::Command::new("stty").arg("size").stdin(tty).output().ok())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).and_then(|c| c.parse::<usize>().ok()));
    from_stty
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()))
        .filter(|w| *w >= 20)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phone: &str, state: RowState) -> Row {
        Row { phone: phone.to_owned(), state }
    }

    #[test]
    fn one_line_per_number_under_a_summary() {
        let now = Instant::now();
        let rows = vec![
            row("+16315550101", RowState::Done("migrated".into())),
            row("+16315550102", RowState::Working("requesting a code by SMS".into())),
            row(
                "+442079460958",
                RowState::Waiting {
                    what: "waiting for the code sent by SMS".into(),
                    hint: "put it in .wamig/codes/442079460958".into(),
                    until: Some(now + Duration::from_secs(845)),
                },
            ),
            row(
                "+16315550107",
                RowState::Waiting {
                    what: "code sent by SMS".into(),
                    hint: "export WAMIG_CODE_16315550107 or put it in .wamig/codes/16315550107".into(),
                    until: None,
                },
            ),
            row("+16315550104", RowState::Failed("initiate_migration: display name not approved".into())),
            row("+16315550105", RowState::Queued),
            row("+16315550106", RowState::Interrupted),
        ];
        let lines = render(&rows, 0, now, 120, &Styles::plain());
        insta::assert_snapshot!(lines.join("\n"), @r"
        Applying: 1 done, 1 in progress, 2 waiting for a code, 1 queued, 1 failed, 1 interrupted
          ✓ +16315550101   migrated
          ⠋ +16315550102   requesting a code by SMS
          ⠋ +442079460958  waiting for the code sent by SMS (14m05s left): put it in .wamig/codes/442079460958
          … +16315550107   code sent by SMS: export WAMIG_CODE_16315550107 or put it in .wamig/codes/16315550107
          ✗ +16315550104   initiate_migration: display name not approved
          · +16315550105   queued
          ! +16315550106   interrupted; progress saved
        ");
    }

    #[test]
    fn the_spinner_turns_with_the_tick_and_the_countdown_runs_down() {
        let now = Instant::now();
        let rows = vec![row(
            "+16315550102",
            RowState::Waiting {
                what: "waiting for the code".into(),
                hint: "put it in .wamig/codes/16315550102".into(),
                until: Some(now + Duration::from_secs(5)),
            },
        )];
        let first = render(&rows, 0, now, 80, &Styles::plain());
        let next = render(&rows, 1, now + Duration::from_secs(2), 80, &Styles::plain());
        assert!(first[1].contains('⠋') && first[1].contains("(5s left)"), "{first:?}");
        assert!(next[1].contains('⠙') && next[1].contains("(3s left)"), "{next:?}");
        let over = render(&rows, 2, now + Duration::from_secs(9), 80, &Styles::plain());
        assert!(over[1].contains("(0s left)"), "{over:?}");
    }

    #[test]
    fn lines_never_wrap_even_when_coloured() {
        let rows = vec![row("+16315550102", RowState::Failed("x".repeat(300)))];
        for styles in [Styles::plain(), Styles::new(true)] {
            let lines = render(&rows, 0, Instant::now(), 40, &styles);
            let visible = |line: &str| {
                // Drop ANSI sequences (ESC [ ... letter) to count what the terminal shows.
                let mut count = 0;
                let mut chars = line.chars();
                while let Some(c) = chars.next() {
                    if c == '\u{1b}' {
                        for c in chars.by_ref() {
                            if c.is_ascii_alphabetic() {
                                break;
                            }
                        }
                    } else {
                        count += 1;
                    }
                }
                count
            };
            assert!(lines.iter().all(|l| visible(l) <= 39), "{lines:?}");
            assert!(lines[1].ends_with('…'), "{lines:?}");
        }
    }

    #[test]
    fn progress_news_replaces_log_lines_but_warnings_still_print() {
        let ui = Ui::capture(Level::Info, crate::ui::LogFormat::Text);
        let progress = Progress::new(ui.clone(), ["+16315550102".to_owned()]);
        assert!(!progress.observe("+16315550102", Level::Info, "step_started", "starting the migration"));
        assert_eq!(
            progress.rows.lock().unwrap()[0].state,
            RowState::Working("starting the migration".into())
        );
        assert!(progress.observe("+16315550102", Level::Warn, "retry", "throttled; trying again in 2s"));
        assert!(progress.observe("+16315550102", Level::Error, "step_failed", "refused"));
        assert_eq!(progress.rows.lock().unwrap()[0].state, RowState::Failed("refused".into()));
        assert!(ui.captured().is_empty(), "captured output has no live region");
    }
}
