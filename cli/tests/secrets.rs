//! Secrets (config fields the spec marks `"secret": true`) never leave the
//! host in clear: not in logs at any verbosity, not in errors, not in
//! `--json` output, not in the run history, not in the state store, not in
//! any file. Where a secret would have been, the redaction marker is.
//!
//! The `bad-source` test component misbehaves on purpose with its secret
//! `token`: it logs it, prints it, puts it in an error (`leak`), panics with
//! it (`leak-panic`), or puts it into a checkpoint (`secret-state`).

mod support;

use serde_json::{Value, json};
use sluice_artifacts as artifacts;
use sluice_protocol::config::REDACTED;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::PipelineToml;
use support::leaks::{Ran, SECRET, assert_no_secret_in_files, sluice};

/// A pipeline `bad-source` (misbehaving as `mode` at step 2 of 4) ->
/// dest-file, the token from `${SLUICE_TEST_SECRET}`, no retries.
fn pipeline(dir: &Path, mode: &str) -> PathBuf {
    PipelineToml::new(
        artifacts::BAD_SOURCE,
        json!({"mode": mode, "at": 2, "batches": 4, "token": "${SLUICE_TEST_SECRET}"}),
    )
    .name("secrets")
    .options(json!({"retries": 0}))
    .write(dir, "p.toml")
}

/// Everything a user could look at after syncing the misbehaving pipeline:
/// the sync at the highest verbosity, as a table and as JSON, with
/// `RUST_LOG=trace` too; the run history and the saved state. Returns the
/// first `--json` summary, the run history and the saved state; asserts
/// that no output and no file holds the secret.
fn sync_everything(mode: &str) -> (Value, Value, Value, Vec<Ran>) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), mode);
    let mut ran = Vec::new();
    // `cmd p`, labelled `what (mode)`.
    let run = |what: &str, cmd: &mut Command| {
        Ran::new(format!("{what} ({mode})"), cmd.arg(&p).output().unwrap())
    };

    ran.push(run(
        "sluice -vvv sync --json",
        sluice().args(["-vvv", "sync", "--json"]),
    ));
    ran.push(run("sluice -vvv sync", sluice().args(["-vvv", "sync"])));
    ran.push(run(
        "RUST_LOG=trace sluice -vvv sync --json",
        sluice()
            .env("RUST_LOG", "trace")
            .args(["-vvv", "sync", "--json"]),
    ));
    for r in &ran {
        assert_eq!(r.code, Some(1), "`{}` must fail:\n{}", r.what, r.err);
        for panic in [
            "panicked at cli",
            "panicked at runtime",
            "RUST_BACKTRACE=full",
        ] {
            assert!(!r.err.contains(panic), "the host panicked: {}", r.err);
        }
    }

    ran.push(run(
        "sluice runs --json",
        sluice().args(["-vvv", "runs", "--json"]),
    ));
    ran.push(run("sluice runs", sluice().args(["-vvv", "runs"])));
    // `state show` prints JSON; it has no --json flag.
    ran.push(run(
        "sluice state show",
        sluice().args(["-vvv", "state", "show"]),
    ));
    for r in &ran[3..] {
        assert_eq!(r.code, Some(0), "`{}`:\n{}", r.what, r.err);
    }

    for r in &ran {
        r.assert_no_secret();
    }
    assert!(dir.path().join(".sluice/state.redb").is_file());
    assert_no_secret_in_files(dir.path());

    let summary = ran[0].json();
    let runs = ran[3].json();
    let state = ran[5].json();
    assert_eq!(runs.as_array().unwrap().len(), 3, "three runs: {runs}");
    for run in runs.as_array().unwrap() {
        assert_eq!(run["status"], "failed", "{run}");
    }
    (summary, runs, state, ran)
}

fn stream<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["run"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == name)
        .unwrap_or_else(|| panic!("no stream `{name}` in {summary}"))
}

