//! Owns read-after-write lag (`options.read_lag`): Graph is eventually consistent, so for a while
//! after a write that changes a phone-number node its reads still show the node as it was. Writes
//! remember the node as it was before them; reads ask which version of a node they may show. It
//! must not decide any rule: writes always act on the true state, only what reads show lags.

use std::collections::VecDeque;

use jiff::Timestamp;

use super::{NumberState, State, add};

/// The versions of one node reads may still show: the node before each recent write (`None`
/// before the write that created it), oldest first.
pub(super) type History = VecDeque<(Timestamp, Option<NumberState>)>;

impl State {
    /// Records that node `id` was `before` until a write at `now` changed it. Nothing is kept
    /// while reads do not lag.
    pub(super) fn remember(&mut self, id: &str, before: Option<NumberState>, now: Timestamp) {
        let lag = self.options.read_lag;
        if lag.is_zero() {
            self.lagging.clear();
            return;
        }
        let history = self.lagging.entry(id.to_owned()).or_default();
        while history.front().is_some_and(|(at, _)| add(*at, lag) <= now) {
            history.pop_front();
        }
        history.push_back((now, before));
    }

    /// Node `id` as a read at `now` sees it: each write shows once `read_lag` has passed since
    /// it, so a read sees the node as it was before the oldest write still hidden. `None`: the
    /// read does not see the node at all (not created yet, as far as reads go).
    pub(super) fn visible(&self, id: &str, now: Timestamp) -> Option<&NumberState> {
        let lag = self.options.read_lag;
        let hidden = self
            .lagging
            .get(id)
            .filter(|_| !lag.is_zero())
            .and_then(|history| history.iter().find(|(at, _)| add(*at, lag) > now));
        match hidden {
            Some((_, before)) => before.as_ref(),
            None => self.numbers.get(id),
        }
    }
}
