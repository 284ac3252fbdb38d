//! Owns where verification codes and PINs come from (README.md): a code for a number is looked up
//! in `WAMIG_CODE_<digits>`, then `<codes-dir>/<digits>`, then (on a terminal) a hidden prompt;
//! a PIN comes from the manifest's `{env}`/`{file}` reference. Every value is checked to be exactly
//! six digits (surrounding whitespace ignored) and wrapped in `Secret` at once; error messages
//! say where a bad value came from, never what it was.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::manifest::{PhoneNumber, SecretRef};
use crate::secret::Secret;

/// The environment variable that may hold a number's code.
pub fn code_env_var(phone: &PhoneNumber) -> String {
    format!("WAMIG_CODE_{}", phone.digits())
}

/// The file that may hold a number's code.
pub fn code_file(codes_dir: &Path, phone: &PhoneNumber) -> PathBuf {
    codes_dir.join(phone.digits())
}

/// Where a code was found; files are removed once their code has been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSource {
    Env(String),
    File(PathBuf),
    Prompt,
}

impl std::fmt::Display for CodeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeSource::Env(name) => write!(f, "environment variable {name}"),
            CodeSource::File(path) => write!(f, "file {}", path.display()),
            CodeSource::Prompt => f.write_str("the prompt"),
        }
    }
}

#[derive(Debug)]
pub enum CodeLookup {
    Found {
        code: Secret,
        source: CodeSource,
    },
    Missing,
    /// Present but not six digits, or present and unreadable (a directory, a FIFO, a file that
    /// cannot be read): no verify call may be made with it.
    Invalid {
        source: CodeSource,
        problem: String,
    },
}

/// A code file holds six digits and a line break; anything much longer is not a code, and a
/// code is never read from a FIFO or a device.
pub const MAX_CODE_FILE_BYTES: u64 = 64;

/// Why an existing code or PIN file could not be used, in words for the message.
fn unreadable(error: &std::io::Error) -> String {
    match crate::files::refusal(error) {
        Some(refusal) => refusal.to_string(),
        None if error.kind() == std::io::ErrorKind::PermissionDenied => {
            "it cannot be read: permission denied".to_owned()
        }
        None => format!("it cannot be read: {error}"),
    }
}

/// Checks a code or PIN: exactly six ASCII digits once surrounding whitespace is removed.
pub fn six_digits(raw: &str) -> Result<Secret, &'static str> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("it is empty");
    }
    if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err("it holds characters other than digits");
    }
    if trimmed.len() != 6 {
        return Err("it does not have exactly 6 digits");
    }
    Ok(Secret::new(trimmed))
}

