//! Builds every connector (`connectors/`) and test guest (`tests/guests/`)
//! for wasm32-wasip2 and generates a constant per component with its path,
//! plus `COMPONENTS` listing them all. A component nobody lists here fails
//! the build, so every guest is known to the tests.

use sluice_guest_build::Guest;
use std::path::{Path, PathBuf};

/// Every guest, as (workspace, package, constant).
const GUESTS: &[(&str, &str, &str)] = &[
    ("connectors", "sluice-source-faker", "SOURCE_FAKER"),
    ("connectors", "sluice-source-file", "SOURCE_FILE"),
    ("connectors", "sluice-dest-file", "DEST_FILE"),
    ("connectors", "sluice-dest-postgres", "DEST_POSTGRES"),
    ("connectors", "sluice-source-postgres", "SOURCE_POSTGRES"),
    ("connectors", "sluice-source-http", "SOURCE_HTTP"),
    (
        "connectors",
        "sluice-transform-example",
        "TRANSFORM_EXAMPLE",
    ),
    ("tests/guests", "sluice-test-hostile", "HOSTILE"),
    ("tests/guests", "sluice-test-bad-source", "BAD_SOURCE"),
    (
        "tests/guests",
        "sluice-test-future-contract",
        "FUTURE_CONTRACT",
    ),
    ("tests/guests", "sluice-test-http-client", "HTTP_CLIENT"),
    (
        "tests/guests",
        "sluice-test-contract-0-1-0",
        "CONTRACT_0_1_0",
    ),
    (
        "tests/guests",
        "sluice-test-looping-transform",
        "LOOPING_TRANSFORM",
    ),
];

fn watch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') && name != ".cargo" {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let root = root.canonicalize().expect("workspace root");
    for dir in [
        "connectors",
        "tests/guests",
        "guest-sdk",
        "protocol",
        "schema",
        "wit",
    ] {
        watch(&root.join(dir));
    }
    let mut built: Vec<Guest> = Vec::new();
    for workspace in ["connectors", "tests/guests"] {
        let guests = sluice_guest_build::guests(&root, workspace).unwrap_or_else(|e| panic!("{e}"));
        for guest in &guests {
            let package = &guest.package;
            assert!(
                GUESTS
                    .iter()
                    .any(|(w, p, _)| *w == workspace && p == package),
                "guest `{package}` in {workspace}/ is not listed in tests/artifacts/build.rs GUESTS; add it so tests can name it"
            );
        }
        sluice_guest_build::build(&root, workspace).unwrap_or_else(|e| panic!("{e}"));
        built.extend(guests);
    }
    let mut code = String::new();
    let mut all = Vec::new();
    for (_, package, constant) in GUESTS {
        let file = built
            .iter()
            .find(|g| g.package == *package)
            .map(|g| g.wasm.clone())
            .unwrap_or_else(|| panic!("no guest package `{package}`"));
        assert!(file.is_file(), "{} was not built", file.display());
        code.push_str(&format!(
            "/// The `{package}` component.\npub const {constant}: &str = {:?};\n",
            file.display().to_string()
        ));
        all.push(format!("(\"{package}\", {constant})"));
    }
    code.push_str(&format!(
        "/// Every component, as (package, path).\npub const COMPONENTS: &[(&str, &str)] = &[{}];\n",
        all.join(", ")
    ));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("components.rs");
    std::fs::write(dest, code).unwrap();
}
