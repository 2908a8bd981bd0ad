//! `sluice_manifest::parse` on arbitrary text: the pipeline TOML file,
//! with `${ENV}` substitution, path resolution and defaults.
//!
//! Must never panic. When it succeeds, the result must keep the promises
//! the runtime relies on (a non-empty name, tables for both configs,
//! absolute guest paths) and parsing must be deterministic; when it fails,
//! the error must name the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_manifest::{Endpoint, parse};
use std::path::Path;

const FILE: &str = "fuzz.toml";

fn check_endpoint(e: &Endpoint, dir: &Path) {
    assert!(
        e.config.is_object(),
        "config is not a table: {:?}",
        e.config
    );
    for d in &e.dirs {
        assert!(
            d.guest.starts_with('/'),
            "relative guest path {:?}",
            d.guest
        );
        // Relative hosts are joined to the file's directory; absolute ones
        // replace it. Either way the result is absolute.
        assert!(d.host.is_absolute() || !dir.is_absolute(), "{:?}", d.host);
    }
    let sandbox = e.sandbox();
    assert_eq!(sandbox.grants.dirs, e.dirs);
    assert_eq!(sandbox.limits, e.limits);
    // The derived limits saturate rather than overflow.
    let _ = (
        e.limits.timeout(),
        e.limits.batch_bytes(),
        e.limits.log_bytes(),
    );
}

fuzz_target!(
    init: {
        // A variable the seeds use, so `${...}` succeeds as well as fails.
        // SAFETY: init runs once, before libFuzzer starts any threads.
        unsafe { std::env::set_var("SLUICE_FUZZ_TOKEN", "s3cr3t-${NOT_RECURSIVE}") };
    },
    |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let dir = Path::new("/fuzz/pipelines");
        match parse(text, dir, FILE, "fuzz-default") {
            Ok(m) => {
                assert!(!m.name.is_empty());
                assert_eq!(m.file, FILE);
                check_endpoint(&m.source, dir);
                check_endpoint(&m.destination, dir);
                assert!(m.state.is_absolute());
                assert!(m.source.component.is_absolute());
                // Deterministic: the same text gives the same manifest.
                let again = parse(text, dir, FILE, "fuzz-default").expect("parsed once");
                assert_eq!(again, m);
            }
            Err(e) => {
                assert_eq!(e.file, FILE);
                assert!(e.to_string().starts_with("fuzz.toml: "), "{e}");
            }
        }
    }
);
