//! Builds every connector (`connectors/`) and test guest (`tests/guests/`)
//! for wasm32-wasip2 and generates a constant per component with its path,
//! plus `COMPONENTS` listing them all. A component nobody lists here fails
//! the build, so every guest is known to the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every guest, as (workspace, package, constant).
const GUESTS: &[(&str, &str, &str)] = &[
    ("connectors", "sluice-source-faker", "SOURCE_FAKER"),
    ("connectors", "sluice-source-file", "SOURCE_FILE"),
    ("connectors", "sluice-dest-file", "DEST_FILE"),
    ("tests/guests", "sluice-test-hostile", "HOSTILE"),
    ("tests/guests", "sluice-test-bad-source", "BAD_SOURCE"),
    (
        "tests/guests",
        "sluice-test-future-contract",
        "FUTURE_CONTRACT",
    ),
    ("tests/guests", "sluice-test-http-client", "HTTP_CLIENT"),
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

fn members(workspace: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(workspace.join("Cargo.toml")).expect("workspace manifest");
    let start = text.find("members").expect("workspace members");
    let list = &text[start
        ..text[start..]
            .find(']')
            .map(|e| start + e)
            .expect("members list")];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let root = root.canonicalize().expect("workspace root");
    for dir in ["connectors", "tests/guests", "guest-sdk", "protocol", "wit"] {
        watch(&root.join(dir));
    }
    let target = root.join("target").join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for workspace in ["connectors", "tests/guests"] {
        let dir = root.join(workspace);
        for member in members(&dir) {
            let manifest = std::fs::read_to_string(dir.join(&member).join("Cargo.toml")).unwrap();
            let package = manifest
                .lines()
                .find_map(|l| l.strip_prefix("name = \""))
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_default()
                .to_string();
            assert!(
                GUESTS
                    .iter()
                    .any(|(w, p, _)| *w == workspace && *p == package),
                "guest `{package}` in {workspace}/ is not listed in tests/artifacts/build.rs GUESTS; add it so tests can name it"
            );
        }
        let status = Command::new(&cargo)
            .current_dir(&dir)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--workspace",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .status()
            .expect("run cargo for the guests");
        assert!(
            status.success(),
            "building the guests in {workspace}/ failed; is the wasm32-wasip2 target installed? (`rustup target add wasm32-wasip2`, or run `cargo xtask test`)"
        );
    }
    let out = target.join("wasm32-wasip2").join("release");
    let mut code = String::new();
    let mut all = Vec::new();
    for (_, package, constant) in GUESTS {
        let file = out.join(format!("{}.wasm", package.replace('-', "_")));
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
