//! Owns fault injection: the `Faults` settings, the small deterministic PRNG (no crate: the
//! same seed must give the same run on every platform), and the per-request decision. It does
//! not build responses or touch the socket; `server.rs` acts on the decision.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which side of the write a dropped POST is cut on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropPhase {
    /// Each dropped POST picks before or after at random (seeded).
    #[default]
    Random,
    /// The connection closes and nothing was applied.
    BeforeWrite,
    /// The write was applied, then the connection closes without an answer.
    AfterWrite,
}

/// A write a refusal can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOperation {
    /// `POST /{waba}/phone_numbers`.
    InitiateMigration,
    RequestCode,
    VerifyCode,
    Register,
}

/// A definite refusal Graph answers a write with, without acting on it (e.g. 200000 "Cannot add
/// phone number to WhatsApp Business Account" on the migration POST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub operation: WriteOperation,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<i64>,
    /// HTTP status, a 4xx: a 5xx leaves the outcome open, which `error_rate` injects.
    #[serde(default = "default_refusal_status")]
    pub status: u16,
    /// Default: `(#code) The request was refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many more writes it refuses; absent: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

fn default_refusal_status() -> u16 {
    400
}

impl Refusal {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<String> {
        if !(400..=499).contains(&self.status) {
            return Some(format!(
                "status {} is not a refusal (4xx); transient 5xx answers come from error_rate",
                self.status
            ));
        }
        if self.times == Some(0) {
            return Some("times must be at least 1 (leave it out to refuse every time)".to_owned());
        }
        None
    }
}

/// Faults applied to Graph requests (never to `/_sandbox/` admin calls).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Added after a request was applied, before its answer leaves: a client that dies (or
    /// gives up) meanwhile never learns that its write went through.
    pub answer_delay: Duration,
    /// Share of requests answered with a Graph-style 5xx (codes 1 / 2, `is_transient`).
    pub error_rate: f64,
    /// Share of requests whose connection is closed without a complete answer.
    pub drop_rate: f64,
    /// The next N requests are throttled (80008 with the BUC header, or 4).
    pub throttle_burst: u32,
    pub seed: u64,
    pub drop_phase: DropPhase,
    /// Writes answered with a definite refusal, without acting; counted down by `times`.
    pub refuse: Vec<Refusal>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            answer_delay: Duration::ZERO,
            error_rate: 0.0,
            drop_rate: 0.0,
            throttle_burst: 0,
            seed: 1,
            drop_phase: DropPhase::Random,
            refuse: Vec::new(),
        }
    }
}

/// Partial update of the faults, as the admin API and `set_faults` callers send it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// Milliseconds.
    pub latency_ms: Option<u64>,
    /// Text like `100ms`, `2s`.
    pub latency: Option<String>,
    /// Text like `500ms`: the answer of an applied request is held this long.
    pub answer_delay: Option<String>,
    pub error_rate: Option<f64>,
    pub drop_rate: Option<f64>,
    pub throttle_burst: Option<u32>,
    pub seed: Option<u64>,
    pub drop_phase: Option<DropPhase>,
    /// Replaces the list of injected refusals (`[]` removes them all).
    pub refuse: Option<Vec<Refusal>>,
}

impl FaultsPatch {
    pub fn apply(&self, mut faults: Faults) -> Result<Faults, String> {
        if let Some(ms) = self.latency_ms {
            faults.latency = Duration::from_millis(ms);
        }
        if let Some(text) = &self.latency {
            faults.latency = super::parse_duration(text)?;
        }
        if let Some(text) = &self.answer_delay {
            faults.answer_delay = super::parse_duration(text)?;
        }
        for (name, value, slot) in [
            ("error_rate", self.error_rate, &mut faults.error_rate),
            ("drop_rate", self.drop_rate, &mut faults.drop_rate),
        ] {
            if let Some(rate) = value {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(format!("{name} must be between 0 and 1"));
                }
                *slot = rate;
            }
        }
        if let Some(burst) = self.throttle_burst {
            faults.throttle_burst = burst;
        }
        if let Some(seed) = self.seed {
            faults.seed = seed;
        }
        if let Some(phase) = self.drop_phase {
            faults.drop_phase = phase;
        }
        if let Some(refuse) = &self.refuse {
            if let Some((i, problem)) = refuse.iter().enumerate().find_map(|(i, r)| Some((i, r.problem()?))) {
                return Err(format!("refuse[{i}]: {problem}"));
            }
            faults.refuse = refuse.clone();
        }
        Ok(faults)
    }
}

/// SplitMix64: tiny, fast, good enough spread for fault shares and ids, and reproducible.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, bound); `bound` must be > 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    Throttle,
    /// HTTP 500 code 1, or HTTP 503 code 2.
    ServerError {
        code: i64,
    },
    Drop(DropPhase),
}

/// The live fault settings with their random stream and burst counter.
#[derive(Debug, Clone)]
pub struct FaultEngine {
    faults: Faults,
    rng: Prng,
    burst_left: u32,
}

impl FaultEngine {
    pub fn new(faults: Faults) -> Self {
        Self { rng: Prng::new(faults.seed), burst_left: faults.throttle_burst, faults }
    }

    pub fn faults(&self) -> Faults {
        let mut faults = self.faults.clone();
        faults.throttle_burst = self.burst_left;
        faults
    }

    pub fn latency(&self) -> Duration {
        self.faults.latency
    }

