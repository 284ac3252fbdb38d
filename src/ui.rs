//! Owns the terminal side of wamig: whether colour is allowed, the styles used by every renderer,
//! verbosity, and the log/event stream on stderr (`--log-format text|json`). It decides how things
//! look, never what they say; it must not hold secrets (callers pass only redacted text).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// `NO_COLOR` (any non-empty value) wins over `auto`, as no-color.org asks; `always` is an
    /// explicit request and wins over it.
    pub fn enabled_for_stream(self, stream_is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                !no_color && stream_is_terminal
            }
        }
    }
}

/// `--log-format text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A style that can be switched off wholesale.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paint {
    style: Style,
    enabled: bool,
}

impl Paint {
    pub fn paint(&self, text: impl AsRef<str>) -> String {
        let text = text.as_ref();
        if self.enabled && !text.is_empty() {
            format!("{}{}{}", self.style.render(), text, self.style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

/// Every style wamig uses, so renderers share one look.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    pub error: Paint,
    pub warning: Paint,
    pub hint: Paint,
    pub bold: Paint,
    pub dim: Paint,
    pub add: Paint,
    pub change: Paint,
    pub remove: Paint,
    pub ok: Paint,
}

impl Styles {
    pub fn new(enabled: bool) -> Self {
        let paint = |style: Style| Paint { style, enabled };
        let fg = |color: AnsiColor| Style::new().fg_color(Some(color.into()));
        Self {
            error: paint(fg(AnsiColor::Red).bold()),
            warning: paint(fg(AnsiColor::Yellow).bold()),
            hint: paint(fg(AnsiColor::Cyan).bold()),
            bold: paint(Style::new().bold()),
            dim: paint(Style::new().dimmed()),
            add: paint(fg(AnsiColor::Green)),
            change: paint(fg(AnsiColor::Yellow)),
            remove: paint(fg(AnsiColor::Red)),
            ok: paint(fg(AnsiColor::Green)),
        }
    }

    pub fn plain() -> Self {
        Self::new(false)
    }
}

/// How chatty wamig is: `-q` lowers, `-v` raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub fn from_flags(verbose: u8, quiet: bool) -> Self {
        if quiet {
            return Level::Warn;
        }
        match verbose {
            0 => Level::Info,
            1 => Level::Debug,
            _ => Level::Trace,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// The shared output handle. Stdout carries results (plans, summaries); stderr carries progress,
/// warnings and events. Cloning is cheap and all clones write through one lock, so lines from
/// concurrent tasks never interleave.
#[derive(Clone)]
pub struct Ui {
    pub styles: Styles,
    pub stderr_styles: Styles,
    pub level: Level,
    pub log_format: LogFormat,
    pub stdin_is_terminal: bool,
    pub stderr_is_terminal: bool,
    sink: Arc<Mutex<Streams>>,
}

struct Streams {
    sink: Sink,
    /// The live region (apply's progress view) last drawn at the bottom of stderr; every other
    /// write erases it first and draws it again after, so lines never tear through it.
    live: Vec<String>,
}

impl Streams {
    fn new(sink: Sink) -> Self {
        Self { sink, live: Vec::new() }
    }
}

/// Moves up over `lines` drawn lines, clearing each, leaving the cursor where the first began.
fn erase_lines(out: &mut impl Write, lines: usize) {
    for _ in 0..lines {
        let _ = out.write_all(b"\x1b[1A\x1b[2K");
    }
}

fn draw_lines(out: &mut impl Write, lines: &[String]) {
    for line in lines {
        let _ = out.write_all(line.as_bytes());
        let _ = out.write_all(b"\n");
    }
}

enum Sink {
    Std,
    /// Tests capture both streams into one buffer, stderr lines prefixed with `[stderr] `.
    Captured(Vec<u8>),
}

impl Ui {
    pub fn new(color: ColorChoice, level: Level, log_format: LogFormat) -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        Self {
            styles: Styles::new(color.enabled_for_stream(stdout_tty)),
            stderr_styles: Styles::new(color.enabled_for_stream(stderr_tty)),
            level,
            log_format,
            stdin_is_terminal: std::io::stdin().is_terminal(),
            stderr_is_terminal: stderr_tty,
            sink: Arc::new(Mutex::new(Streams::new(Sink::Std))),
        }
    }

    /// A non-interactive, colourless handle whose output can be read back with `captured()`.
    pub fn capture(level: Level, log_format: LogFormat) -> Self {
        Self {
            styles: Styles::plain(),
            stderr_styles: Styles::plain(),
            level,
            log_format,
            stdin_is_terminal: false,
            stderr_is_terminal: false,
            sink: Arc::new(Mutex::new(Streams::new(Sink::Captured(Vec::new())))),
        }
    }

    pub fn captured(&self) -> String {
        match &self.sink.lock().unwrap_or_else(|e| e.into_inner()).sink {
            Sink::Captured(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Sink::Std => String::new(),
        }
    }

    /// Writes result text to stdout; control characters other than wamig's own colours are
    /// escaped (values from outside must not drive the terminal).
    pub fn out(&self, text: &str) {
        let text = &*crate::text::terminal_safe(text);
        let mut streams = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let Streams { sink, live } = &mut *streams;
        match sink {
            Sink::Std => {
                let mut stderr = std::io::stderr().lock();
                erase_lines(&mut stderr, live.len());
                let _ = stderr.flush();
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
                draw_lines(&mut stderr, live);
                let _ = stderr.flush();
            }
            Sink::Captured(buffer) => buffer.extend_from_slice(text.as_bytes()),
        }
    }

    /// Writes text to stderr (rendered errors, prompts, hand-off blocks), escaped as `out` is.
    pub fn err(&self, text: &str) {
        let text = &*crate::text::terminal_safe(text);
        let mut streams = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let Streams { sink, live } = &mut *streams;
        match sink {
            Sink::Std => {
                let mut stderr = std::io::stderr().lock();
                erase_lines(&mut stderr, live.len());
                let _ = stderr.write_all(text.as_bytes());
                draw_lines(&mut stderr, live);
                let _ = stderr.flush();
            }
            Sink::Captured(buffer) => {
                for line in text.split_inclusive('\n') {
                    buffer.extend_from_slice(b"[stderr] ");
                    buffer.extend_from_slice(line.as_bytes());
                }
            }
        }
    }

    /// Replaces the live region at the bottom of stderr with `lines` (an empty list removes
    /// it). Callers use it only when stderr is a terminal; captured output ignores it.
    pub fn set_live(&self, lines: Vec<String>) {
        let lines: Vec<String> =
            lines.into_iter().map(|line| crate::text::terminal_safe(&line).into_owned()).collect();
        let mut streams = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let Streams { sink, live } = &mut *streams;
        if let Sink::Std = sink {
            let mut stderr = std::io::stderr().lock();
            erase_lines(&mut stderr, live.len());
            draw_lines(&mut stderr, &lines);
            let _ = stderr.flush();
            *live = lines;
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    /// Emits one log event. In text mode it is a line `<level>: <message>` (info without prefix);
    /// in json mode one object per line with `level`, `event`, `message` and the fields.
    pub fn event(&self, level: Level, event: &str, message: &str, fields: serde_json::Value) {
        if !self.enabled(level) {
            return;
        }
        match self.log_format {
            LogFormat::Json => {
                let mut object = serde_json::Map::new();
                object.insert("timestamp".into(), jiff::Timestamp::now().to_string().into());
                object.insert("level".into(), level.as_str().into());
                object.insert("event".into(), event.into());
                object.insert("message".into(), message.into());
                if let serde_json::Value::Object(extra) = fields {
                    object.extend(extra);
                }
                let line = serde_json::Value::Object(object).to_string();
                self.err(&format!("{line}\n"));
            }
            LogFormat::Text => {
                let message = crate::text::escape_lines(message);
                let s = &self.stderr_styles;
                let line = match level {
                    Level::Error => format!("{}: {message}\n", s.error.paint("error")),
                    Level::Warn => format!("{}: {message}\n", s.warning.paint("warning")),
                    Level::Info => format!("{message}\n"),
                    Level::Debug | Level::Trace => format!("{}\n", s.dim.paint(message)),
                };
                self.err(&line);
            }
        }
    }

    /// An event only machine readers want (`plan_ready`, `summary` counts): emitted in json mode,
    /// silent in text mode where the same facts are already printed for people.
    pub fn machine_event(&self, level: Level, event: &str, message: &str, fields: serde_json::Value) {
        if self.log_format == LogFormat::Json {
            self.event(level, event, message, fields);
        }
    }

    pub fn info(&self, event: &str, message: &str) {
        self.event(Level::Info, event, message, serde_json::Value::Null);
    }

    pub fn warn(&self, event: &str, message: &str) {
        self.event(Level::Warn, event, message, serde_json::Value::Null);
    }

    pub fn debug(&self, event: &str, message: &str) {
        self.event(Level::Debug, event, message, serde_json::Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_is_plain_when_disabled() {
        let styles = Styles::plain();
        assert_eq!(styles.error.paint("x"), "x");
        let coloured = Styles::new(true);
        assert!(coloured.error.paint("x").contains("\u{1b}["));
    }

    #[test]
    fn json_events_are_one_object_per_line() {
        let ui = Ui::capture(Level::Info, LogFormat::Json);
        ui.event(Level::Info, "plan_ready", "plan ready", serde_json::json!({"numbers": 3}));
        ui.debug("hidden", "not shown at info");
        let text = ui.captured();
        let line = text.strip_prefix("[stderr] ").unwrap().trim_end();
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["event"], "plan_ready");
        assert_eq!(value["numbers"], 3);
        assert_eq!(text.lines().count(), 1);
    }
}