#[test]
fn a_source_that_logs_prints_and_returns_its_token_leaks_nothing() {
    let (summary, runs, state, ran) = sync_everything("leak");

    // It did what the mode says: `bad` failed with the connector's error,
    // `good` went on and succeeded.
    assert_eq!(summary["run"]["status"], "failed", "{summary}");
    let good = stream(&summary, "good");
    assert_eq!(good["status"], "succeeded", "{summary}");
    assert_eq!(good["records"], 400, "{summary}");
    let bad = stream(&summary, "bad");
    assert_eq!(bad["status"], "failed", "{summary}");
    let error = bad["error"].as_str().unwrap();
    assert!(
        error.contains("bad-source")
            && error.contains(&format!("the server refused token {REDACTED}")),
        "the error is kept, with the marker where the token was: {error}"
    );
    assert!(
        summary["run"]["error"].as_str().unwrap().contains("bad"),
        "{summary}"
    );

    // The marker stands where the token was: in the guest's log call, its
    // stdout and stderr lines (logs on stderr at -vvv), the human summary
    // and the run history.
    let verbose = &ran[1].err;
    for line in [
        format!("connecting with token {REDACTED}"),
        format!("stdout: token={REDACTED}"),
        format!("stderr: token={REDACTED}"),
    ] {
        assert!(
            verbose.contains(&line),
            "`{line}` not in the logs:\n{verbose}"
        );
    }
    assert!(
        ran[1].out.contains("stream `bad` failed") && ran[1].redacted(),
        "{}",
        ran[1].out
    );
    assert!(
        runs[0]["streams"].to_string().contains(REDACTED),
        "run history: {runs}"
    );
    // State: `good` got to its end, `bad` kept its last good checkpoint.
    assert_eq!(state["good"]["state"]["step"], 4, "{state}");
    assert_eq!(state["bad"]["state"]["step"], 1, "{state}");
}

#[test]
fn a_source_that_panics_with_its_token_leaks_nothing() {
    let (summary, runs, _state, ran) = sync_everything("leak-panic");

    assert_eq!(summary["run"]["status"], "failed", "{summary}");
    let error = summary["run"]["error"].as_str().unwrap();
    assert!(
        error.contains("connector `bad-source` crashed in reader.next"),
        "a crash naming the connector and the call: {error}"
    );
    assert!(
        error.contains(&format!("cannot use token {REDACTED}")),
        "the panic message is kept, with the marker where the token was: {error}"
    );
    assert!(
        runs[0]["error"].as_str().unwrap().contains(REDACTED),
        "{runs}"
    );
    assert!(ran[1].redacted(), "{}\n{}", ran[1].out, ran[1].err);
}

#[test]
fn a_checkpoint_holding_the_token_is_refused_and_not_persisted() {
    let (summary, runs, state, _ran) = sync_everything("secret-state");

    assert_eq!(summary["run"]["status"], "failed", "{summary}");
    let error = summary["run"]["error"].as_str().unwrap();
    for part in [
        "connector `bad-source`",
        "the checkpoint of stream `bad`",
        "secret config field",
        "not persisted",
    ] {
        assert!(error.contains(part), "`{part}` not in: {error}");
    }
    assert!(
        runs[0]["error"]
            .as_str()
            .unwrap()
            .contains("secret config field"),
        "{runs}"
    );
    // `bad` keeps the checkpoint before the refused one, and nothing of the
    // refused one.
    assert_eq!(
        state["bad"]["state"],
        serde_json::json!({"step": 1}),
        "{state}"
    );
}

#[test]
fn read_check_and_discover_of_a_leaky_source_leak_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(
        &config,
        serde_json::json!({"mode": "leak", "at": 2, "batches": 3, "token": SECRET}).to_string(),
    )
    .unwrap();
    // The most verbose logs there are: -vvv, and RUST_LOG=trace for every
    // target (wasmtime's included).
    let run = |args: &[&str]| {
        let o = sluice()
            .env("RUST_LOG", "trace")
            .arg("-vvv")
            .args(args)
            .arg(artifacts::BAD_SOURCE)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        Ran::new(format!("RUST_LOG=trace sluice -vvv {}", args.join(" ")), o)
    };
    let read = run(&["read", "--stream", "bad"]);
    read.assert_no_secret();
    assert!(
        read.err.contains(&format!(
            "stream error: auth error in stream `bad`: the server refused token {REDACTED}"
        )),
        "{}",
        read.err
    );
    assert!(
        read.err
            .contains(&format!("connecting with token {REDACTED}")),
        "{}",
        read.err
    );
    assert_eq!(read.out.lines().count(), 200, "steps 1 and 3 of `bad`");
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["discover", "--json"],
    ] {
        let r = run(args);
        assert_eq!(r.code, Some(0), "{}: {}", r.what, r.err);
        r.assert_no_secret();
    }
}