    pub fn answer_delay(&self) -> Duration {
        self.faults.answer_delay
    }

    /// The refusal injected into this write, if any, counting it down (an exhausted one is
    /// dropped).
    pub fn refusal(&mut self, operation: WriteOperation) -> Option<Refusal> {
        let at = self.faults.refuse.iter().position(|r| r.operation == operation)?;
        let refusal = self.faults.refuse[at].clone();
        match &mut self.faults.refuse[at].times {
            Some(1) => {
                self.faults.refuse.remove(at);
            }
            Some(left) => *left -= 1,
            None => {}
        }
        Some(refusal)
    }

    /// Draws the fate of one request. Throttle bursts come first (they are explicit), then
    /// 5xx answers, then drops; a dropped write picks its phase when the setting is `Random`.
    pub fn decide(&mut self, is_write: bool) -> Decision {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return Decision::Throttle;
        }
        if self.faults.error_rate > 0.0 && self.rng.next_f64() < self.faults.error_rate {
            let code = if self.rng.below(2) == 0 { 1 } else { 2 };
            return Decision::ServerError { code };
        }
        if self.faults.drop_rate > 0.0 && self.rng.next_f64() < self.faults.drop_rate {
            let phase = match (is_write, self.faults.drop_phase) {
                (false, _) => DropPhase::BeforeWrite,
                (true, DropPhase::Random) => {
                    if self.rng.below(2) == 0 {
                        DropPhase::BeforeWrite
                    } else {
                        DropPhase::AfterWrite
                    }
                }
                (true, phase) => phase,
            };
            return Decision::Drop(phase);
        }
        Decision::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions() {
        let faults = Faults { error_rate: 0.3, drop_rate: 0.3, seed: 42, ..Faults::default() };
        let mut a = FaultEngine::new(faults.clone());
        let mut b = FaultEngine::new(faults);
        let run_a: Vec<_> = (0..200).map(|i| a.decide(i % 2 == 0)).collect();
        let run_b: Vec<_> = (0..200).map(|i| b.decide(i % 2 == 0)).collect();
        assert_eq!(run_a, run_b);
        let errors = run_a.iter().filter(|d| matches!(d, Decision::ServerError { .. })).count();
        assert!((30..=90).contains(&errors), "{errors} errors of 200");
        assert!(run_a.contains(&Decision::Drop(DropPhase::AfterWrite)));
        assert!(run_a.contains(&Decision::Drop(DropPhase::BeforeWrite)));
    }

    #[test]
    fn burst_throttles_exactly_n_requests() {
        let mut engine = FaultEngine::new(Faults { throttle_burst: 3, ..Faults::default() });
        let decisions: Vec<_> = (0..5).map(|_| engine.decide(false)).collect();
        assert_eq!(
            decisions,
            [Decision::Throttle, Decision::Throttle, Decision::Throttle, Decision::Pass, Decision::Pass]
        );
    }

    #[test]
    fn reads_are_only_dropped_before() {
        let mut engine = FaultEngine::new(Faults {
            drop_rate: 1.0,
            drop_phase: DropPhase::AfterWrite,
            ..Faults::default()
        });
        assert_eq!(engine.decide(false), Decision::Drop(DropPhase::BeforeWrite));
        assert_eq!(engine.decide(true), Decision::Drop(DropPhase::AfterWrite));
    }

    #[test]
    fn refusals_count_down_and_answer_only_their_operation() {
        let once = Refusal {
            operation: WriteOperation::InitiateMigration,
            code: 200_000,
            subcode: None,
            status: 400,
            message: None,
            times: Some(2),
        };
        let always = Refusal { operation: WriteOperation::Register, times: None, ..once.clone() };
        let mut engine = FaultEngine::new(Faults { refuse: vec![once, always], ..Faults::default() });
        assert!(engine.refusal(WriteOperation::RequestCode).is_none());
        assert_eq!(engine.refusal(WriteOperation::InitiateMigration).unwrap().times, Some(2));
        assert_eq!(engine.faults().refuse[0].times, Some(1), "what is left shows");
        assert!(engine.refusal(WriteOperation::InitiateMigration).is_some());
        assert!(engine.refusal(WriteOperation::InitiateMigration).is_none());
        for _ in 0..3 {
            assert!(engine.refusal(WriteOperation::Register).is_some());
        }
        let bad: FaultsPatch =
            serde_json::from_str(r#"{"refuse": [{"operation": "register", "code": 1, "status": 503}]}"#)
                .unwrap();
        assert!(bad.apply(Faults::default()).unwrap_err().contains("refuse[0]: status 503"));
        let unknown =
            serde_json::from_str::<FaultsPatch>(r#"{"refuse": [{"operation": "deregister", "code": 1}]}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn patch_validates_rates() {
        let patch = FaultsPatch { error_rate: Some(1.5), ..FaultsPatch::default() };
        assert!(patch.apply(Faults::default()).is_err());
        let patch =
            FaultsPatch { latency: Some("250ms".into()), throttle_burst: Some(2), ..FaultsPatch::default() };
        let faults = patch.apply(Faults::default()).unwrap();
        assert_eq!(faults.latency, Duration::from_millis(250));
        assert_eq!(faults.throttle_burst, 2);
        let held = FaultsPatch { answer_delay: Some("1s".into()), ..FaultsPatch::default() };
        assert_eq!(held.apply(faults).unwrap().answer_delay, Duration::from_secs(1));
    }
}
