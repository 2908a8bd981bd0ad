//! Leak checks for secrets: a recognisable secret, the `sluice` command
//! with it in `SLUICE_TEST_SECRET` (for `${SLUICE_TEST_SECRET}` in pipeline
//! files), and assertions that no output and no file holds it.

use serde_json::Value;
use sluice_protocol::config::REDACTED;
use std::path::Path;
use std::process::{Command, Output};

/// Recognisable, and long enough for the host's redactor (>= 4 chars).
pub const SECRET: &str = "s3cr3t-TOKEN-4b1d";

/// `sluice` with the secret in `SLUICE_TEST_SECRET`.
pub fn sluice() -> Command {
    let mut c = super::sluice();
    c.env("SLUICE_TEST_SECRET", SECRET);
    c
}

/// One command's output, for leak checks.
pub struct Ran {
    /// The command, for messages.
    pub what: String,
    /// Its exit code.
    pub code: Option<i32>,
    /// Its stdout.
    pub out: String,
    /// Its stderr.
    pub err: String,
}

impl Ran {
    pub fn new(what: impl Into<String>, o: Output) -> Self {
        Ran {
            what: what.into(),
            code: o.status.code(),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn assert_no_secret(&self) {
        for (stream, text) in [("stdout", &self.out), ("stderr", &self.err)] {
            assert!(
                !text.contains(SECRET),
                "`{}` leaked the secret on {stream}:\n{text}",
                self.what
            );
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| {
            panic!(
                "`{}`: stdout is not JSON ({e}):\n{}\n{}",
                self.what, self.out, self.err
            )
        })
    }

    pub fn redacted(&self) -> bool {
        self.out.contains(REDACTED) || self.err.contains(REDACTED)
    }
}

/// Every file under `dir` (state store, destination files, ...), by raw
/// bytes: redb pages and JSON lines alike.
pub fn assert_no_secret_in_files(dir: &Path) {
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the secret is in the bytes of {}",
                path.display()
            );
        }
    }
    assert!(files >= 2, "expected a pipeline file and a state store");
}
