//! Hostile or careless input from the command line and from files wamig reads back: every one
//! ends in an error that names it (exit 1), never a panic (exit 101), never an action.

use crate::apply_support::*;
use crate::support::*;

fn save_plan(rig: &Rig) -> serde_json::Value {
    let output = rig.wamig().args(["plan", "--out", "plan.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    serde_json::from_str(&std::fs::read_to_string(rig.path().join("plan.json")).unwrap()).unwrap()
}

fn write_plan(rig: &Rig, plan: &serde_json::Value) {
    std::fs::write(rig.path().join("plan.json"), serde_json::to_string_pretty(plan).unwrap()).unwrap();
}

#[test]
fn a_saved_plan_with_a_short_or_multibyte_digest_is_an_error_not_a_panic() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let mut plan = save_plan(&rig);
    for digest in ["abc", "ééééééééééé"] {
        plan["digest"] = digest.into();
        write_plan(&rig, &plan);
        for args in [&["apply", "--auto-approve", "plan.json"][..], &["show", "plan.json"]] {
            let output = rig.wamig().args(args).output().unwrap();
            assert_eq!(output.status.code(), Some(1), "{digest} {args:?}: {}", transcript(&output));
            assert!(stderr(&output).contains("is not a SHA-256 digest"), "{}", transcript(&output));
        }
    }
    assert_eq!(writes(&rig), 0);
}

#[test]
fn a_saved_plan_cannot_extend_its_own_life() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let original = save_plan(&rig);

    let mut future = original.clone();
    future["created_at"] = "2999-01-01T00:00:00Z".into();
    write_plan(&rig, &future);
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("is in the future"), "{}", transcript(&output));

    // A week-old plan whose time to live was edited to a month.
    let mut stretched = original.clone();
    let created: jiff::Timestamp = original["created_at"].as_str().unwrap().parse().unwrap();
    stretched["created_at"] = (created - jiff::SignedDuration::from_hours(7 * 24)).to_string().into();
    stretched["ttl_seconds"] = (30 * 24 * 3600).into();
    write_plan(&rig, &stretched);
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("longer than the 24 h"), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0, "nothing was done");
}

#[test]
fn an_endless_wait_is_refused_up_front() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let output = apply(&rig, &["--wait-for-codes", "9223372036854775807s"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("too long"), "{}", transcript(&output));
    assert!(rig.sandbox.requests().is_empty(), "refused before any request");
}

/// `wamig validate` of `manifest` with its address space limited to 256 MiB (`ulimit -v`), so a
/// manifest that would need more memory shows as a crash here rather than being measured.
#[cfg(unix)]
fn validate_in_256_mib(dir: &std::path::Path, manifest: &[u8]) -> std::process::Output {
    std::fs::write(dir.join("wamig.yaml"), manifest).unwrap();
    validate_path_in_256_mib(dir, "wamig.yaml")
}

#[cfg(unix)]
fn validate_path_in_256_mib(dir: &std::path::Path, path: &str) -> std::process::Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 262144 && exec \"$0\" validate -f \"$1\"")
        .arg(env!("CARGO_BIN_EXE_wamig"))
        .arg(path)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn hostile_manifests_are_refused_within_256_mib() {
    let dir = tempfile::tempdir().unwrap();
    let ok = "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\ndestinations:\n  - waba: \"104996122399160\"\n    numbers:\n      - phone: \"+16315555555\"\n";
    let valid = validate_in_256_mib(dir.path(), ok.as_bytes());
    assert_eq!(
        valid.status.code(),
        Some(0),
        "the limit leaves room for a normal run: {}",
        transcript(&valid)
    );

    // 11 KB whose aliases multiply a 10 KB string a million times.
    let mut bomb =
        format!("{ok}s: &s \"{}\"\na0: &a0 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n", "x".repeat(10_000));
    for level in 1..6 {
        bomb.push_str(&format!(
            "a{level}: &a{level} [{}]\n",
            vec![format!("*a{}", level - 1); 10].join(", ")
        ));
    }
    // A 5 MB unknown key, which a "did you mean" edit-distance table would square.
    let long_key = format!("{ok}p{}: 1\n", "h".repeat(5_000_000));
    // A flow mapping of 500,000 unknown keys on one 6 MB line: each problem shows that line.
    let mut one_line = format!("{ok}x: {{");
    for i in 0..500_000 {
        one_line.push_str(&format!("k{i}: 1, "));
    }
    one_line.push_str("}\n");
    // Over a million numbers' worth of values, far past the node budget.
    let mut huge = ok.to_owned();
    for i in 0..200_000 {
        huge.push_str(&format!("      - phone: \"+1631{i:07}\"\n        code_method: SMS\n"));
    }
    for (name, manifest) in
        [("alias bomb", bomb), ("long key", long_key), ("one long line", one_line), ("many numbers", huge)]
    {
        let output = validate_in_256_mib(dir.path(), manifest.as_bytes());
        let err = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{name}: {}",
            &transcript(&output)[..2000.min(transcript(&output).len())]
        );
        assert!(
            err.starts_with("error: ") && err.contains("hint: "),
            "{name}: {}",
            &err[..err.len().min(2000)]
        );
        assert!(err.len() < 10_000_000, "{name}: {} bytes of errors", err.len());
    }

    // Input that never ends, or is not a file.
    let output = validate_path_in_256_mib(dir.path(), "/dev/zero");
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("a device"), "{}", transcript(&output));
}

