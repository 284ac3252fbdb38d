//! Owns wamig's exit codes (README.md, "Exit codes") and how several outcomes combine into one.

/// What a command ended with. The discriminant is the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, or nothing to do.
    Success = 0,
    /// Bad input, API failure, stale plan, state locked.
    Error = 1,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes = 2,
    /// `apply` paused with progress saved: it waits for verification codes, for a WABA's Graph
    /// budget to come back, or for Graph to confirm a write it already answered.
    Paused = 3,
    /// At least one number is blocked by a failed eligibility check.
    Blocked = 4,
    /// Interrupted by Ctrl-C after saving progress.
    Interrupted = 130,
    /// Stopped by SIGTERM (a cancelled CI job) after saving progress.
    Terminated = 143,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Combines outcomes with the priority README.md gives: error, then blocked, then
    /// awaiting codes / changes. An interruption outranks everything but an error.
    pub fn combine(self, other: ExitStatus) -> ExitStatus {
        if self.rank() >= other.rank() { self } else { other }
    }

    fn rank(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Changes => 1,
            ExitStatus::Paused => 2,
            ExitStatus::Blocked => 3,
            ExitStatus::Interrupted | ExitStatus::Terminated => 4,
            ExitStatus::Error => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus::*;

    #[test]
    fn priority_follows_the_contract() {
        assert_eq!(Changes.combine(Blocked), Blocked);
        assert_eq!(Blocked.combine(Error), Error);
        assert_eq!(Paused.combine(Blocked), Blocked);
        assert_eq!(Success.combine(Paused), Paused);
        assert_eq!(Success.combine(Success), Success);
    }
}
