//! The `sluice` binary under test, on top of `sluice-test-support` (its
//! path, `CARGO_BIN_EXE_sluice`, exists only in these integration tests).
//! Each test file takes what it needs.
#![allow(dead_code)]

pub mod kill;
pub mod leaks;

pub use sluice_test_support::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `sluice` with the compile cache shared by every test process.
pub fn sluice() -> Command {
    sluice_in(&cache_dir())
}

/// `sluice` with its compile cache in `cache`.
pub fn sluice_in(cache: &Path) -> Command {
    sluice_command(env!("CARGO_BIN_EXE_sluice"), cache)
}

/// Read `child`'s stderr (piped) up to the line that starts with
/// `prefix` (`sluice: metrics on `, `sluice: status page on `) and return
/// the rest of that line (the URL), with a thread collecting the lines
/// after it.
pub fn url_from_stderr(
    child: &mut std::process::Child,
    prefix: &str,
) -> (String, std::thread::JoinHandle<Vec<String>>) {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("stderr piped");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no line starting `{prefix}`"))
            .unwrap();
        if let Some(url) = line.strip_prefix(prefix) {
            break url.to_string();
        }
    };
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    (url, rest)
}

/// Run `cmd` with `input` on its stdin; its output.
pub fn with_stdin(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may stop reading early (a refused input): not an error here.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

/// Run the validator `script` (in `tests/pyenv/python/`) with the Python
/// of `package` on `input`; its JSON summary. Panics, with what it said,
/// when it fails or the package cannot be installed.
pub fn validate(
    package: pyenv::Package,
    script: &str,
    args: &[&str],
    input: &str,
) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pyenv/python")
        .join(script);
    let mut python = pyenv::python(package).unwrap_or_else(|e| panic!("{e}"));
    let o = with_stdin(python.arg(&path).args(args), input);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{script} refused the input: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{script} printed {out}: {e}"))
}

/// `sluice` with `args`; its stdout, after asserting it succeeded.
pub fn run_ok(args: &[&str]) -> String {
    let o = sluice().args(args).output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "sluice {args:?}: {err}");
    out
}

/// A JSON file `name` in `dir` holding `value`; its path as text.
pub fn json_file(dir: &Path, name: &str, value: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

/// `sluice write --format FORMAT` of `input` into dest-file writing to
/// `dir/out`, with `args`.
pub fn write_into(dir: &Path, format: &str, input: &str, args: &[&str]) -> Output {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let config = json_file(dir, "dest.json", &serde_json::json!({"path": "/out"}));
    let grant = format!("{}:/out:rw", out.display());
    with_stdin(
        sluice()
            .args([
                "write",
                sluice_artifacts::DEST_FILE,
                "--dir",
                &grant,
                "--config",
                &config,
            ])
            .args(["--format", format])
            .args(args),
        input,
    )
}
