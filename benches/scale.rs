//! wamig at scale, against the sandbox on loopback with injected latency. Run on demand with
//! `cargo bench --bench scale` (never in CI: it takes about a minute and measures wall time).
//! It prints one table with the figures the README's performance section records:
//!
//! - plan over 2,000 numbers in 200 destination and 200 source WABAs at 100 ms latency: HTTP
//!   requests and wall time, against a naive reader that asks for each WABA and each edge on its
//!   own (measured in the same run, with the same concurrency);
//! - apply over 200 numbers with their codes ready, parallelism 8: wall time against the ideal
//!   (every request in sequence per number, numbers perfectly spread over the 8 lanes);
//! - validate of a 10,000-number manifest: time and peak heap.
//!
//! `WAMIG_BENCH_LATENCY_MS` changes the injected latency (default 100).

#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::panic,
    reason = "a bench prints its table and stops loudly when its setup fails"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wamig::apply::engine::Timing;
use wamig::apply::run::ApplyOptions;
use wamig::graph::{GraphClient, GraphConfig};
use wamig::sandbox::{SandboxHandle, SandboxOptions, World};
use wamig::secret::Secret;
use wamig::ui::{Level, LogFormat, Ui};

/// Counts live heap bytes so the validate figure is the peak the manifest needed, not the
/// process's whole resident size (which includes the benchmark's own sandbox and runtime).
struct PeakHeap;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code, reason = "counting heap bytes needs a global allocator, whose trait is unsafe")]
unsafe impl GlobalAlloc for PeakHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: PeakHeap = PeakHeap;

const TOKEN: &str = "sandbox-token-bench";
const PIN: &str = "246810";

