//! Owns apply's preparation: from the plan and the options, which numbers this run works on,
//! which are blocked, and everything the writes will need, checked before the first one (every
//! `--target` is in the manifest, `--max-migrations` is not exceeded, every PIN reference
//! resolves to 6 digits). Pure but for reading the PINs through the given environment; nothing
//! here calls Graph.

use std::collections::HashMap;

use super::codes;
use crate::diag::{Diagnostic, ToDiagnostics};
use crate::manifest::{DesiredNumber, DesiredState, PhoneNumber};
use crate::migration::Step;
use crate::plan::{Action, NumberPlan, Plan};
use crate::secret::Secret;
use crate::{Error, ExitStatus};

/// What this run will do.
#[derive(Debug)]
pub struct Prepared {
    /// Numbers with steps to run, in manifest order.
    pub work: Vec<(DesiredNumber, NumberPlan)>,
    /// Numbers an eligibility check blocks (E.164), targeted by this run.
    pub blocked: Vec<String>,
    /// PINs of the numbers that will be registered, by E.164.
    pub pins: HashMap<String, Secret>,
}

impl Prepared {
    /// The exit status blocked numbers alone give.
    pub fn blocked_status(&self) -> ExitStatus {
        if self.blocked.is_empty() { ExitStatus::Success } else { ExitStatus::Blocked }
    }
}

/// `--target` numbers must be in the manifest: a typo must not make the run do nothing silently.
pub fn check_targets(
    desired: &DesiredState,
    targets: &[PhoneNumber],
    manifest: &std::path::Path,
) -> Result<(), Error> {
    match targets.iter().find(|target| !desired.numbers.iter().any(|n| n.phone == **target)) {
        Some(target) => Err(Error::usage(
            format!("--target {target} is not in the manifest {}", manifest.display()),
            "give numbers listed in the manifest (any formatting of them works)",
        )),
        None => Ok(()),
    }
}

/// Chooses the numbers to work on and checks what their writes will need.
pub fn prepare(
    plan: &Plan,
    desired: &DesiredState,
    targets: &[PhoneNumber],
    max_migrations: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared, Error> {
    let targeted = |phone: &str| targets.is_empty() || targets.iter().any(|t| t.e164() == phone);
    let work: Vec<(DesiredNumber, NumberPlan)> = plan
        .numbers
        .iter()
        .filter(|n| matches!(n.action, Action::Migrate | Action::Resume) && targeted(&n.phone))
        .filter_map(|n| {
            let number = desired.numbers.iter().find(|d| d.phone.e164() == n.phone)?;
            Some((number.clone(), n.clone()))
        })
        .collect();
    let blocked: Vec<String> = plan
        .numbers
        .iter()
        .filter(|n| n.action == Action::Blocked && targeted(&n.phone))
        .map(|n| n.phone.clone())
        .collect();

    let migrations = work.iter().filter(|(_, n)| n.action == Action::Migrate).count();
    if let Some(limit) = max_migrations
        && migrations > limit
    {
        return Err(Error::usage(
            format!(
                "this apply would start {migrations} new migrations, more than --max-migrations {limit}; nothing was done"
            ),
            "raise --max-migrations, or narrow the run with --target PHONE",
        ));
    }

    let mut pins = HashMap::new();
    let mut problems = Vec::new();
    for (number, number_plan) in &work {
        if !number_plan.steps.contains(&Step::Register) {
            continue;
        }
        let Some(reference) = &number.pin else {
            problems.push(
                Diagnostic::new(format!("{} will be registered but has no PIN reference", number.phone))
                    .with_hint("add `pin: { env: WAMIG_PIN }` to the manifest"),
            );
            continue;
        };
        match codes::resolve_pin(&number.phone, reference, env) {
            Ok(pin) => {
                pins.insert(number.phone.e164(), pin);
            }
            Err(error) => problems.extend(error.diagnostics()),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Many(problems));
    }
    Ok(Prepared { work, blocked, pins })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{DEST, SOURCE, World, live_number, verified_number};

    const A: &str = "+16315550101";
    const B: &str = "+16315550102";

    fn env(pin: Option<&'static str>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| (name == "WAMIG_PIN").then(|| pin.map(str::to_owned)).flatten()
    }

    fn ready() -> World {
        let mut world = World::new();
        world.list(SOURCE, live_number(A, "200000000000001"));
        world.want(A, DEST, Some(SOURCE));
        world
    }

    fn two_numbers() -> World {
        let mut world = ready();
        world.list(SOURCE, live_number(B, "200000000000002"));
        world.want(B, DEST, Some(SOURCE));
        world
    }

    #[test]
    fn numbers_with_work_are_chosen_in_manifest_order_with_their_pins() {
        let world = two_numbers();
        let plan = world.plan();
        let prepared = prepare(&plan, &world.desired, &[], None, &env(Some("123456"))).unwrap();
        let phones: Vec<String> = prepared.work.iter().map(|(n, _)| n.phone.e164()).collect();
        assert_eq!(phones, [A, B]);
        assert_eq!(prepared.pins.len(), 2);
        assert!(prepared.blocked.is_empty());
        assert_eq!(prepared.blocked_status(), ExitStatus::Success);
    }

    #[test]
    fn targets_narrow_the_run_and_max_migrations_refuses_before_anything() {
        let world = two_numbers();
        let plan = world.plan();
        let target = PhoneNumber::parse(B).unwrap();
        let prepared = prepare(&plan, &world.desired, &[target], None, &env(Some("123456"))).unwrap();
        assert_eq!(prepared.work.len(), 1);
        let error = prepare(&plan, &world.desired, &[], Some(1), &env(Some("123456"))).unwrap_err();
        assert!(error.to_string().contains("more than --max-migrations 1"), "{error}");
        assert!(
            check_targets(&world.desired, &[PhoneNumber::parse("+16315550199").unwrap()], "m.yaml".as_ref())
                .is_err()
        );
    }

    #[test]
    fn a_missing_pin_is_found_before_the_first_write_and_only_where_register_remains() {
        let world = two_numbers();
        let plan = world.plan();
        assert!(prepare(&plan, &world.desired, &[], None, &env(None)).is_err());

        let mut world = ready();
        let mut registered = verified_number(A, "300000000000001");
        registered.platform_type = Some("CLOUD_API".into());
        registered.status = Some("CONNECTED".into());
        world.list(DEST, registered);
        let plan = world.plan();
        let prepared = prepare(&plan, &world.desired, &[], None, &env(None)).unwrap();
        assert!(prepared.work.is_empty(), "in sync: nothing to do, no PIN needed");
    }
}
