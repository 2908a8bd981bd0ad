//! The runtime is a library for services: nothing of a command line or a
//! terminal may be in its dependency tree (the CLI brings those).

use std::process::Command;

/// Crates that belong to a CLI or a terminal, not to an embedded library.
const CLI_CRATES: &[&str] = &[
    "clap",
    "indicatif",
    "comfy-table",
    "console",
    "crossterm",
    "tracing-subscriber",
    "anstream",
    "dialoguer",
];

#[test]
fn sluice_runtime_depends_on_no_cli_or_terminal_crate() {
    let o = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "sluice-runtime",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && tree.contains("wasmtime"),
        "cargo tree: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| CLI_CRATES.contains(name))
        .collect();
    assert!(found.is_empty(), "sluice-runtime pulls in {found:?}");
}
