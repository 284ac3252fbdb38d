//! Owns the per-WABA hourly rate limit: counting calls, the usage Graph reports in
//! `X-Business-Use-Case-Usage`, and refusing with 80008 over the limit. It must not know about
//! headers (the server writes them) nor any other rule.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{State, ceil_minutes, since};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::world::NumberStatus;

/// Usage of one WABA's hourly allowance, for `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub waba_id: String,
    pub calls: u32,
    pub limit: u32,
    pub percent: u32,
    pub minutes_to_regain: u64,
}

impl State {
    /// Whether the WABA has a registered (`CONNECTED`) number: Meta gives such a WABA the larger
    /// budget. Only the WABA's own nodes are looked at, as every request is charged here.
    fn active(&self, waba: &str) -> bool {
        self.by_waba
            .get(waba)
            .into_iter()
            .flatten()
            .filter_map(|id| self.numbers.get(id))
            .any(|n| n.exists && n.waba == waba && n.status == NumberStatus::Connected)
    }

    pub(super) fn usage(&mut self, waba: &str, now: Timestamp) -> Usage {
        let window = Duration::from_secs(3600);
        let limit = if self.active(waba) {
            self.options.rate_limit.calls_per_hour_active
        } else {
            self.options.rate_limit.calls_per_hour
        };
        let calls = self.calls.entry(waba.to_owned()).or_default();
        while calls.front().is_some_and(|t| since(now, *t) >= window) {
            calls.pop_front();
        }
        let count = calls.len() as u32;
        let minutes_to_regain = if count >= limit {
            // The allowance comes back when enough of the oldest calls leave the window.
            let index = (count - limit) as usize;
            calls
                .get(index)
                .map(|oldest| ceil_minutes(window.saturating_sub(since(now, *oldest))))
                .unwrap_or(0)
        } else {
            0
        };
        Usage {
            waba_id: waba.to_owned(),
            calls: count,
            limit,
            percent: (u64::from(count) * 100 / u64::from(limit.max(1))).min(100) as u32,
            minutes_to_regain,
        }
    }

    /// Counts one call against each WABA (once per listed occurrence, so a multi-id read pays
    /// per id). Over the limit: nothing is counted and 80008 is returned with the usage.
    pub fn charge(
        &mut self,
        wabas: &[String],
        now: Timestamp,
    ) -> Result<Vec<Usage>, (GraphError, Vec<Usage>)> {
        let mut needed: BTreeMap<&str, u32> = BTreeMap::new();
        for waba in wabas {
            *needed.entry(waba.as_str()).or_default() += 1;
        }
        let mut over = false;
        for (waba, count) in &needed {
            let usage = self.usage(waba, now);
            if usage.calls + count > usage.limit {
                over = true;
            }
        }
        if over {
            let usages = needed.keys().map(|w| self.usage(w, now)).collect();
            return Err((GraphError::buc_rate_limited(), usages));
        }
        for (waba, count) in &needed {
            let calls = self.calls.entry((*waba).to_owned()).or_default();
            for _ in 0..*count {
                calls.push_back(now);
            }
        }
        Ok(needed.keys().map(|w| self.usage(w, now)).collect())
    }

    /// Current usage, counting nothing.
    pub fn peek_usage(&mut self, wabas: &[String], now: Timestamp) -> Vec<Usage> {
        let unique: BTreeSet<&String> = wabas.iter().collect();
        unique.into_iter().map(|w| self.usage(w, now)).collect()
    }
}
