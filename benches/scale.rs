//! wamig at scale, against the sandbox on loopback with injected latency. Run on demand with
//! `cargo bench --bench scale` (never in CI: it takes a few minutes and measures wall time).
//! It prints one table with the figures the README's performance section records:
//!
//! - plan over 2,000 numbers in 200 destination and 200 source WABAs at 100 ms latency: HTTP
//!   requests and wall time, against a naive reader that asks for each WABA and each edge on its
//!   own (measured in the same run, with the same concurrency);
//! - plan at ten times that: 20,000 numbers in 4,000 WABAs, requests, wall time and peak heap;
//! - apply over 200 numbers with their codes ready, parallelism 8: requests per migrated number,
//!   and wall time against the four-write floor (four round trips in sequence per round of 8
//!   numbers, plus one for observing);
//! - apply of 200 numbers into one new destination WABA at Meta's budget of 200 calls an hour,
//!   on a simulated clock: the hours it takes against the fewest the budget allows, and whether
//!   Meta ever had to answer 80008;
//! - validate of a 10,000-number manifest: time and peak heap.
//!
//! `WAMIG_BENCH_LATENCY_MS` changes the injected latency (default 100); `WAMIG_BENCH_ROWS` runs
//! only some rows (comma-separated: `plan`, `plan-tenfold`, `apply`, `budget`, `validate`).

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

