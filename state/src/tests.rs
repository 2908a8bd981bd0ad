//! Unit tests of the state store: checkpoints, runs, and damaged or
//! foreign files.

use super::*;
use serde_json::json;

#[test]
fn checkpoints_are_per_pipeline_and_stream() {
    let s = StateStore::in_memory().unwrap();
    let mut cp = BTreeMap::new();
    cp.insert("users".to_string(), json!({"c": 1}));
    cp.insert("orders".to_string(), json!({"c": 2}));
    s.commit_checkpoint("a", &cp).unwrap();
    cp.insert("users".to_string(), json!({"c": 9}));
    s.commit_checkpoint("b", &cp).unwrap();
    let a = s.stream_states("a").unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.iter().find(|x| x.stream == "users").unwrap().state,
        json!({"c": 1})
    );
    assert_eq!(
        s.stream_states("b")
            .unwrap()
            .iter()
            .find(|x| x.stream == "users")
            .unwrap()
            .state,
        json!({"c": 9})
    );
    assert_eq!(s.reset("a", Some("users")).unwrap(), 1);
    assert_eq!(s.stream_states("a").unwrap().len(), 1);
    assert_eq!(s.reset("a", None).unwrap(), 1);
    assert!(s.stream_states("a").unwrap().is_empty());
    assert_eq!(s.stream_states("b").unwrap().len(), 2);
}

#[test]
fn runs_count_up_and_list_newest_first() {
    let s = StateStore::in_memory().unwrap();
    assert_eq!(s.start_run("p", &["users"]).unwrap(), 1);
    assert_eq!(s.start_run("p", &["users"]).unwrap(), 2);
    assert_eq!(s.start_run("q", &[]).unwrap(), 1);
    let mut r = s.runs("p").unwrap()[0].clone();
    assert_eq!(r.id, 2);
    r.status = RunStatus::Succeeded;
    s.finish_run("p", &r).unwrap();
    assert_eq!(s.runs("p").unwrap()[0].status, RunStatus::Succeeded);
    assert_eq!(s.runs("p").unwrap().len(), 2);
    // Run 1 was never finished: its process stopped.
    let first = &s.runs("p").unwrap()[1];
    assert_eq!(first.status, RunStatus::Interrupted);
    assert_eq!(first.streams[0].outcome, StreamOutcome::Interrupted);
}

#[test]
fn a_store_keeps_the_newest_runs_of_each_pipeline() {
    let s = StateStore::in_memory().unwrap();
    let extra = 7;
    for _ in 0..RUNS_KEPT + extra {
        s.start_run("p", &["users"]).unwrap();
    }
    s.start_run("q", &[]).unwrap();
    let runs = s.runs("p").unwrap();
    assert_eq!(runs.len() as u64, RUNS_KEPT);
    assert_eq!(runs[0].id, RUNS_KEPT + extra, "newest first");
    assert_eq!(runs.last().unwrap().id, extra + 1, "the oldest kept");
    assert_eq!(s.runs("q").unwrap().len(), 1, "other pipelines untouched");
    let recent: Vec<u64> = s
        .recent_runs("p", 3)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let newest = RUNS_KEPT + extra;
    assert_eq!(recent, [newest, newest - 1, newest - 2]);
    assert!(s.recent_runs("p", 0).unwrap().is_empty());
    let mut seen = 0;
    s.runs_while("p", |_| {
        seen += 1;
        seen < 5
    })
    .unwrap();
    assert_eq!(seen, 5, "the visit stops when told");
}