/// Control characters a terminal would act on (clear the screen, set the title, a hyperlink).
const ESCAPES: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}";

fn assert_no_raw_escapes(what: &str, output: &std::process::Output) {
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{what}: raw control characters reach the terminal on {stream}:\n{text}"
        );
    }
}

#[test]
fn control_characters_from_the_manifest_reach_the_terminal_escaped() {
    let manifest = manifest(&[ORDERS]).replace(
        "  - waba: \"104996122399160\"\n",
        "  - waba: \"104996122399160\"\n    name: \"acme\\e[2J\\e]0;pwned\\a\"\n",
    );
    let rig = Rig::new(&manifest);
    for format in ["text", "markdown"] {
        let output = rig.wamig().args(["plan", "--format", format]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        assert_no_raw_escapes(format, &output);
        assert!(stdout(&output).contains("acme\\u{1b}[2J"), "{format}: shown escaped: {}", stdout(&output));
    }
    // A key nobody knows, written with an escape in it, in the error that names it.
    std::fs::write(rig.path().join("bad.yaml"), format!("{}\"bad\\e[2Jkey\": 1\n", manifest)).unwrap();
    let output = rig.wamig().args(["validate", "-f", "bad.yaml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_no_raw_escapes("validate", &output);
}

#[test]
fn a_lock_holder_and_a_saved_plan_are_shown_escaped() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    std::fs::create_dir_all(rig.path().join(".wamig")).unwrap();
    let holder = serde_json::json!({
        "pid": 999_999, "host": format!("runner{ESCAPES}"), "started_at": "2026-11-25T10:00:00Z",
        "command": format!("wamig apply{ESCAPES}"),
    });
    std::fs::write(rig.path().join(".wamig/state.json.lock"), holder.to_string()).unwrap();
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert!(stderr(&output).contains("took over the journal lock"), "{}", transcript(&output));
    assert_no_raw_escapes("lock holder", &output);

    let mut plan = save_plan(&rig);
    plan["numbers"][0]["checks"][0]["message"] = format!("looks fine{ESCAPES}").into();
    plan["notes"] = serde_json::json!([format!("note{ESCAPES}")]);
    write_plan(&rig, &plan);
    for format in ["text", "markdown"] {
        let output = rig.wamig().args(["show", "plan.json", "--format", format]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        assert_no_raw_escapes(format, &output);
    }
}

#[test]
fn a_graph_error_message_is_shown_escaped() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let body = serde_json::json!({"error": {
            "message": format!("Invalid OAuth access token{ESCAPES}"), "type": "OAuthException", "code": 190,
            "fbtrace_id": format!("A{ESCAPES}"),
        }})
        .to_string();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wamig.yaml"), manifest(&[ORDERS])).unwrap();
    for log_format in ["text", "json"] {
        let output = wamig(dir.path())
            .args(["plan", "--log-format", log_format])
            .env("WAMIG_GRAPH_URL", &url)
            .env("WAMIG_ACCESS_TOKEN", "canary-token")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
        assert!(stderr(&output).contains("Invalid OAuth access token"), "{}", transcript(&output));
        assert_no_raw_escapes(log_format, &output);
    }
}

#[test]
fn an_error_on_a_huge_line_shows_a_window_around_the_column() {
    let dir = tempfile::tempdir().unwrap();
    // One flow mapping 4 MB long, with a misspelt key at its end.
    let padding = (0..200_000).map(|i| format!("\"{i:07}\"")).collect::<Vec<_>>().join(", ");
    let manifest = format!(
        "version: 1\ndefaults: {{ pin: {{ env: WAMIG_PIN }} }}\ndestinations: [{{ waba: \"104996122399160\", numbers: [{{ phone: \"+16315555555\" }}], name: [{padding}], nmae: x }}]\n"
    );
    assert!(manifest.len() > 2_000_000);
    std::fs::write(dir.path().join("wamig.yaml"), &manifest).unwrap();
    let output = wamig(dir.path()).arg("validate").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", &transcript(&output)[..2000]);
    let err = stderr(&output);
    assert!(err.len() < 2_000, "{} bytes of errors", err.len());
    assert!(err.contains("unknown key `nmae`"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let source = lines.iter().position(|l| l.contains("nmae: x")).expect("the excerpt shows the key");
    let caret = lines[source + 1].chars().position(|c| c == '^').unwrap();
    let pointed: String = lines[source].chars().skip(caret).take(4).collect();
    assert_eq!(pointed, "nmae", "{err}");
}