use wamig::apply::clock::{Clock, RuntimeClock};
use wamig::apply::engine::Timing;
use wamig::apply::run::ApplyOptions;
use wamig::graph::{GraphClient, GraphConfig, Sleeper};
use wamig::observe::OBSERVE_CONCURRENCY;
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
    let only = std::env::var("WAMIG_BENCH_ROWS").unwrap_or_default();
    let wanted = |row: &str| only.is_empty() || only.split(',').any(|w| w.trim() == row);
    let mut rows = Vec::new();

    if wanted("plan") {
        rows.extend(runtime.block_on(bench_plan(latency)));
    }
    if wanted("plan-tenfold") {
        rows.push(runtime.block_on(bench_plan_tenfold(latency)));
    }
    if wanted("apply") {
        rows.push(runtime.block_on(bench_apply(latency)));
    }
    if wanted("budget") {
        // Simulated time: the runtime's clock stands still while anything has work to do and
        // jumps to the next timer when everything waits.
        let paused = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rows.push(paused.block_on(bench_apply_at_budget(latency)));
    }
    if wanted("validate") {
        rows.push(bench_validate());
    }

    println!();
    println!("{:<58} {:>16} {:>18}  target", "benchmark", "requests", "wall");
    for row in rows {
        println!(
            "{:<58} {:>16} {:>18}  {:<44} {}",
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

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

fn mebibytes(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Meta's budgets per WABA: 200 calls an hour, 5,000 with a registered number.
const META_BUDGET: (u32, u32) = (200, 5_000);
/// Lifted budgets, for the rows that measure wamig rather than Meta's quotas.
const NO_BUDGET: (u32, u32) = (100_000_000, 100_000_000);

/// A world of `sources` source WABAs with `per_source` numbers each, moving one to one into as
/// many destination WABAs, with the given hourly budgets (new WABA, active WABA).
fn world_yaml(sources: usize, per_source: usize, latency: Duration, budget: (u32, u32)) -> String {
    let mut yaml = String::new();
    let _ = write!(
        yaml,
        "options:\n  page_size: 25\n  rate_limit: {{ calls_per_hour: {}, calls_per_hour_active: {} }}\n  \
         register_limit: 10\n  faults: {{ latency: {}ms, seed: 7 }}\n\
         app: {{ id: \"100000000000001\", name: bench app }}\n\
         businesses:\n  - {{ id: \"111111111111111\", name: Bench Ltd }}\nwabas:\n",
        budget.0,
        budget.1,
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
    GraphClient::new(config(sandbox, concurrency)).expect("client")
}

fn config(sandbox: &SandboxHandle, concurrency: usize) -> GraphConfig {
    GraphConfig::new(&sandbox.base_url(), "v23.0", Secret::new(TOKEN.to_owned()))
        .expect("config")
        .with_max_concurrency(concurrency)
}

fn quiet_ui() -> Ui {
    Ui::capture(Level::Warn, LogFormat::Text)
}

/// What `wamig plan` does: observe, then the pure planner. Returns the wall time, the peak heap
/// it needed (counted in this process, so a sandbox running here adds its own) and the numbers
/// planned.
async fn plan_once(
    graph: &GraphClient,
    manifest: &wamig::manifest::LoadedManifest,
    dir: &Path,
) -> (Duration, usize, usize) {
    let ui = quiet_ui();
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let started = Instant::now();
    let snapshot = wamig::observe::observe(graph, &manifest.desired, &ui).await.expect("observe");
    let journal = wamig::journal::Journal::load(&dir.join("state.json")).expect("journal");
    let plan = wamig::plan::planner::plan(
        &manifest.desired,
        &manifest.digest,
        &snapshot,
        &journal,
        jiff::Timestamp::now(),
    );
    let wall = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    let planned = plan.numbers.len();
    drop(plan);
    drop(snapshot);
    (wall, peak, planned)
}

/// `wamig sandbox` in a process of its own, so the figures of the plan measured here are
/// wamig's alone: its heap, and its share of the machine's cores.
struct SandboxProcess {
    child: std::process::Child,
    base_url: String,
}

impl SandboxProcess {
    fn start(world: &str, dir: &Path) -> Self {
        use std::io::BufRead as _;
        let world_path = dir.join("world.yaml");
        std::fs::write(&world_path, world).expect("world file");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wamig"))
            .arg("sandbox")
            .arg("--world")
            .arg(&world_path)
            .args(["--listen", "127.0.0.1:0", "--outbox"])
            .arg(dir.join("outbox"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start wamig sandbox");
        let stdout = child.stdout.take().expect("sandbox stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).expect("sandbox banner");
        let base_url = line
            .trim()
            .strip_prefix("wamig sandbox listening on ")
            .unwrap_or_else(|| panic!("unexpected sandbox banner: {line:?}"))
            .to_owned();
        Self { child, base_url }
    }

    fn client(&self, concurrency: usize) -> GraphClient {
        let config = GraphConfig::new(&self.base_url, "v23.0", Secret::new(TOKEN.to_owned()))
            .expect("config")
            .with_max_concurrency(concurrency);
        GraphClient::new(config).expect("client")
    }

    /// The Graph requests the sandbox has answered so far (its admin requests are not logged).
    async fn request_count(&self) -> usize {
        let url = format!("{}/_sandbox/requests", self.base_url);
        let log: Vec<serde_json::Value> = reqwest::get(&url)
            .await
            .expect("sandbox request log")
            .json()
            .await
            .expect("sandbox request log is JSON");
        log.len()
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn bench_plan(latency: Duration) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = start_sandbox(&world_yaml(200, 10, latency, NO_BUDGET), &dir.path().join("outbox")).await;
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(200, 10, true)).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");

    let before = sandbox.request_count();
    let (wamig_wall, _, planned) =
        plan_once(&client(&sandbox, OBSERVE_CONCURRENCY), &manifest, dir.path()).await;
    let wamig_requests = sandbox.request_count() - before;
    assert_eq!(planned, 2000, "every number is planned");

    // The naive reader: one request per WABA and per edge, same concurrency.
    let graph = client(&sandbox, OBSERVE_CONCURRENCY);
    let before = sandbox.request_count();
    let started = Instant::now();
    let ids = wamig::observe::named_wabas(&manifest.desired);
    let limit = Arc::new(tokio::sync::Semaphore::new(OBSERVE_CONCURRENCY));
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

/// The plan at ten times the scale above: 20,000 numbers in 2,000 destination and 2,000 source
/// WABAs, the sandbox in its own process so the heap and the cores measured are wamig's.
async fn bench_plan_tenfold(latency: Duration) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = SandboxProcess::start(&world_yaml(2000, 10, latency, NO_BUDGET), dir.path());
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(2000, 10, true)).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");
    let before = sandbox.request_count().await;
    let (wall, peak, planned) = plan_once(&sandbox.client(OBSERVE_CONCURRENCY), &manifest, dir.path()).await;
    let requests = sandbox.request_count().await - before;
    assert_eq!(planned, 20_000, "every number is planned");
    let mib = mebibytes(peak);
    Row {
        what: format!("plan: 20,000 numbers, 4,000 WABAs, {} latency", millis(latency)),
        requests: requests.to_string(),
        wall: format!("{} / {mib:.0} MiB", millis(wall)),
        target: "<= 100 requests, <= 3 s, <= 200 MB".into(),
        verdict: verdict(requests <= 100 && wall <= Duration::from_secs(3) && mib <= 200.0),
    }
}

/// "Codes ready": each code is readable the moment the sandbox sends it, as if the phone's
/// owner typed it in at once. The PIN comes from the same lookup.
fn codes_ready(outbox: &Path) -> wamig::apply::engine::Env {
    let outbox = outbox.to_owned();
    Arc::new(move |name: &str| {
        if name == "WAMIG_BENCH_PIN" {
            return Some(PIN.to_owned());
        }
        let digits = name.strip_prefix("WAMIG_CODE_")?;
        std::fs::read_to_string(outbox.join(digits)).ok().map(|code| code.trim().to_owned())
    })
}

fn apply_options(dir: &Path, parallelism: usize, timing: Timing) -> ApplyOptions {
    ApplyOptions {
        plan_file: None,
        state: dir.join(".wamig/state.json").into(),
        codes_dir: dir.join(".wamig/codes"),
        auto_approve: true,
        wait_for_codes: None,
        parallelism,
        max_migrations: None,
        resend_code: false,
        targets: Vec::new(),
        timing,
        env: codes_ready(&dir.join("outbox")),
    }
}

async fn bench_apply(latency: Duration) -> Row {
    const NUMBERS: usize = 200;
    const PARALLELISM: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = start_sandbox(&world_yaml(20, 10, latency, NO_BUDGET), &dir.path().join("outbox")).await;
    let path = dir.path().join("wamig.yaml");
    std::fs::write(&path, manifest_yaml(20, 10, true)).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");

    let options = apply_options(dir.path(), PARALLELISM, Timing::default());
    let graph = client(&sandbox, PARALLELISM);
    let trace = std::env::var("WAMIG_BENCH_TRACE").ok();
    let ui = if trace.is_some() { Ui::capture(Level::Debug, LogFormat::Json) } else { quiet_ui() };
    let before = sandbox.request_count();
    let started = Instant::now();
    let status = wamig::apply::run::run(&manifest, graph, options, &ui).await;
    let wall = started.elapsed();
    let requests = sandbox.request_count() - before;
    if let Some(trace) = trace {
        std::fs::write(&trace, ui.captured()).expect("trace");
        let log: Vec<String> =
            sandbox.requests().iter().map(|r| format!("{} {} {}", r.time, r.method, r.path)).collect();
        std::fs::write(format!("{trace}.sandbox"), log.join("\n")).expect("trace");
    }
    match status {
        Ok(wamig::ExitStatus::Success) => {}
        other => panic!("apply did not finish: {other:?}\n{}", ui.captured()),
    }

    // The floor: observing takes one round trip, then each round of 8 numbers needs its four
    // writes one after the other. Every read beyond that is apply's overhead.
    let floor = latency.mul_f64((1 + 4 * NUMBERS.div_ceil(PARALLELISM)) as f64);
    let ratio = wall.as_secs_f64() / floor.as_secs_f64();
    let per_number = requests as f64 / NUMBERS as f64;
    Row {
        what: format!("apply: {NUMBERS} numbers, codes ready, parallelism {PARALLELISM}"),
        requests: format!("{requests} ({per_number:.2}/nr)"),
        wall: seconds(wall),
        target: format!("<= 5/nr, <= 1.3 x floor {} (x{ratio:.2})", seconds(floor)),
        verdict: verdict(per_number <= 5.0 && ratio <= 1.3),
    }
}

/// 200 numbers into one new destination WABA at Meta's budgets, not registered (a destination
/// with a registered number has 5,000 calls an hour, which 200 numbers never reach), so the 200
/// calls an hour govern the whole run. Time is simulated (run in a paused runtime): apply's
/// waits take no time, the sandbox's clock is moved along with apply's, and `--max-wait` is long
/// enough for one run to go through.
async fn bench_apply_at_budget(latency: Duration) -> Row {
    const NUMBERS: usize = 200;
    const PARALLELISM: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Arc::new(
        start_sandbox(&world_yaml(1, NUMBERS, latency, META_BUDGET), &dir.path().join("outbox")).await,
    );
    let path = dir.path().join("wamig.yaml");
    let manifest_text =
        manifest_yaml(1, NUMBERS, true).replacen("defaults:\n", "defaults:\n  register: false\n", 1);
    std::fs::write(&path, manifest_text).expect("manifest");
    let manifest = wamig::manifest::load(&path).expect("benchmark manifest is valid");

    let moved = sandbox.clone();
    let clock = Arc::new(RuntimeClock::new().on_advance(move |step| moved.advance_clock(step)));
    let timing =
        Timing { clock: clock.clone(), max_wait: Duration::from_secs(6 * 3600), ..Timing::default() };
    let options = apply_options(dir.path(), PARALLELISM, timing);
    // The client's own waits between read retries are on the same clock.
    let waits = clock.clone();
    let sleeper = Sleeper::new(move |wait| {
        let clock = waits.clone();
        async move { clock.sleep(wait).await }
    });
    let graph = GraphClient::new(config(&sandbox, PARALLELISM).with_sleeper(sleeper)).expect("client");
    let trace = std::env::var("WAMIG_BENCH_TRACE").ok();
    let ui = if trace.is_some() { Ui::capture(Level::Debug, LogFormat::Json) } else { quiet_ui() };
    let started = Instant::now();
    let status = wamig::apply::run::run(&manifest, graph, options, &ui).await;
    let wall = started.elapsed();
    let simulated = clock.elapsed();
    if let Some(trace) = trace {
        std::fs::write(&trace, ui.captured()).expect("trace");
        let log: Vec<String> = sandbox
            .requests()
            .iter()
            .map(|r| format!("{} {} {} {:?} {:?}", r.time, r.method, r.path, r.error_code, r.charged))
            .collect();
        std::fs::write(format!("{trace}.sandbox"), log.join("\n")).expect("trace");
    }
    match status {
        Ok(wamig::ExitStatus::Success) => {}
        other => panic!("apply did not finish: {other:?}\n{}", ui.captured()),
    }

    let log = sandbox.requests();
    let destination = destination_waba(0);
    let charged: u32 = log.iter().filter_map(|r| r.charged.get(&destination)).sum();
    let throttled = log.iter().filter(|r| r.error_code == Some(80008)).count();
    // The budget's floor: a rolling hour lets 200 calls go at once, and each further 200 wait
    // for the window to move by an hour.
    let floor_hours = u64::from(charged.saturating_sub(1) / META_BUDGET.0);
    let hours = simulated.as_secs_f64() / 3600.0;
    let ratio = if floor_hours == 0 { 1.0 } else { hours / floor_hours as f64 };
    Row {
        what: format!("apply at Meta's budget: {NUMBERS} numbers into 1 new WABA, 200 calls/h"),
        requests: format!("{} ({charged} charged)", log.len()),
        wall: format!("{hours:.2} h sim, {}", seconds(wall)),
        target: format!("no 80008 ({throttled}), <= 1.2 x floor {floor_hours} h (x{ratio:.2})"),
        verdict: verdict(throttled == 0 && ratio <= 1.2),
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

    let mib = mebibytes(peak);
    Row {
        what: format!("validate: 10,000 numbers (wamig validate: {})", millis(process_wall)),
        requests: "0".into(),
        wall: format!("{} / {mib:.1} MiB", millis(wall)),
        target: "<= 150 ms, <= 50 MB".into(),
        verdict: verdict(wall <= Duration::from_millis(150) && mib <= 50.0),
    }
}
