//! The `sluice` binary under test, on top of `sluice-test-support` (its
//! path, `CARGO_BIN_EXE_sluice`, exists only in these integration tests).
//! Each test file takes what it needs.
#![allow(dead_code)]

pub mod kill;

pub use sluice_test_support::*;
use std::path::Path;
use std::process::Command;

/// `sluice` with the compile cache shared by every test process.
pub fn sluice() -> Command {
    sluice_in(&cache_dir())
}

/// `sluice` with its compile cache in `cache`.
pub fn sluice_in(cache: &Path) -> Command {
    sluice_command(env!("CARGO_BIN_EXE_sluice"), cache)
}
