//! The shared journal on `object_store`'s in-memory store: the lock, its lease, takeover,
//! fencing, force-unlock and the conditional-write check, without a network.

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::{ObjectStoreExt, PutPayload};

use super::*;
use crate::ui::{Level, LogFormat};

fn url() -> ObjectUrl {
    ObjectUrl { scheme: Scheme::S3, bucket: "acme-wamig".into(), prefix: "prod/eu".into() }
}

fn store(memory: &Arc<InMemory>) -> SharedStore {
    SharedStore::with_store(url(), memory.clone()).unwrap()
}

fn holder(host: &str) -> Holder {
    Holder { host: host.into(), user: "ci".into(), pid: 7, ci_run: Some("https://ci.example/run/1".into()) }
}

fn ui() -> Ui {
    Ui::capture(Level::Warn, LogFormat::Text)
}

const LONG: Duration = Duration::from_secs(600);

fn journal_with(code_requests: u32) -> Journal {
    let mut journal = Journal::new();
    journal.entry("+16315550102", "104996122399160").code_requests = code_requests;
    journal
}

async fn object(memory: &InMemory, name: &str) -> serde_json::Value {
    let bytes =
        memory.get(&ObjectPath::from(format!("prod/eu/{name}"))).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_second_holder_is_refused_naming_the_first_until_it_releases() {
    let memory = Arc::new(InMemory::new());
    let first = store(&memory).acquire("wamig apply", LONG, holder("runner-1"), &ui()).await.unwrap();
    assert!(first.taken_over.is_none());
    match store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await {
        Err(StateError::Locked { record, .. }) => {
            assert_eq!(record.holder.host, "runner-1");
            assert_eq!(record.id, first.id());
            let text = StateError::Locked { url: url().to_string(), record }.to_string();
            assert!(
                text.contains("`wamig apply` by ci on runner-1 (pid 7), CI run https://ci.example/run/1"),
                "{text}"
            );
            assert!(text.contains("its lease ends at"), "{text}");
        }
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("two holders at once"),
    }
    first.release();
    let lock = object(&memory, "lock.json").await;
    assert_eq!(lock["status"], "released");
    let second = store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await.unwrap();
    assert!(second.taken_over.is_none(), "a released lock is simply taken");
    assert_eq!(object(&memory, "lock.json").await["generation"], 2);
    second.release();
}

#[tokio::test]
async fn the_journal_carries_from_one_holder_to_the_next() {
    let memory = Arc::new(InMemory::new());
    let first = store(&memory).acquire("wamig apply", LONG, holder("runner-1"), &ui()).await.unwrap();
    assert_eq!(first.load().unwrap(), Journal::new());
    first.save(&journal_with(1)).unwrap();
    first.save(&journal_with(2)).unwrap();
    first.release();
    let envelope = object(&memory, "journal.json").await;
    assert_eq!(envelope["lock_generation"], 1);
    assert_eq!(envelope["sequence"], 2);
    assert_eq!(store(&memory).load().await.unwrap(), journal_with(2));
    let second = store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await.unwrap();
    assert_eq!(second.load().unwrap(), journal_with(2));
    assert_eq!(
        object(&memory, "journal.json").await["lock_generation"],
        2,
        "the new holder fenced the journal"
    );
    second.release();
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_old_holder_can_no_longer_write() {
    let memory = Arc::new(InMemory::new());
    let warnings = ui();
    let old = store(&memory)
        .acquire("wamig apply", Duration::from_millis(300), holder("runner-1"), &warnings)
        .await
        .unwrap();
    old.save(&journal_with(1)).unwrap();
    // The holder's renewals stop as if its runner had been cut off.
    old.stopping.store(true, Ordering::SeqCst);
    old.stop.notify_one();
    tokio::time::sleep(Duration::from_millis(400)).await;

    let new = store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await.unwrap();
    let previous = new.taken_over.clone().expect("taken over from runner-1");
    assert_eq!(previous.holder.host, "runner-1");
    assert_eq!(new.load().unwrap(), journal_with(1), "what the old holder recorded is kept");

    match old.save(&journal_with(9)) {
        Err(StateError::Fenced { why, .. }) => assert!(why.contains("generation 2"), "{why}"),
        other => panic!("expected Fenced, got {other:?}"),
    }
    assert_eq!(store(&memory).load().await.unwrap(), journal_with(1), "the old holder wrote nothing");
    new.save(&journal_with(3)).unwrap();
    // The old holder's release leaves the new holder's lock alone.
    old.release();
    assert!(warnings.captured().contains("is no longer this process's"), "{}", warnings.captured());
    assert_eq!(object(&memory, "lock.json").await["status"], "held");
    new.release();
}

#[tokio::test]
async fn the_holder_renews_its_lease_while_it_runs() {
    let memory = Arc::new(InMemory::new());
    let lease = store(&memory)
        .acquire("wamig apply", Duration::from_secs(3), holder("runner-1"), &ui())
        .await
        .unwrap();
    let first: Timestamp =
        object(&memory, "lock.json").await["lease_until"].as_str().unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later: Timestamp =
        object(&memory, "lock.json").await["lease_until"].as_str().unwrap().parse().unwrap();
    assert!(later > first, "{later} after {first}");
    assert!(matches!(
        store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await,
        Err(StateError::Locked { .. })
    ));
    lease.release();
}

#[tokio::test]
async fn force_unlock_needs_the_lock_id_and_fences_the_holder() {
    let memory = Arc::new(InMemory::new());
    let lease = store(&memory).acquire("wamig apply", LONG, holder("runner-1"), &ui()).await.unwrap();
    match store(&memory).force_unlock("not-the-id", "ci on laptop".into()).await {
        Err(StateError::WrongLockId { given, record, .. }) => {
            assert_eq!(given, "not-the-id");
            assert_eq!(record.id, lease.id());
        }
        other => panic!("expected WrongLockId, got {other:?}"),
    }
    let unlocked = store(&memory).force_unlock(lease.id(), "ci on laptop".into()).await.unwrap();
    assert_eq!(unlocked.map(|r| r.holder.host), Some("runner-1".to_owned()));
    let lock = object(&memory, "lock.json").await;
    assert_eq!(
        (lock["status"].as_str(), lock["released_by"].as_str()),
        (Some("released"), Some("ci on laptop"))
    );
    assert!(matches!(lease.save(&journal_with(1)), Err(StateError::Fenced { .. })));
    assert_eq!(
        store(&memory).force_unlock(lease.id(), "again".into()).await.unwrap(),
        None,
        "nothing left to unlock"
    );
    let next = store(&memory).acquire("wamig apply", LONG, holder("runner-2"), &ui()).await.unwrap();
    assert!(next.taken_over.is_none());
    next.release();
}

#[tokio::test]
async fn the_store_check_runs_once_and_is_remembered() {
    let memory = Arc::new(InMemory::new());
    let lease = store(&memory).acquire("wamig apply", LONG, holder("runner-1"), &ui()).await.unwrap();
    lease.release();
    let check = object(&memory, "store-check.json").await;
    assert_eq!(
        (check["conditional_create"].as_bool(), check["conditional_update"].as_bool()),
        (Some(true), Some(true))
    );
    let listed = memory.list_with_delimiter(Some(&ObjectPath::from("prod/eu"))).await.unwrap();
    let mut names: Vec<String> = listed.objects.into_iter().map(|meta| meta.location.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        ["prod/eu/journal.json", "prod/eu/lock.json", "prod/eu/store-check.json"],
        "the probe is gone"
    );
}

#[tokio::test]
async fn a_journal_object_wamig_did_not_write_is_refused() {
    let memory = Arc::new(InMemory::new());
    memory
        .put(&ObjectPath::from("prod/eu/journal.json"), PutPayload::from_static(b"{\"hello\": 1}"))
        .await
        .unwrap();
    match store(&memory).load().await {
        Err(error @ StateError::Corrupt { .. }) => {
            assert!(
                error
                    .to_string()
                    .starts_with("journal.json in s3://acme-wamig/prod/eu is not a wamig object"),
                "{error}"
            )
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let envelope = serde_json::json!({
        "wamig_shared_journal": 1, "lock_generation": 1, "lock_id": "x", "sequence": 0,
        "written_at": "2026-11-25T12:00:00Z", "journal": {"format_version": 9, "numbers": {}}
    });
    memory
        .put(&ObjectPath::from("prod/eu/journal.json"), PutPayload::from(envelope.to_string().into_bytes()))
        .await
        .unwrap();
    assert!(matches!(store(&memory).load().await, Err(StateError::Version { found: 9, .. })));
}

#[test]
fn store_errors_lose_query_strings_and_credential_values() {
    let text = "Error performing PUT https://acct.blob.core.windows.net/c/journal.json?sv=2024&sig=abc%2F in 1s - boom";
    assert_eq!(
        scrub_store_text(text),
        "Error performing PUT https://acct.blob.core.windows.net/c/journal.json in 1s - boom"
    );
    assert!(is_loopback_http("http://127.0.0.1:5000") && is_loopback_http("http://localhost/"));
    assert!(!is_loopback_http("https://127.0.0.1:5000") && !is_loopback_http("http://minio.internal:9000"));
}