#[test]
fn corrupt_states_and_runs_name_their_table_and_key() {
    let s = StateStore::in_memory().unwrap();
    let txn = s.db().begin_write().unwrap();
    {
        let mut states = txn.open_table(STREAM_STATE).unwrap();
        states.insert(("p", "users"), "{").unwrap();
        let mut runs = txn.open_table(RUNS).unwrap();
        runs.insert(("p", 7), "[]").unwrap();
    }
    txn.commit().unwrap();
    let e = s.saved_states("p").unwrap_err();
    assert_eq!(e.corrupt(), Some(("stream_state", r#"("p", "users")"#)));
    let e = s.runs("p").unwrap_err();
    assert_eq!(e.corrupt(), Some(("runs", r#"("p", 7)"#)), "{e}");
    assert!(e.to_string().contains("table `runs`"), "{e}");
}

#[test]
fn damaged_stores_that_make_redb_panic_are_errors() {
    // Inputs the state_store fuzz target found (fuzz/seeds/state_store).
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/state_store");
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&seeds).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("regression-") {
            continue;
        }
        seen += 1;
        let copy = dir.path().join(&name);
        std::fs::copy(&path, &copy).unwrap();
        let outcome = StateStore::open(&copy).and_then(|s| {
            s.saved_states("faker-to-file")?;
            s.runs("faker-to-file")
        });
        let e = outcome.expect_err(&name).to_string();
        assert!(e.contains(&name), "{e}");
    }
    assert!(seen >= 4, "the regression inputs are there");
}

#[test]
fn after_a_caught_panic_every_call_fails_at_once() {
    let s = StateStore::in_memory().unwrap();
    let clone = s.clone();
    // A panic inside redb that leaves the write slot taken, as a write
    // transaction whose destructor panicked while unwinding may.
    let e = s
        .guarded(|| -> Result<()> {
            std::mem::forget(s.write_txn()?.into_inner());
            panic!("a page that is not there");
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the store is damaged (redb: a page that is not there)"),
        "{e}"
    );
    // Within a second, or the call is blocked for good.
    let within_a_second = |call: fn(&StateStore) -> Result<()>| {
        let (sent, got) = std::sync::mpsc::channel();
        let store = s.clone();
        std::thread::spawn(move || sent.send(call(&store).map_err(|e| e.to_string())));
        got.recv_timeout(std::time::Duration::from_secs(1))
    };
    // redb itself would now wait for that transaction forever.
    let raw = within_a_second(|s| s.db().begin_write().map(drop).map_err(|e| s.err(e)));
    assert!(raw.is_err(), "begin_write returned: {raw:?}");
    // The store does not ask it: every call fails with the same error.
    let later = within_a_second(|s| s.start_run("p", &["users"]).map(drop));
    assert_eq!(later.expect("start_run returns at once"), Err(e.clone()));
    let later = within_a_second(|s| s.commit_checkpoint("p", &[("users".into(), json!(1))].into()));
    assert_eq!(later.expect("a checkpoint returns at once"), Err(e.clone()));
    assert_eq!(clone.runs("p").unwrap_err().to_string(), e);
    assert_eq!(
        clone
            .fetch_schema(&sluice_schema::Schema::default().id())
            .unwrap_err()
            .to_string(),
        e
    );
    // Closing it does not wait for the transaction either.
    drop(clone);
    drop(s);
}

#[test]
fn foreign_and_corrupt_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, b"this is not a database at all, not even close").unwrap();
    let e = StateStore::open(&junk).unwrap_err().to_string();
    assert!(e.contains("junk.redb"), "{e}");

    let other = dir.path().join("other.redb");
    {
        let db = Database::create(&other).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(TableDefinition::<&str, u64>::new("theirs"))
            .unwrap()
            .insert("k", &1)
            .unwrap();
        txn.commit().unwrap();
    }
    let before = std::fs::read(&other).unwrap();
    let e = StateStore::open(&other).unwrap_err().to_string();
    assert!(e.contains("not a sluice state store"), "{e}");
    assert_eq!(std::fs::read(&other).unwrap(), before, "left untouched");
    let before = std::fs::read(&junk).unwrap();
    assert!(StateStore::open(&junk).is_err());
    assert_eq!(std::fs::read(&junk).unwrap(), before, "left untouched");

    let ours = dir.path().join("ours.redb");
    drop(StateStore::open(&ours).unwrap());
    assert!(StateStore::open(&ours).is_ok());
}

#[test]
fn next_runs_are_kept_per_pipeline_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.next_run("p").unwrap(), None);
        let next = NextRun {
            schedule: "every 15m".into(),
            at_ms: Some(1_796_169_600_000),
        };
        store.set_next_run("p", &next).unwrap();
    }
    let store = StateStore::open(&path).unwrap();
    let next = store.next_run("p").unwrap().unwrap();
    assert_eq!(next.at_ms, Some(1_796_169_600_000));
    assert_eq!(next.schedule, "every 15m");
    assert_eq!(store.next_run("q").unwrap(), None);
}
