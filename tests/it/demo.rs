//! `wamig demo`: a whole migration against the built-in sandbox, narrated, in seconds, exit 0.

use std::process::Stdio;

use crate::support::{regex_escape, wamig, with_filters};

/// Runs `wamig demo` with stdout and stderr going to one file, so the transcript shows events
/// where the user sees them; returns the exit code and the transcript.
fn run_demo(tmp: &std::path::Path, extra: &[&str]) -> (Option<i32>, String) {
    let log = tmp.join("transcript");
    let file = std::fs::File::create(&log).unwrap();
    let status = wamig(tmp)
        .args(extra)
        .arg("demo")
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .status()
        .unwrap();
    (status.code(), std::fs::read_to_string(log).unwrap())
}

fn filters(tmp: &std::path::Path) -> Vec<(String, String)> {
    vec![
        (format!(r"{}/wamig-demo-[A-Za-z0-9]+", regex_escape(&tmp.display().to_string())), "[DEMO]".into()),
        // The demo's own sandbox; the port in its closing advice is fixed.
        (r"on http://127\.0\.0\.1:\d+ with".into(), "on http://127.0.0.1:[PORT] with".into()),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z".into(), "[TIME]".into()),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?".into(), "[TIME]".into()),
        (r"\b\d{2}:\d{2} UTC".into(), "[HH:MM] UTC".into()),
        (r"\b[0-9a-f]{64}\b".into(), "[DIGEST]".into()),
    ]
}

#[test]
fn the_demo_walks_a_whole_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (code, transcript) = run_demo(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{transcript}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the demo must take seconds");
    let stages = [
        "The manifest",
        "is blocked: 1 check failed",
        "two-step verification is on",
        "wamig plan exited 4",
        "waiting for a verification code",
        "export WAMIG_CODE_16315550101=<6-digit code>",
        "wamig apply exited 3",
        "reads the SMS",
        "ownership verified",
        "the display name is still being provisioned; registering again in 1s",
        "registered",
        "Templates for +16315550101:",
        "left out: delivery_reminder",
        "is in sync",
        "wamig plan exited 0",
        "templates: { ensure: true }",
        "+ migrate from WABA 102289599326934 with Meta's template migration: delivery_reminder (en_US), login_code (en_US)",
        "2 templates to add.",
        "wamig plan exited 2",
        "migrated: delivery_reminder (en_US), login_code (en_US)",
        "= templates of WABA 104996122399160 (acme-cloud) are in sync",
        "wamig plan exited 0",
        "wamig sandbox --world examples/sandbox/world.yaml",
    ];
    let mut from = 0;
    for stage in stages {
        let at = transcript[from..]
            .find(stage)
            .unwrap_or_else(|| panic!("{stage:?} missing in order:\n{transcript}"));
        from += at;
    }
    // The demo uses codes and a PIN, and must never show them.
    assert!(!transcript.contains("246810"), "the PIN leaked");
    // Nothing of the demo stays behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("transcript")]);
    with_filters(&filters(tmp.path()), || insta::assert_snapshot!(transcript));
}

#[test]
fn the_demo_speaks_json_events_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, transcript) = run_demo(tmp.path(), &["--log-format", "json"]);
    assert_eq!(code, Some(0), "{transcript}");
    let events: Vec<serde_json::Value> =
        transcript.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for name in [
        "plan_ready",
        "step_started",
        "step_finished",
        "awaiting_code",
        "retry",
        "verified",
        "templates_started",
        "templates_finished",
        "summary",
    ] {
        assert!(names.contains(&name), "no {name} event in {names:?}");
    }
}