struct Row {
    what: String,
    requests: String,
    wall: String,
    target: String,
    verdict: &'static str,
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let latency = Duration::from_millis(
        std::env::var("WAMIG_BENCH_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(100),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut rows = Vec::new();

    rows.extend(runtime.block_on(bench_plan(latency)));
    rows.push(runtime.block_on(bench_apply(latency)));
    rows.push(bench_validate());

    println!();
    println!("{:<58} {:>10} {:>10}  target", "benchmark", "requests", "wall");
    for row in rows {
        println!(
            "{:<58} {:>10} {:>10}  {:<26} {}",
            row.what, row.requests, row.wall, row.target, row.verdict
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// A world of `sources` source WABAs with `per_source` numbers each, moving one to one into as
/// many destination WABAs. Rate limits are lifted: the benchmark measures wamig, not Meta's
/// quotas.
fn world_yaml(sources: usize, per_source: usize, latency: Duration) -> String {
    let mut yaml = String::new();
    let _ = write!(
        yaml,
        "options:\n  page_size: 25\n  rate_limit: {{ calls_per_hour: 100000000, calls_per_hour_active: 100000000 }}\n  \
         register_limit: 10\n  faults: {{ latency: {}ms, seed: 7 }}\n\
         app: {{ id: \"100000000000001\", name: bench app }}\n\
         businesses:\n  - {{ id: \"111111111111111\", name: Bench Ltd }}\nwabas:\n",
        latency.as_millis()
    );
    for s in 0..sources {
        let _ = write!(
            yaml,
            "  - id: \"{}\"\n    name: source-{s}\n    business: \"111111111111111\"\n    \
             primary_funding_id: \"5550000000{s:05}\"\n    template_limit: 250\n    templates:\n      \
             - {{ name: order_{s}, language: en_US, category: UTILITY, status: APPROVED, quality_score: GREEN }}\n      \
             - {{ name: promo_{s}, language: en_US, category: MARKETING, status: APPROVED, quality_score: YELLOW }}\n    \
             phone_numbers:\n",
            source_waba(s)
        );
        for n in 0..per_source {
            let index = s * per_source + n;
            let _ = writeln!(
                yaml,
                "      - {{ id: \"{}\", display_phone_number: \"{}\", verified_name: Bench {index} }}",
                900_000_000_000_000u64 + index as u64,
                phone(index)
            );
        }
    }
    for d in 0..sources {
        let _ = write!(
            yaml,
            "  - id: \"{}\"\n    name: destination-{d}\n    business: \"111111111111111\"\n    \
             primary_funding_id: \"5551000000{d:05}\"\n    template_limit: 250\n    \
             subscribed_apps:\n      - {{ id: \"100000000000001\", name: bench app }}\n",
            destination_waba(d)
        );
    }
    let reads: Vec<String> = (0..sources).map(|s| format!("\"{}\"", source_waba(s))).collect();
    let manages: Vec<String> = (0..sources).map(|d| format!("\"{}\"", destination_waba(d))).collect();
    let _ = write!(
        yaml,
        "tokens:\n  - token: {TOKEN}\n    name: bench\n    \
         scopes: [whatsapp_business_management, whatsapp_business_messaging]\n    \
         read: [{}]\n    manage: [{}]\n",
        reads.join(", "),
        manages.join(", ")
    );
    yaml
}

fn source_waba(index: usize) -> String {
    format!("{}", 310_000_000_000_000u64 + index as u64)
}

fn destination_waba(index: usize) -> String {
    format!("{}", 320_000_000_000_000u64 + index as u64)
}

/// Distinct, valid North American numbers: +1 415 2xx-xxxx onwards.
fn phone(index: usize) -> String {
    format!("+1 415-{:03}-{:04}", 200 + index / 10_000, index % 10_000)
}

fn manifest_yaml(destinations: usize, per_destination: usize, with_sources: bool) -> String {
    let mut yaml = String::from("version: 1\ndefaults:\n  pin: { env: WAMIG_BENCH_PIN }\ndestinations:\n");
    for d in 0..destinations {
        let _ =
            writeln!(yaml, "  - waba: \"{}\"\n    name: destination-{d}\n    numbers:", destination_waba(d));
        for n in 0..per_destination {
            let index = d * per_destination + n;
            let _ = writeln!(yaml, "      - phone: \"{}\"", phone(index));
            if with_sources {
                let _ = writeln!(yaml, "        source_waba: \"{}\"", source_waba(d));
            }
        }
    }
    yaml
}

async fn start_sandbox(world: &str, outbox: &Path) -> SandboxHandle {
    let world = World::from_yaml_str(world).expect("benchmark world");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    wamig::sandbox::start(listener, SandboxOptions::new(world, outbox)).await.expect("sandbox")
}

fn client(sandbox: &SandboxHandle, concurrency: usize) -> GraphClient {
    let config = GraphConfig::new(&sandbox.base_url(), "v23.0", Secret::new(TOKEN.to_owned()))
        .expect("config")
        .with_max_concurrency(concurrency);
    GraphClient::new(config).expect("client")
}

fn quiet_ui() -> Ui {
    Ui::capture(Level::Warn, LogFormat::Text)
}

async fn bench_plan(latency: Duration) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = start_sandbox(&world_yaml(200, 10, latency), &dir.path().join("outbox")).await;
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(200, 10, true)).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");
    let ui = quiet_ui();

    // The same path as `wamig plan`: observe, then the pure planner.
    let graph = client(&sandbox, 4);
    let before = sandbox.request_count();
    let started = Instant::now();
    let snapshot = wamig::observe::observe(&graph, &manifest.desired, &ui).await.expect("observe");
    let journal = wamig::journal::Journal::load(&dir.path().join("state.json")).expect("journal");
    let plan = wamig::plan::planner::plan(
        &manifest.desired,
        &manifest.digest,
        &snapshot,
        &journal,
        jiff::Timestamp::now(),
    );
    let wamig_wall = started.elapsed();
    let wamig_requests = sandbox.request_count() - before;
    assert_eq!(plan.numbers.len(), 2000, "every number is planned");

    // The naive reader: one request per WABA and per edge, same concurrency.
    let before = sandbox.request_count();
    let started = Instant::now();
    let ids = wamig::observe::named_wabas(&manifest.desired);
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    let mut reads = tokio::task::JoinSet::new();
    for id in ids {
        for edge in ["", "phone_numbers", "subscribed_apps", "message_templates"] {
            let (graph, id, limit) = (graph.clone(), id.clone(), limit.clone());
            reads.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                match edge {
                    "" => graph.waba(&id).await.map(|_| ()),
                    "phone_numbers" => graph.phone_numbers(&id).await.map(|_| ()),
                    "subscribed_apps" => graph.subscribed_apps(&id).await.map(|_| ()),
                    _ => graph.message_templates(&id).await.map(|_| ()),
                }
            });
        }
    }
    while let Some(joined) = reads.join_next().await {
        joined.expect("task").expect("naive read");
    }
    let naive_wall = started.elapsed();
    let naive_requests = sandbox.request_count() - before;

    vec![
        Row {
            what: format!("plan: 2,000 numbers, 400 WABAs, {} latency", millis(latency)),
            requests: wamig_requests.to_string(),
            wall: millis(wamig_wall),
            target: "<= 20 requests, <= 1 s".into(),
            verdict: verdict(wamig_requests <= 20 && wamig_wall <= Duration::from_secs(1)),
        },
        Row {
            what: "plan baseline: one request per WABA and edge".into(),
            requests: naive_requests.to_string(),
            wall: millis(naive_wall),
            target: format!("x{:.0} slower", naive_wall.as_secs_f64() / wamig_wall.as_secs_f64()),
            verdict: "",
        },
    ]
}

async fn bench_apply(latency: Duration) -> Row {
    const NUMBERS: usize = 200;
    const PARALLELISM: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = dir.path().join("outbox");
    let sandbox = start_sandbox(&world_yaml(20, 10, latency), &outbox).await;
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(20, 10, true)).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");

