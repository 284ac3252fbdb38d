//! The CI recipes under examples/ci/ are valid YAML and keep the properties their README
//! promises: plan comments from `--format markdown` updated in place, applies that never
//! overlap and use `--auto-approve`, exit 3 treated as a pause, codes passed as
//! `WAMIG_CODE_<digits>`, the journal kept between runs (in a bucket reached with OIDC credentials
//! when `WAMIG_STATE` names one, else in the CI cache), and a nightly watch that opens, updates
//! and closes one issue (GitHub) or fails (GitLab) — the latter run for real against the sandbox.

use serde_yaml::Value;

use crate::support::repo_root;

fn recipe(name: &str) -> (String, Value) {
    let text = std::fs::read_to_string(repo_root().join("examples/ci").join(name)).unwrap();
    let value: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, value)
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| &v[*key])
}

/// Every `run:` (GitHub) or `script:` (GitLab) text of a job, joined.
fn scripts(job: &Value) -> String {
    let mut out = String::new();
    if let Some(steps) = job["steps"].as_sequence() {
        for step in steps {
            if let Some(run) = step["run"].as_str() {
                out.push_str(run);
                out.push('\n');
            }
        }
    }
    if let Some(lines) = job["script"].as_sequence() {
        for line in lines {
            out.push_str(line.as_str().unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

#[test]
fn github_actions_recipe() {
    let (text, workflow) = recipe("github-actions.yml");
    let on = &workflow["on"];
    assert!(!on["pull_request"].is_null(), "plans on pull requests");
    assert_eq!(get(on, &["push", "branches"])[0], "main");
    let inputs = get(on, &["workflow_dispatch", "inputs"]);
    assert!(!inputs["phone"].is_null() && !inputs["code"].is_null());

    let plan = get(&workflow, &["jobs", "plan"]);
    let plan_scripts = scripts(plan);
    assert!(plan_scripts.contains("wamig --log-format json plan --format markdown"));
    assert!(plan_scripts.contains("<!-- wamig-plan -->"), "the comment is found again by its marker");
    assert!(plan_scripts.contains("--method PATCH"), "an earlier comment is updated, not duplicated");
    assert_eq!(get(plan, &["permissions", "pull-requests"]), "write");

    let apply = get(&workflow, &["jobs", "apply"]);
    assert_eq!(get(apply, &["concurrency", "group"]), "wamig-apply");
    assert_eq!(get(apply, &["concurrency", "cancel-in-progress"]).as_bool(), Some(false));
    let apply_scripts = scripts(apply);
    assert!(apply_scripts.contains("apply --auto-approve"));
    assert!(apply_scripts.contains("WAMIG_CODE_${digits}"));
    assert!(apply_scripts.contains("::add-mask::"));
    assert!(apply_scripts.contains("3)"), "exit 3 is a pause, not a failure");
    let steps = apply["steps"].as_sequence().unwrap();
    let uses = |prefix: &'static str| -> Vec<&Value> {
        steps.iter().filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))).collect()
    };
    let restore = *uses("actions/cache/restore").first().expect("the journal is restored");
    assert_eq!(restore["if"], "vars.WAMIG_STATE == ''", "from the cache without a shared journal");
    let save = *uses("actions/cache/save").first().expect("the journal is saved");
    assert_eq!(save["if"], "always() && vars.WAMIG_STATE == ''", "even after a failure or exit 3");
    assert_eq!(get(save, &["with", "path"]), ".wamig/state.json");

    // The shared journal: named by a variable, reached with OIDC credentials, no stored key.
    assert_eq!(get(&workflow, &["env", "WAMIG_STATE"]), "${{ vars.WAMIG_STATE || '.wamig/state.json' }}");
    for job in [plan, apply] {
        assert_eq!(get(job, &["permissions", "id-token"]), "write");
        let steps = job["steps"].as_sequence().unwrap();
        let credentials = steps
            .iter()
            .find(|s| {
                s["uses"].as_str().is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials"))
            })
            .expect("OIDC credentials for the shared journal");
        assert_eq!(credentials["if"], "startsWith(vars.WAMIG_STATE, 's3://')");
        assert!(credentials["with"]["role-to-assume"].as_str().unwrap().contains("vars.WAMIG_AWS"));
    }
    assert!(!text.contains("AWS_SECRET_ACCESS_KEY"), "no long-lived AWS key");

    for secret in ["secrets.WAMIG_ACCESS_TOKEN", "secrets.WAMIG_APP_SECRET", "secrets.WAMIG_PIN"] {
        assert!(text.contains(secret), "{secret}");
    }
    // The code never goes through ${{ }} or env:, which would print it before it is masked.
    assert!(!text.contains("inputs.code }}"));
}

