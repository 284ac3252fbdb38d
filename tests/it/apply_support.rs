//! Helpers shared by the apply tests: manifests for the example world, running `wamig apply`
//! with short waits, and reading the sandbox request log.

// Helpers are shared by every apply test module; not each module uses each one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{DESTINATION_WABA, Rig, SOURCE_WABA, transcript};

/// Example-world numbers that can migrate. `+1 631-555-0101` fails its first register with
/// 2388001; `+1 631-555-0103` is an On-Premises number.
pub const SUPPORT: &str = "+1 631-555-0101";
pub const ORDERS: &str = "+1 631-555-0102";
pub const RETURNS: &str = "+1 631-555-0103";
pub const SUPPORT_DIGITS: &str = "16315550101";
pub const ORDERS_DIGITS: &str = "16315550102";
pub const RETURNS_DIGITS: &str = "16315550103";

/// A manifest moving `phones` from the example source to the example destination, registered
/// with the PIN in `WAMIG_PIN`.
pub fn manifest(phones: &[&str]) -> String {
    manifest_to(DESTINATION_WABA, phones)
}

pub fn manifest_to(destination: &str, phones: &[&str]) -> String {
    let mut text = format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{destination}\"\n    numbers:\n"
    );
    for phone in phones {
        text.push_str(&format!("      - phone: \"{phone}\"\n        source_waba: \"{SOURCE_WABA}\"\n"));
    }
    text
}

/// Short waits so tests stay fast: register retries after 10 ms, the codes directory polled
/// every 50 ms, other retries from 10 ms.
pub const FAST: [&str; 6] =
    ["--register-backoff", "10ms,10ms", "--poll-interval", "50ms", "--retry-base", "10ms"];

/// `wamig apply --auto-approve` with short waits and `extra` arguments.
pub fn apply_command(rig: &Rig, extra: &[&str]) -> Command {
    let mut command = rig.wamig();
    command.arg("apply").arg("--auto-approve").args(FAST).args(extra);
    command
}

pub fn apply(rig: &Rig, extra: &[&str]) -> Output {
    apply_command(rig, extra).output().unwrap()
}

/// Graph POSTs whose path ends with `suffix` (e.g. `/request_code`), in the request log.
pub fn posts(rig: &Rig, suffix: &str) -> usize {
    rig.sandbox.requests().iter().filter(|r| r.method == "POST" && r.path.ends_with(suffix)).count()
}

/// POSTs that change something: the batch that reads the token's permissions is not one.
pub fn writes(rig: &Rig) -> usize {
    rig.sandbox.requests().iter().filter(|r| r.method == "POST" && !r.params.contains_key("batch")).count()
}

/// POSTs that reached the sandbox's state machine (not answered by an injected fault).
pub fn posts_applied(rig: &Rig, suffix: &str) -> usize {
    rig.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(suffix))
        .filter(|r| r.fault.is_none() || r.fault.as_deref() == Some("drop_after_write"))
        .count()
}

pub fn code_of(output: &Output) -> Option<i32> {
    output.status.code()
}

/// A `wamig` process running in the background, its stderr lines collected as they come so a
/// test can act at a precise point (e.g. once a step has started).
pub struct Running {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child, lines, reader: Some(reader) }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a stderr line contains `needle`; panics after 20 s.
    pub fn wait_for_line(&self, needle: &str) {
        let start = Instant::now();
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(needle)) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no stderr line with {needle:?}; got:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Waits for the process; returns its output with the stderr seen so far.
    pub fn finish(mut self) -> Output {
        let status = self.child.wait().unwrap();
        let mut stdout = Vec::new();
        if let Some(mut out) = self.child.stdout.take() {
            std::io::Read::read_to_end(&mut out, &mut stdout).unwrap();
        }
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let mut stderr = self.lines.lock().unwrap().join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        Output { status, stdout, stderr: stderr.into_bytes() }
    }
}

/// Waits until `path` exists; panics after 20 s.
pub fn wait_for_file(path: &std::path::Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a request has reached the sandbox hold `id` (`SandboxHandle::hold`); panics
/// after 20 s.
pub fn wait_held(rig: &Rig, id: u64) {
    let start = Instant::now();
    while !rig.sandbox.holds().iter().any(|h| h.id == id && h.waiting) {
        assert!(start.elapsed() < Duration::from_secs(20), "no request reached hold {id}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `apply --auto-approve`, holds its `POST path` once it reaches the sandbox, lets someone
/// else act `meanwhile` (the race), then lets the write through; returns apply's output and what
/// `meanwhile` returned.
pub fn apply_racing<T>(rig: &Rig, path: &str, meanwhile: impl FnOnce() -> T) -> (Output, T) {
    let hold = rig.sandbox.hold("POST", path);
    let running = Running::spawn(apply_command(rig, &[]));
    wait_held(rig, hold);
    let acted = meanwhile();
    rig.sandbox.release(hold);
    (running.finish(), acted)
}

/// Sets sandbox latency (other faults off).
pub fn set_latency(rig: &Rig, millis: u64) {
    rig.sandbox.set_faults(wamig::sandbox::Faults {
        latency: Duration::from_millis(millis),
        ..wamig::sandbox::Faults::default()
    });
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub struct Converged {
    /// Every run, the `--resend-code` ones included.
    pub runs: Vec<Output>,
    /// A code had to be asked for again because none ever reached the phone.
    pub resent: bool,
}

/// Runs apply until it exits 0, supplying the latest code from the outbox. When a run waits
/// for a code that never reached the phone (the request's answer was lost, so wamig counts it
/// as sent and honours the cooldown), it asks for a new one with `--resend-code`, as the
/// hand-off tells the user to.
pub fn converge(rig: &Rig, digits: &str) -> Converged {
    let mut runs = Vec::new();
    let mut resent = false;
    for _ in 0..8 {
        let mut command = apply_command(rig, &[]);
        if rig.outbox.join(digits).exists() {
            command.env(format!("WAMIG_CODE_{digits}"), rig.sent_code(digits));
        }
        let output = command.output().unwrap();
        let code = output.status.code();
        runs.push(output);
        match code {
            Some(0) => return Converged { runs, resent },
            Some(3) if !rig.outbox.join(digits).exists() => {
                resent = true;
                let output = apply(rig, &["--resend-code"]);
                let code = output.status.code();
                runs.push(output);
                assert!(matches!(code, Some(3) | Some(0)), "{}", transcript(runs.last().unwrap()));
            }
            Some(3) => {}
            _ => panic!("apply did not converge: {}", transcript(runs.last().unwrap())),
        }
    }
    panic!("apply did not converge in 8 runs: {}", transcript(runs.last().unwrap()));
}

/// The apply summary and stderr, without the plan.
pub fn summary(output: &Output) -> String {
    let out = stdout(output);
    let summary = out.find("\nApply summary").map_or(out.as_str(), |at| &out[at..]);
    format!("exit: {:?}\n--- stdout ---{summary}--- stderr ---\n{}", output.status.code(), stderr(output))
}