    // "Codes ready": each code is readable the moment the sandbox sends it, as if the phone's
    // owner typed it in at once. The PIN comes from the same lookup.
    let env_outbox = outbox.clone();
    let env: wamig::apply::engine::Env = Arc::new(move |name: &str| {
        if name == "WAMIG_BENCH_PIN" {
            return Some(PIN.to_owned());
        }
        let digits = name.strip_prefix("WAMIG_CODE_")?;
        std::fs::read_to_string(env_outbox.join(digits)).ok().map(|code| code.trim().to_owned())
    });
    let options = ApplyOptions {
        plan_file: None,
        state: dir.path().join(".wamig/state.json").into(),
        codes_dir: dir.path().join(".wamig/codes"),
        auto_approve: true,
        wait_for_codes: None,
        parallelism: PARALLELISM,
        max_migrations: None,
        resend_code: false,
        targets: Vec::new(),
        timing: Timing::default(),
        env,
    };
    let graph = client(&sandbox, PARALLELISM);
    let ui = quiet_ui();
    let before = sandbox.request_count();
    let started = Instant::now();
    let status = wamig::apply::run::run(&manifest, graph, options, &ui).await;
    let wall = started.elapsed();
    let requests = sandbox.request_count() - before;
    match status {
        Ok(wamig::ExitStatus::Success) => {}
        other => panic!("apply did not finish: {other:?}\n{}", ui.captured()),
    }

    // The ideal: the requests that must happen in sequence (observing, then one number's steps
    // and checks) with the numbers spread perfectly over the lanes.
    let observe_requests = wamig::observe::named_wabas(&manifest.desired).len().div_ceil(50) + 1;
    let per_number = (requests - observe_requests) as f64 / NUMBERS as f64;
    let lanes_rounds = NUMBERS.div_ceil(PARALLELISM) as f64;
    let ideal = latency.mul_f64(1.0 + per_number * lanes_rounds);
    let ratio = wall.as_secs_f64() / ideal.as_secs_f64();
    Row {
        what: format!("apply: {NUMBERS} numbers, codes ready, parallelism {PARALLELISM}"),
        requests: requests.to_string(),
        wall: millis(wall),
        target: format!("<= 1.25 x ideal {} (x{ratio:.2})", millis(ideal)),
        verdict: verdict(ratio <= 1.25),
    }
}

fn bench_validate() -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(100, 100, false)).expect("manifest");
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let started = Instant::now();
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");
    let wall = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    assert_eq!(manifest.desired.numbers.len(), 10_000);
    drop(manifest);

    // The same through the real binary, process start included.
    let binary = env!("CARGO_BIN_EXE_wamig");
    let started = Instant::now();
    let output = std::process::Command::new(binary)
        .args(["validate", "-f"])
        .arg(&path)
        .output()
        .expect("run wamig validate");
    let process_wall = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let mib = peak as f64 / (1024.0 * 1024.0);
    Row {
        what: format!("validate: 10,000 numbers (wamig validate: {})", millis(process_wall)),
        requests: "0".into(),
        wall: format!("{} / {mib:.1} MiB", millis(wall)),
        target: "<= 150 ms, <= 50 MB".into(),
        verdict: verdict(wall <= Duration::from_millis(150) && mib <= 50.0),
    }
}