#[test]
fn gitlab_ci_recipe() {
    let (text, pipeline) = recipe("gitlab-ci.yml");
    let plan = &pipeline["plan"];
    let plan_scripts = scripts(plan);
    assert!(plan_scripts.contains("wamig --log-format json plan --format markdown"));
    assert!(plan_scripts.contains("<!-- wamig-plan -->"));
    assert!(plan_scripts.contains("-X PUT"), "an earlier note is updated, not duplicated");
    assert!(get(plan, &["rules"])[0]["if"].as_str().unwrap().contains("merge_request_event"));

    let apply = &pipeline[".apply"];
    assert_eq!(apply["resource_group"], "whatsapp-numbers");
    assert!(scripts(apply).contains("apply --auto-approve"));
    assert_eq!(get(apply, &["allow_failure", "exit_codes"])[0], 3, "exit 3 is a pause");
    assert_eq!(get(apply, &["cache", "when"]), "always");
    assert_eq!(get(apply, &["cache", "paths"])[0], ".wamig/state.json");
    // The shared journal: GitLab's OIDC token, handed to wamig as a web identity token file.
    let wamig = &pipeline[".wamig"];
    assert_eq!(get(wamig, &["id_tokens", "WAMIG_AWS_ID_TOKEN", "aud"]), "sts.amazonaws.com");
    let before: String =
        wamig["before_script"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(before.contains("export AWS_WEB_IDENTITY_TOKEN_FILE="));
    assert!(!text.contains("AWS_SECRET_ACCESS_KEY"), "no long-lived AWS key");
    assert_eq!(get(apply, &["artifacts", "when"]), "always");
    assert_eq!(pipeline["apply"]["extends"], ".apply");
    let manual = &pipeline["apply:code"];
    assert_eq!(manual["extends"], ".apply");
    let rules = get(manual, &["rules"]).as_sequence().unwrap();
    assert!(rules.iter().any(|rule| rule["when"] == "manual"), "apply:code is run by hand");
    assert!(text.contains("WAMIG_CODE_<digits>"));
    for variable in ["WAMIG_ACCESS_TOKEN", "WAMIG_PIN", "WAMIG_APP_SECRET"] {
        assert!(text.contains(variable), "{variable}");
    }
}

#[test]
fn github_nightly_recipe() {
    let (text, workflow) = recipe("github-nightly.yml");
    let on = &workflow["on"];
    assert!(get(on, &["schedule"])[0]["cron"].is_string(), "runs on a schedule");
    assert!(on.as_mapping().unwrap().contains_key("workflow_dispatch"), "and by hand");
    assert_eq!(get(&workflow, &["permissions", "issues"]), "write");
    let watch = get(&workflow, &["jobs", "watch"]);
    let steps = watch["steps"].as_sequence().unwrap();
    let uses = |prefix: &str| {
        steps.iter().filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix))).count()
    };
    assert_eq!(uses("actions/cache/restore"), 1, "the journal is read: moved-away and limit drift need it");
    assert_eq!(uses("actions/cache/save"), 0, "a plan never writes the journal");
    let all = scripts(watch);
    assert!(all.contains("plan --format markdown --detailed-exitcode --out plan.json"));
    assert!(all.contains(".drift"), "drift is read from the JSON plan");
    assert!(!all.contains(" apply"), "the watch never applies");
    assert!(text.contains("secrets.WAMIG_ACCESS_TOKEN") && !text.contains("secrets.WAMIG_PIN"));
}

#[test]
fn gitlab_watch_job() {
    let (_, pipeline) = recipe("gitlab-ci.yml");
    let watch = &pipeline["watch"];
    assert_eq!(watch["extends"], ".wamig", "the journal comes from the read-only cache");
    assert!(get(watch, &["rules"])[0]["if"].as_str().unwrap().contains("schedule"));
    assert!(scripts(watch).contains("--detailed-exitcode --out plan.json"));
    assert_eq!(get(watch, &["artifacts", "when"]), "always");
    // No other job shows up in a scheduled pipeline.
    let first_rule = |job: &str| get(&pipeline[job], &["rules"])[0].clone();
    assert_eq!(first_rule("apply:code")["when"], "never");
    assert!(first_rule("apply")["if"].as_str().unwrap().contains("push"));
    assert!(first_rule("plan")["if"].as_str().unwrap().contains("merge_request_event"));
}

/// The nightly recipes run for real: their `run:`/`script:` text under bash, with `wamig` the
/// binary under test against the sandbox, and (GitHub) a stand-in `gh` that keeps one issue in
/// files. A number degraded in the sandbox opens the issue, a new degradation updates it with a
/// comment, and the repair closes it; GitLab's job fails while anything is off.
mod nightly {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_yaml::Value;

