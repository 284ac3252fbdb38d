//! Owns the plan's forecast of what its apply costs in Graph calls: per destination and source
//! WABA, the calls charged to it (Meta charges calls on a WABA and its numbers to that WABA's
//! hourly budget) and, at Meta's published budget for that kind of WABA, the shortest time they
//! can take. Pure; the figures follow apply's own call pattern (one observation per WABA, each
//! remaining write, one closing read per destination: its listing or one call per number,
//! whichever is fewer, one report read per WABA).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Action, NumberPlan};
use crate::graph::{
    ACTIVE_WABA_CALLS_PER_HOUR as HOURLY_CALLS_ACTIVE, EDGE_PAGE_LIMIT, WABA_CALLS_PER_HOUR as HOURLY_CALLS,
};
use crate::migration::Step;
use crate::observe::Snapshot;

/// Whose calls these are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WabaRole {
    Destination,
    Source,
}

/// The calls an apply charges to one WABA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WabaCost {
    pub waba: String,
    pub role: WabaRole,
    pub calls: u64,
    /// Meta's hourly budget for this WABA now: 200, or 5,000 with a registered number.
    pub budget_per_hour: u64,
    /// A destination without a registered number gets the larger budget once apply registers
    /// one.
    pub becomes_active: bool,
    /// The shortest the calls can take at that budget, in whole hours of waiting.
    pub shortest_hours: u64,
}

impl WabaCost {
    /// The hourly budget that governs most of the calls.
    fn governing_budget(&self) -> u64 {
        if self.becomes_active { HOURLY_CALLS_ACTIVE } else { self.budget_per_hour }
    }

    /// The plan note for a forecast over an hour, with its arithmetic.
    pub fn note(&self) -> Option<String> {
        (self.shortest_hours >= 1).then(|| {
            format!(
                "apply charges about {} Graph calls to {} WABA {}; at Meta's {} calls per hour that takes at least {} hour{} ({} calls, the first {} at once, then {} an hour): apply paces itself and pauses with exit 3 when the budget runs out",
                self.calls,
                match self.role {
                    WabaRole::Destination => "destination",
                    WabaRole::Source => "source",
                },
                self.waba,
                self.governing_budget(),
                self.shortest_hours,
                if self.shortest_hours == 1 { "" } else { "s" },
                self.calls,
                self.governing_budget(),
                self.governing_budget(),
            )
        })
    }
}

/// The forecast for the numbers that apply will work on (migrate or resume).
pub fn forecast(numbers: &[NumberPlan], snapshot: &Snapshot) -> Vec<WabaCost> {
    let mut calls: BTreeMap<(String, WabaRole), u64> = BTreeMap::new();
    let mut registers: BTreeMap<String, bool> = BTreeMap::new();
    let mut settling: BTreeMap<String, u64> = BTreeMap::new();
    for number in numbers.iter().filter(|n| matches!(n.action, Action::Migrate | Action::Resume)) {
        let writes = number.steps.iter().filter(|s| **s != Step::VerifyTemplates).count() as u64;
        // Each remaining write on the number.
        *calls.entry((number.destination_waba.clone(), WabaRole::Destination)).or_default() += writes;
        *settling.entry(number.destination_waba.clone()).or_default() += 1;
        if number.steps.contains(&Step::Register) {
            registers.insert(number.destination_waba.clone(), true);
        }
        if let Some(source) = &number.source_waba {
            calls.entry((source.clone(), WabaRole::Source)).or_default();
        }
    }
    // The closing read: the destination's listing (a call a page) or its numbers by id (a call
    // each), whichever is fewer.
    for (waba, reading) in settling {
        let there = snapshot.waba(&waba).and_then(|w| w.numbers.as_ref()).map_or(0, Vec::len) as u64;
        let listing = (there + reading).div_ceil(u64::from(EDGE_PAGE_LIMIT));
        *calls.entry((waba, WabaRole::Destination)).or_default() += reading.min(listing);
    }
    calls
        .into_iter()
        .map(|((waba, role), number_calls)| {
            // The observation, and the report's one read (templates of a destination, the
            // listing of a source).
            let calls = number_calls + 2;
            let active = snapshot
                .waba(&waba)
                .is_some_and(|w| w.numbers.iter().flatten().any(crate::migration::is_registered));
            let budget_per_hour = if active { HOURLY_CALLS_ACTIVE } else { HOURLY_CALLS };
            let becomes_active = !active && role == WabaRole::Destination && registers.contains_key(&waba);
            let governing = if becomes_active { HOURLY_CALLS_ACTIVE } else { budget_per_hour };
            // A rolling hour lets a budget's worth of calls go at once; each further budget's
            // worth waits for the window to move.
            let shortest_hours = calls.saturating_sub(1) / governing;
            WabaCost { waba, role, calls, budget_per_hour, becomes_active, shortest_hours }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::{DEST, SOURCE, World, live_number};

    fn world(numbers: usize) -> World {
        let mut world = World::new();
        for n in 0..numbers {
            let phone = format!("+1631555{n:04}");
            world.list(SOURCE, live_number(&phone, &format!("2000000{n:08}")));
            world.want(&phone, DEST, Some(SOURCE));
        }
        world
    }

    #[test]
    fn a_migration_costs_its_writes_a_share_of_one_closing_read_and_the_shared_reads() {
        let plan = world(3).plan();
        let cost = &plan.cost;
        assert_eq!(cost.len(), 2);
        let dest = cost.iter().find(|c| c.role == WabaRole::Destination).unwrap();
        // The new destination's listing is one call, fewer than reading 3 numbers by id.
        assert_eq!(dest.calls, 3 * 4 + 1 + 2);
        assert_eq!(dest.budget_per_hour, HOURLY_CALLS);
        assert!(dest.becomes_active);
        assert_eq!(dest.shortest_hours, 0);
        let source = cost.iter().find(|c| c.role == WabaRole::Source).unwrap();
        assert_eq!(source.calls, 2);
        assert!(plan.notes.iter().all(|n| !n.contains("Graph calls")));
    }

    #[test]
    fn a_forecast_over_an_hour_is_a_note_with_its_arithmetic() {
        let mut world = world(70);
        for number in &mut world.desired.numbers {
            number.register = false;
        }
        let plan = world.plan();
        let dest = plan.cost.iter().find(|c| c.role == WabaRole::Destination).unwrap();
        assert_eq!(dest.calls, 70 * 3 + 1 + 2);
        assert!(!dest.becomes_active);
        assert_eq!(dest.shortest_hours, 1);
        let note = plan.notes.iter().find(|n| n.contains("Graph calls")).expect("a note");
        assert!(note.contains("213 Graph calls to destination WABA 104996122399160"), "{note}");
        assert!(note.contains("at least 1 hour"), "{note}");
    }
}
