//! The CI recipes under examples/ci/ are valid YAML and keep the properties their README
//! promises: plan comments from `--format markdown` updated in place, applies that never
//! overlap and use `--auto-approve`, exit 3 treated as a pause, codes passed as
//! `WAMIG_CODE_<digits>`, and the journal kept between runs: in a bucket reached with OIDC
//! credentials when `WAMIG_STATE` names one, else in the CI cache.

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
    assert_eq!(get(manual, &["rules"])[0]["when"], "manual");
    assert!(text.contains("WAMIG_CODE_<digits>"));
    for variable in ["WAMIG_ACCESS_TOKEN", "WAMIG_PIN", "WAMIG_APP_SECRET"] {
        assert!(text.contains(variable), "{variable}");
    }
}