    use super::{get, recipe};
    use crate::plan_support::manifest;
    use crate::support::{DESTINATION_WABA, Rig};

    /// The example world's number that lives in the destination, in sync.
    const PHONE: &str = "+1 631-555-0199";

    const GH: &str = r#"#!/usr/bin/env bash
# A stand-in for the GitHub CLI: one issue, kept in $GH_STATE; --jq filters are answered as the
# recipe asks them.
set -e
echo "$*" >> "$GH_STATE/calls"
body_file=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--body-file" ]; then body_file="$arg"; fi
  prev="$arg"
done
case "$1 $2" in
  "label create") ;;
  "issue list") cat "$GH_STATE/open" 2>/dev/null || true ;;
  "issue view") cat "$GH_STATE/body" ;;
  "issue create") echo 7 > "$GH_STATE/open"; cp "$body_file" "$GH_STATE/body" ;;
  "issue edit") cp "$body_file" "$GH_STATE/body" ;;
  "issue comment") ;;
  "issue close") rm -f "$GH_STATE/open" ;;
  *) echo "gh stand-in: unexpected $*" >&2; exit 1 ;;
esac
"#;

    fn have(tool: &str) -> bool {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success())
    }

    struct Runner {
        rig: Rig,
        bin: tempfile::TempDir,
        gh_state: PathBuf,
    }

    impl Runner {
        fn new() -> Runner {
            let rig = Rig::new(&manifest(DESTINATION_WABA, &[(PHONE, None)]));
            let bin = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wamig"), bin.path().join("wamig")).unwrap();
            let gh = bin.path().join("gh");
            std::fs::write(&gh, GH).unwrap();
            std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            let gh_state = rig.path().join(".gh");
            std::fs::create_dir_all(&gh_state).unwrap();
            Runner { rig, bin, gh_state }
        }

        fn patch(&self, patch: serde_json::Value) {
            let patch = serde_json::from_value(patch).unwrap();
            self.rig.sandbox.patch_number(PHONE, &patch).unwrap();
        }

        /// Runs one script with bash in the project directory; its exit code and output.
        fn bash(&self, script: &str, env: &BTreeMap<String, String>) -> (i32, String) {
            let path = format!("{}:{}", self.bin.path().display(), std::env::var("PATH").unwrap_or_default());
            let mut command = Command::new("bash");
            for (key, _) in std::env::vars_os() {
                if key.to_string_lossy().starts_with("WAMIG_") {
                    command.env_remove(key);
                }
            }
            // As a GitHub runner runs a `run:` without `shell:`: `bash -e`.
            let result = command
                .arg("-e")
                .arg("-c")
                .arg(script)
                .current_dir(self.rig.path())
                .env("PATH", path)
                .env("WAMIG_GRAPH_URL", self.rig.sandbox.base_url())
                .env("GH_STATE", &self.gh_state)
                .envs(env)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            );
            (result.status.code().unwrap_or(-1), text)
        }

        /// The GitHub workflow's steps in order, `if:` conditions on step outputs honoured;
        /// returns the `gh` calls it made.
        fn github(&self, workflow: &Value) -> Vec<String> {
            let calls = self.gh_state.join("calls");
            let _ = std::fs::remove_file(&calls);
            let outputs_file = self.rig.path().join("github_output");
            let mut env: BTreeMap<String, String> = BTreeMap::new();
            for (key, value) in workflow["env"].as_mapping().unwrap() {
                env.insert(key.as_str().unwrap().into(), value.as_str().unwrap().into());
            }
            env.insert("GITHUB_OUTPUT".into(), outputs_file.display().to_string());
            env.insert(
                "GITHUB_STEP_SUMMARY".into(),
                self.rig.path().join("summary.md").display().to_string(),
            );
            env.insert("GITHUB_SERVER_URL".into(), "https://github.com".into());
            env.insert("GITHUB_REPOSITORY".into(), "acme/numbers".into());
            env.insert("GITHUB_RUN_ID".into(), "42".into());
            let mut outputs: BTreeMap<String, String> = BTreeMap::new();
            for step in get(workflow, &["jobs", "watch", "steps"]).as_sequence().unwrap() {
                let Some(script) = step["run"].as_str() else { continue };
                if script.contains("$WAMIG_INSTALL") {
                    continue;
                }
                if let Some(condition) = step["if"].as_str() {
                    let (left, right) = condition.split_once(" == ").expect("conditions compare an output");
                    let key = left.trim().trim_start_matches("steps.plan.outputs.");
                    let expected = right.trim().trim_matches('\'');
                    if outputs.get(key).map(String::as_str) != Some(expected) {
                        continue;
                    }
                }
                let mut step_env = env.clone();
                for (key, value) in step["env"].as_mapping().into_iter().flatten() {
                    let value = value.as_str().unwrap();
                    let resolved = match value {
                        "${{ secrets.WAMIG_ACCESS_TOKEN }}" => self.rig.token.clone(),
                        "${{ secrets.WAMIG_APP_SECRET }}" => String::new(),
                        "${{ github.token }}" => "not-a-token".into(),
                        other if other.starts_with("${{ steps.plan.outputs.") => {
                            let key =
                                other.trim_start_matches("${{ steps.plan.outputs.").trim_end_matches(" }}");
                            outputs[key].clone()
                        }
                        other => panic!("the harness does not know {other}"),
                    };
                    step_env.insert(key.as_str().unwrap().into(), resolved);
                }
                let _ = std::fs::remove_file(&outputs_file);
                let (code, text) = self.bash(script, &step_env);
                assert_eq!(code, 0, "step {:?} failed:\n{text}", step["name"]);
                if step["id"].as_str() == Some("plan") {
                    for line in std::fs::read_to_string(&outputs_file).unwrap().lines() {
                        let (key, value) = line.split_once('=').unwrap();
                        outputs.insert(key.into(), value.into());
                    }
                }
            }
            std::fs::read_to_string(&calls).unwrap_or_default().lines().map(str::to_owned).collect()
        }

        fn issue_body(&self) -> String {
            std::fs::read_to_string(self.gh_state.join("body")).unwrap_or_default()
        }

        fn issue_open(&self) -> bool {
            self.gh_state.join("open").exists()
        }

        /// GitLab's watch job script; its exit code and log.
        fn gitlab(&self, pipeline: &Value) -> (i32, String) {
            let script: Vec<&str> = pipeline["watch"]["script"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let mut env = BTreeMap::new();
            env.insert("WAMIG_ACCESS_TOKEN".to_owned(), self.rig.token.clone());
            self.bash(&script.join("\n"), &env)
        }
    }

    fn skip_without_tools() -> bool {
        let missing: Vec<&str> = ["bash", "jq"].into_iter().filter(|tool| !have(tool)).collect();
        if !missing.is_empty() {
            eprintln!("skipped: the nightly recipes need {} on PATH", missing.join(" and "));
        }
        !missing.is_empty()
    }

    fn calls_to(calls: &[String], what: &str) -> usize {
        calls.iter().filter(|c| c.starts_with(what)).count()
    }

    #[test]
    fn github_opens_updates_and_closes_one_issue() {
        if skip_without_tools() {
            return;
        }
        let (_, workflow) = recipe("github-nightly.yml");
        let runner = Runner::new();

        let calls = runner.github(&workflow);
        assert_eq!(calls_to(&calls, "issue create"), 0, "all is well: no issue ({calls:?})");
        assert!(!runner.issue_open());

        runner.patch(serde_json::json!({"status": "FLAGGED"}));
        let calls = runner.github(&workflow);
        assert_eq!(calls_to(&calls, "issue create"), 1, "{calls:?}");
        assert!(runner.issue_open());
        let body = runner.issue_body();
        assert!(body.starts_with("<!-- wamig-nightly digest="), "{body}");
        assert!(body.contains("number.status"), "the issue shows the drift: {body}");

        let calls = runner.github(&workflow);
        assert_eq!(
            (calls_to(&calls, "issue edit"), calls_to(&calls, "issue comment")),
            (1, 0),
            "same plan: {calls:?}"
        );

        runner.patch(serde_json::json!({"quality_rating": "RED"}));
        let calls = runner.github(&workflow);
        assert_eq!(
            (calls_to(&calls, "issue edit"), calls_to(&calls, "issue comment")),
            (1, 1),
            "a new plan: {calls:?}"
        );
        assert!(runner.issue_body().contains("number.quality"));

        runner.patch(serde_json::json!({"status": "CONNECTED", "quality_rating": "GREEN"}));
        let calls = runner.github(&workflow);
        assert_eq!(calls_to(&calls, "issue close 7"), 1, "all is well again: {calls:?}");
        assert!(!runner.issue_open());
    }

    #[test]
    fn gitlab_fails_while_anything_is_off() {
        if skip_without_tools() {
            return;
        }
        let (_, pipeline) = recipe("gitlab-ci.yml");
        let runner = Runner::new();
        let (code, log) = runner.gitlab(&pipeline);
        assert_eq!(code, 0, "{log}");
        runner.patch(serde_json::json!({"name_status": "DECLINED"}));
        let (code, log) = runner.gitlab(&pipeline);
        assert_eq!(code, 1, "{log}");
        assert!(log.contains("warning +16315550199 number.name_status"), "{log}");
        assert!(Path::new(&runner.rig.path().join("plan.md")).exists(), "the plan is left for the artifact");
    }
}