#[test]
fn a_secret_that_fails_validation_is_not_echoed() {
    // The token given as a table instead of a string: the schema error
    // names the field and what was expected, never the value.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(
        &config,
        serde_json::json!({"mode": "leak", "token": {"value": SECRET}}).to_string(),
    )
    .unwrap();
    for json in [false, true] {
        let mut c = sluice();
        c.args(["-vvv", "check", artifacts::BAD_SOURCE, "--config"])
            .arg(&config);
        if json {
            c.arg("--json");
        }
        let r = Ran::new(format!("sluice check (json: {json})"), c.output().unwrap());
        assert_eq!(r.code, Some(1), "{}", r.err);
        r.assert_no_secret();
        let message = if json {
            r.json()["message"].as_str().unwrap().to_string()
        } else {
            r.err.clone()
        };
        assert!(
            message.contains("config field `token`")
                && message.contains("is not of type \"string\""),
            "{message}"
        );
    }

    // The same in a pipeline: refused before anything runs or is written.
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), "leak");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "token = \"${SLUICE_TEST_SECRET}\"",
        "token = { value = \"${SLUICE_TEST_SECRET}\" }",
    );
    std::fs::write(&p, text).unwrap();
    for json in [false, true] {
        let mut c = sluice();
        c.args(["-vvv", "sync"]).arg(&p);
        if json {
            c.arg("--json");
        }
        let r = Ran::new(format!("sluice sync (json: {json})"), c.output().unwrap());
        assert_eq!(r.code, Some(1), "{}", r.err);
        r.assert_no_secret();
        assert!(
            r.err.contains("`source.config`") && r.err.contains("config field `token`"),
            "{}",
            r.err
        );
    }
    assert!(!dir.path().join(".sluice").exists());
    assert_no_secret_in_files_or_none(dir.path());
}

