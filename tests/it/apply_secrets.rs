//! Canary secrets: a token, an app secret, a PIN and the verification code travel through a
//! whole migration (plan saved to a file, a paused apply, the resumed apply, status, JSON and
//! text logs at the most verbose level) and appear in no output, event, plan file, journal,
//! lock file or sandbox request log.

use crate::apply_support::*;
use crate::support::*;

const CANARY_TOKEN: &str = "canary-token-4b1d7e9f";
const CANARY_APP_SECRET: &str = "canary-app-secret-0c5a93";
const CANARY_PIN: &str = "864209";

#[test]
fn no_secret_reaches_any_output_log_or_file() {
    let world = wamig::sandbox::EXAMPLE_WORLD.replace(ACME_TOKEN, CANARY_TOKEN).replace(
        "  name: wamig sandbox app\n",
        &format!("  name: wamig sandbox app\n  secret: {CANARY_APP_SECRET}\n"),
    );
    assert!(world.contains(CANARY_APP_SECRET));
    let mut rig = Rig::with_world(&world, &manifest(&[SUPPORT]));
    rig.token = CANARY_TOKEN.to_owned();
    let run = |args: &[&str], extra_env: Option<(&str, String)>| {
        let mut command = rig.wamig();
        command.env("WAMIG_APP_SECRET", CANARY_APP_SECRET).env("WAMIG_PIN", CANARY_PIN).args(args);
        if let Some((name, value)) = extra_env {
            command.env(name, value);
        }
        command.output().unwrap()
    };

    let mut outputs = Vec::new();
    outputs.push(run(&["plan", "--out", "plan.json", "-vv"], None));
    let mut apply_args = vec!["--log-format", "json", "-vv", "apply", "--auto-approve"];
    apply_args.extend(FAST);
    outputs.push(run(&apply_args, None));
    assert_eq!(outputs[1].status.code(), Some(3), "{}", transcript(&outputs[1]));
    let code = rig.sent_code(SUPPORT_DIGITS);
    outputs.push(run(&["-vv", "status"], None));
    // A wrong code first: the refusal must not echo it.
    let wrong = if code == "135790" { "246801" } else { "135790" };
    outputs.push(run(&apply_args, Some(("WAMIG_CODE_16315550101", wrong.to_owned()))));
    outputs.push(run(&apply_args, Some(("WAMIG_CODE_16315550101", code.clone()))));
    assert_eq!(outputs.last().unwrap().status.code(), Some(0), "{}", transcript(outputs.last().unwrap()));
    let mut text_args = vec!["-vv", "apply", "--auto-approve"];
    text_args.extend(FAST);
    outputs.push(run(&text_args, None));
    outputs.push(run(&["-vv", "status"], None));
    outputs.push(run(&["plan", "--format", "json"], None));
    outputs.push(run(&["plan", "--format", "markdown"], None));

    let json_events = String::from_utf8_lossy(&outputs[1].stderr).into_owned();
    assert!(
        json_events.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "json events are one object per line:\n{json_events}"
    );

    let mut places: Vec<(String, String)> =
        outputs.iter().enumerate().map(|(i, o)| (format!("run {i}"), transcript(o))).collect();
    for file in ["plan.json", ".wamig/state.json", ".wamig/state.json.lock"] {
        places.push((file.to_owned(), std::fs::read_to_string(rig.path().join(file)).unwrap_or_default()));
    }
    places.push(("sandbox request log".into(), serde_json::to_string(&rig.sandbox.requests()).unwrap()));
    places.push(("sandbox state".into(), rig.sandbox.inspect().to_string()));
    let secrets = [
        ("token", CANARY_TOKEN),
        ("app secret", CANARY_APP_SECRET),
        ("PIN", CANARY_PIN),
        ("code", &code),
        ("wrong code", wrong),
    ];
    for (place, text) in &places {
        for (what, secret) in secrets {
            assert!(!text.contains(secret), "the {what} appears in {place}:\n{text}");
        }
    }
    // The calls did carry what Graph needs, so the checks above are not vacuous.
    let log = rig.sandbox.requests();
    assert!(log.iter().all(|r| r.auth == "header"), "the token travels only in the Authorization header");
    assert!(
        log.iter()
            .filter(|r| !r.params.contains_key("batch"))
            .all(|r| r.params.contains_key("appsecret_proof"))
    );
    assert!(log.iter().any(|r| r.path.ends_with("/register") && r.status == Some(200)));
}
