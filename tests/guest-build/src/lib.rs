//! The one build of the guests: every package of a guest workspace
//! (`connectors/`, `tests/guests/`) compiled for wasm32-wasip2 in release
//! into `target/wasm`, the directory shared by `cargo xtask setup` and the
//! test artifacts' build script. Members come from `cargo metadata`, not
//! from reading manifests by hand.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Variables that would carry host build settings into the guest build
/// (a build script inherits them from the outer cargo): they are removed,
/// so every caller builds the guests the same way and `target/wasm` is not
/// rebuilt back and forth.
const SCRUBBED_ENV: [&str; 4] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// One guest package of a workspace.
#[derive(Debug, Clone)]
pub struct Guest {
    /// Its package name, e.g. `sluice-source-faker`.
    pub package: String,
    /// The component the build writes, in `target/wasm/wasm32-wasip2/release/`.
    pub wasm: PathBuf,
}

impl Guest {
    /// Its short name: the package name without `sluice-`, e.g.
    /// `source-faker`.
    pub fn name(&self) -> &str {
        self.package
            .strip_prefix("sluice-")
            .unwrap_or(&self.package)
    }
}

/// `target/wasm` below the host workspace `root`: where guests build.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target").join("wasm")
}

/// `cargo`, as the calling cargo names it.
fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The guest packages of `workspace` (a directory below `root`, e.g.
/// `connectors`), from `cargo metadata --no-deps`, each with the component
/// its cdylib target builds to.
pub fn guests(root: &Path, workspace: &str) -> Result<Vec<Guest>, String> {
    let dir = root.join(workspace);
    let out = cargo()
        .current_dir(&dir)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata in {workspace}/: cannot start: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata in {workspace}/ failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata in {workspace}/: not JSON: {e}"))?;
    parse_guests(&metadata, &target_dir(root))
        .map_err(|e| format!("cargo metadata in {workspace}/: {e}"))
}

/// The packages of `metadata` (`cargo metadata --format-version 1`) that
/// are components (have a cdylib target), with their files under `target`
/// (`target/wasm`). A package without one is a library the guests share.
fn parse_guests(metadata: &Value, target: &Path) -> Result<Vec<Guest>, String> {
    let release = target.join(TARGET).join("release");
    let packages = metadata["packages"]
        .as_array()
        .ok_or("no `packages` list")?;
    let mut guests = Vec::new();
    for package in packages {
        let name = package["name"].as_str().ok_or("a package without a name")?;
        let cdylib = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
            })
            .and_then(|t| t["name"].as_str());
        if let Some(lib) = cdylib {
            guests.push(Guest {
                package: name.to_string(),
                wasm: release.join(format!("{}.wasm", lib.replace('-', "_"))),
            });
        }
    }
    Ok(guests)
}

/// Build every package of `workspace` (below `root`) for wasm32-wasip2,
/// release, into `target/wasm`, with the host's build settings removed
/// from the environment; [`guests`] says what it built.
pub fn build(root: &Path, workspace: &str) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.current_dir(root.join(workspace))
        .args(["build", "--release", "--target", TARGET, "--workspace"])
        .env("CARGO_TARGET_DIR", target_dir(root));
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!(
            "building the guests in {workspace}/ failed; is the wasm32-wasip2 target installed? (`rustup target add wasm32-wasip2`, or run `cargo xtask test`)"
        )),
        Err(e) => Err(format!("cargo build in {workspace}/: cannot start: {e}")),
    }
}

/// Copy each guest's component to `dir/<name>.wasm` (e.g.
/// `target/components/source-faker.wasm`).
pub fn install(guests: &[Guest], dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for guest in guests {
        let dest = dir.join(format!("{}.wasm", guest.name()));
        std::fs::copy(&guest.wasm, &dest).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                guest.wasm.display(),
                dest.display()
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packages_map_to_their_cdylib_components() {
        let metadata = json!({"packages": [
            {"name": "sluice-source-faker", "targets": [
                {"kind": ["cdylib", "rlib"], "name": "sluice_source_faker"}]},
            {"name": "sluice-test-hostile", "targets": [
                {"kind": ["cdylib"], "name": "sluice-test-hostile"}]},
        ]});
        let guests = parse_guests(&metadata, Path::new("/t/wasm")).unwrap();
        let found: Vec<(&str, &str, &Path)> = guests
            .iter()
            .map(|g| (g.package.as_str(), g.name(), g.wasm.as_path()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "sluice-source-faker",
                    "source-faker",
                    Path::new("/t/wasm/wasm32-wasip2/release/sluice_source_faker.wasm")
                ),
                (
                    "sluice-test-hostile",
                    "test-hostile",
                    Path::new("/t/wasm/wasm32-wasip2/release/sluice_test_hostile.wasm")
                ),
            ]
        );
    }

    #[test]
    fn a_library_package_is_not_a_guest() {
        let metadata = json!({"packages": [
            {"name": "helper", "targets": [{"kind": ["lib"], "name": "helper"}]},
            {"name": "guest", "targets": [{"kind": ["cdylib", "rlib"], "name": "guest"}]}]});
        let guests = parse_guests(&metadata, Path::new("/t")).unwrap();
        assert_eq!(guests.len(), 1);
        assert_eq!(guests[0].package, "guest");
    }
}