/// [`assert_no_secret_in_files`] where there may be only the pipeline file.
fn assert_no_secret_in_files_or_none(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn a_secret_pasted_into_another_field_is_not_echoed_by_validation() {
    // A common slip: the token also lands in a field that is not secret
    // (here `at`, an integer). The schema error for that field must not
    // print the secret's value either: the host knows the value and
    // scrubs it everywhere else (logs, stderr, connector errors).
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.json");
    std::fs::write(
        &config,
        serde_json::json!({"mode": "leak", "token": SECRET, "at": SECRET}).to_string(),
    )
    .unwrap();
    for json in [false, true] {
        let mut c = sluice();
        c.args(["check", artifacts::BAD_SOURCE, "--config"])
            .arg(&config);
        if json {
            c.arg("--json");
        }
        let r = Ran::new(format!("sluice check (json: {json})"), c.output().unwrap());
        assert_eq!(r.code, Some(1), "{}", r.err);
        assert!(
            (r.err.contains("config field `at`") || r.out.contains("config field `at`"))
                && (r.err.contains("is not of type") || r.out.contains("is not of type")),
            "names the field and what was expected: {}{}",
            r.out,
            r.err
        );
        r.assert_no_secret();
        assert!(
            r.redacted(),
            "the marker where the value was: {}{}",
            r.out,
            r.err
        );
    }
}

/// A faker pipeline (`config`) whose `users.email` is hashed with the
/// secret, from `${SLUICE_TEST_SECRET}`, as the salt; `after` is TOML
/// following the hash step (more steps of `users`).
fn salted(dir: &Path, config: Value, after: &str) -> PathBuf {
    let steps = format!(
        "[[streams]]\nname = \"users\"\n[[streams.transforms]]\n\
         hash = {{ field = \"email\", salt = \"${{SLUICE_TEST_SECRET}}\" }}\n{after}"
    );
    PipelineToml::faker(config)
        .name("salted")
        .options(json!({"retries": 0}))
        .extra(&steps)
        .write(dir, "p.toml")
}

/// `sync --json`, `-vvv sync` with `RUST_LOG=trace`, `runs --json` and
/// `state show` of `p`, each checked for the secret on stdout and stderr.
/// Returns them; the syncs must exit with `sync_code`.
fn salted_runs(p: &Path, sync_code: i32) -> Vec<Ran> {
    let run = |what: &str, cmd: &mut Command| Ran::new(what, cmd.arg(p).output().unwrap());
    let ran = vec![
        run("sync --json", sluice().args(["sync", "--json"])),
        run(
            "RUST_LOG=trace sluice -vvv sync",
            sluice().env("RUST_LOG", "trace").args(["-vvv", "sync"]),
        ),
        run("runs --json", sluice().args(["runs", "--json"])),
        run("state show", sluice().args(["state", "show"])),
    ];
    for r in &ran[..2] {
        assert_eq!(r.code, Some(sync_code), "`{}`:\n{}{}", r.what, r.out, r.err);
    }
    for r in &ran {
        r.assert_no_secret();
    }
    ran
}

#[test]
fn a_hash_salt_from_the_environment_is_in_no_output_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = salted(dir.path(), json!({"count": 5}), "");
    let ran = salted_runs(&p, 0);
    for r in &ran[2..] {
        assert_eq!(r.code, Some(0), "`{}`: {}", r.what, r.err);
    }
    assert_eq!(
        ran[0].json()["run"]["status"],
        "succeeded",
        "{}",
        ran[0].out
    );
    assert_eq!(ran[2].json().as_array().unwrap().len(), 2, "two runs");
    let users = std::fs::read_to_string(dir.path().join("out/users.jsonl")).unwrap();
    for line in users.lines() {
        let email = serde_json::from_str::<Value>(line).unwrap()["email"].clone();
        let email = email.as_str().unwrap().to_string();
        assert!(
            email.len() == 64 && email.chars().all(|c| c.is_ascii_hexdigit()),
            "hashed: {line}"
        );
    }
    assert_no_secret_in_files(dir.path());
}

#[test]
fn a_destination_error_after_the_hash_step_leaks_no_salt() {
    // source-faker deletes every second user; dest-file refuses deletes.
    let dir = tempfile::tempdir().unwrap();
    let p = salted(dir.path(), json!({"count": 5, "delete_every": 2}), "");
    let ran = salted_runs(&p, 1);
    let summary = ran[0].json();
    assert_eq!(stream(&summary, "users")["status"], "failed", "{summary}");
    assert!(
        summary.to_string().contains("dest-file only inserts"),
        "{summary}"
    );
    for run in ran[2].json().as_array().unwrap() {
        assert_eq!(run["status"], "failed", "{run}");
    }
    assert_no_secret_in_files(dir.path());
}

#[test]
fn a_bad_step_next_to_a_hash_is_refused_without_its_salt() {
    let later = "[[streams.transforms]]\nupper = \"emial\"\n";
    let typo =
        "[[streams.transforms]]\nhash = { field = \"nmae\", salt = \"${SLUICE_TEST_SECRET}\" }\n";
    let key = "[[streams.transforms]]\nhash = { field = \"id\", salt = \"${SLUICE_TEST_SECRET}\", pepper = 1 }\n";
    let cases = [
        ("a later step", later, "emial"),
        ("a second hash", typo, "nmae"),
        ("an unknown key beside a salt", key, "pepper"),
    ];
    for (what, after, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        let p = salted(dir.path(), json!({"count": 5}), after);
        let r = Ran::new(
            what,
            sluice()
                .args(["-vvv", "sync", "--json"])
                .arg(&p)
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, Some(1), "{what}: {}", r.err);
        r.assert_no_secret();
        assert!(
            r.err.contains("p.toml") && r.err.contains(named),
            "{what}: {}",
            r.err
        );
        assert!(!dir.path().join(".sluice").exists(), "{what}: nothing ran");
        assert_no_secret_in_files_or_none(dir.path());
    }
}
