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