/// Looks for a number's code in the environment, then the codes directory (not the prompt:
/// prompting is the caller's choice, made only on a terminal).
pub fn lookup(phone: &PhoneNumber, codes_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> CodeLookup {
    let var = code_env_var(phone);
    if let Some(value) = env(&var) {
        let source = CodeSource::Env(var);
        return match six_digits(&value) {
            Ok(code) => CodeLookup::Found { code, source },
            Err(problem) => CodeLookup::Invalid { source, problem: problem.to_owned() },
        };
    }
    let path = code_file(codes_dir, phone);
    // Only a file that is not there means "no code yet": one that is there but cannot be read
    // is the user's input too, and telling them to write it would send them in circles.
    match crate::files::read_bounded(&path, MAX_CODE_FILE_BYTES, crate::files::Links::Follow) {
        Ok(bytes) => {
            let source = CodeSource::File(path);
            match std::str::from_utf8(&bytes).map_err(|_| "it is not text").and_then(six_digits) {
                Ok(code) => CodeLookup::Found { code, source },
                Err(problem) => CodeLookup::Invalid { source, problem: problem.to_owned() },
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => CodeLookup::Missing,
        Err(error) => CodeLookup::Invalid { source: CodeSource::File(path), problem: unreadable(&error) },
    }
}

/// Removes a code file after its code was accepted, so it is never replayed.
pub fn consume(source: &CodeSource) -> std::io::Result<()> {
    match source {
        CodeSource::File(path) => match std::fs::remove_file(path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Asks for a code on the terminal without echoing it. `None` when there is no terminal or the
/// user enters nothing (they may prefer to supply it later).
pub fn prompt_hidden(question: &str) -> Option<Secret> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question}");
    let _ = stderr.flush();
    let echo_off = EchoOff::new();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    drop(echo_off);
    let _ = writeln!(stderr);
    match read {
        Ok(_) if !line.trim().is_empty() => Some(Secret::new(line.trim())),
        _ => None,
    }
}

/// Turns terminal echo off for as long as it lives (via `stty`, which every Unix terminal has;
/// a few lines instead of a crate).
struct EchoOff {
    active: bool,
}

impl EchoOff {
    fn new() -> Self {
        let active = Self::stty("-echo");
        Self { active }
    }

    fn stty(arg: &str) -> bool {
        std::fs::File::open("/dev/tty")
            .ok()
            .and_then(|tty| std::process::Command::new("stty").arg(arg).stdin(tty).status().ok())
            .is_some_and(|status| status.success())
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if self.active {
            Self::stty("echo");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("the PIN for {phone} is not set: environment variable {name} is empty or missing")]
    EnvMissing { phone: String, name: String },
    #[error("cannot read the PIN for {phone} from {}", path.display())]
    FileUnreadable {
        phone: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the PIN for {phone} from {origin} is not valid: {problem}")]
    Invalid { phone: String, origin: String, problem: &'static str },
}

impl ToDiagnostics for PinError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            PinError::EnvMissing { name, .. } => format!(
                "export {name} with the 6-digit PIN the number will have after registration (in CI, from a secret)"
            ),
            PinError::FileUnreadable { path, .. } => {
                format!("create {} holding the 6-digit PIN, readable by wamig", path.display())
            }
            PinError::Invalid { .. } => {
                "a PIN is exactly 6 digits; it becomes the number's two-step verification PIN".to_owned()
            }
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

/// Reads and checks the PIN a number will be registered with.
pub fn resolve_pin(
    phone: &PhoneNumber,
    reference: &SecretRef,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, PinError> {
    let phone = phone.e164();
    match reference {
        SecretRef::Env { env: name } => {
            let value = env(name).filter(|v| !v.trim().is_empty());
            let value =
                value.ok_or_else(|| PinError::EnvMissing { phone: phone.clone(), name: name.clone() })?;
            six_digits(&value).map_err(|problem| PinError::Invalid {
                phone,
                origin: format!("environment variable {name}"),
                problem,
            })
        }
        SecretRef::File { file } => {
            let text =
                crate::files::read_text_bounded(file, MAX_CODE_FILE_BYTES, crate::files::Links::Follow)
                    .map_err(|source| PinError::FileUnreadable {
                        phone: phone.clone(),
                        path: file.clone(),
                        source,
                    })?;
            six_digits(&text).map_err(|problem| PinError::Invalid {
                phone,
                origin: format!("file {}", file.display()),
                problem,
            })
        }
    }
}

/// Reads the process environment; tests pass their own closure instead.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+1 631-555-5555").unwrap()
    }

    #[test]
    fn codes_are_six_digits_with_whitespace_ignored() {
        assert_eq!(six_digits(" 123456\n").unwrap().expose(), "123456");
        assert!(six_digits("12345").is_err());
        assert!(six_digits("1234567").is_err());
        assert!(six_digits("12 456").is_err());
        assert!(six_digits("١٢٣٤٥٦").is_err(), "only ASCII digits");
        assert!(six_digits("").is_err());
    }

    #[test]
    fn environment_wins_over_the_codes_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(code_file(dir.path(), &phone()), "111111\n").unwrap();
        let env = |name: &str| (name == "WAMIG_CODE_16315555555").then(|| "222222".to_owned());
        match lookup(&phone(), dir.path(), &env) {
            CodeLookup::Found { code, source } => {
                assert_eq!(code.expose(), "222222");
                assert_eq!(source, CodeSource::Env("WAMIG_CODE_16315555555".into()));
            }
            other => panic!("{other:?}"),
        }
        match lookup(&phone(), dir.path(), &|_| None) {
            CodeLookup::Found { code, source: source @ CodeSource::File(_) } => {
                assert_eq!(code.expose(), "111111");
                consume(&source).unwrap();
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(lookup(&phone(), dir.path(), &|_| None), CodeLookup::Missing));
    }

    #[test]
    fn an_invalid_code_names_its_source_not_its_value() {
        let env = |_: &str| Some("12345x".to_owned());
        match lookup(&phone(), Path::new("/nonexistent"), &env) {
            CodeLookup::Invalid { source, problem } => {
                assert_eq!(source.to_string(), "environment variable WAMIG_CODE_16315555555");
                assert!(!problem.contains("12345x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_code_path_that_cannot_be_read_is_invalid_input_not_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = code_file(dir.path(), &phone());
        let invalid = |problem_part: &str| match lookup(&phone(), dir.path(), &|_| None) {
            CodeLookup::Invalid { source, problem } => {
                assert_eq!(source, CodeSource::File(path.clone()));
                assert!(problem.contains(problem_part), "{problem}");
            }
            other => panic!("{other:?}"),
        };
        std::fs::create_dir(&path).unwrap();
        invalid("is a directory");
        std::fs::remove_dir(&path).unwrap();
        std::fs::write(&path, format!("123456{}", " ".repeat(100))).unwrap();
        invalid("larger than 64 bytes");
        #[cfg(unix)]
        {
            std::fs::remove_file(&path).unwrap();
            assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
            // Nobody writes to the FIFO: reading it would block for ever.
            invalid("a FIFO");
            std::fs::remove_file(&path).unwrap();
            std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
            invalid("a device");
        }
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(lookup(&phone(), dir.path(), &|_| None), CodeLookup::Missing));
        // A codes directory that does not exist yet holds no code, which is not an error.
        assert!(matches!(lookup(&phone(), &dir.path().join("none"), &|_| None), CodeLookup::Missing));
    }

    #[test]
    fn pins_resolve_from_env_or_file_and_errors_never_show_them() {
        let env = |name: &str| (name == "WAMIG_PIN").then(|| "654321".to_owned());
        let pin = resolve_pin(&phone(), &SecretRef::Env { env: "WAMIG_PIN".into() }, &env).unwrap();
        assert_eq!(pin.expose(), "654321");
        let bad = |_: &str| Some("65432".to_owned());
        let error = resolve_pin(&phone(), &SecretRef::Env { env: "WAMIG_PIN".into() }, &bad).unwrap_err();
        assert!(!error.to_string().contains("65432"), "{error}");
        let missing = resolve_pin(&phone(), &SecretRef::Env { env: "NOPE".into() }, &|_| None).unwrap_err();
        assert!(matches!(missing, PinError::EnvMissing { .. }));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pin");
        std::fs::write(&file, "123123\n").unwrap();
        assert_eq!(resolve_pin(&phone(), &SecretRef::File { file }, &|_| None).unwrap().expose(), "123123");
    }
}
