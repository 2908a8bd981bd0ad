//! The real Singer and Airbyte packages, installed from PyPI into virtual
//! environments of their own under `target/venvs/` (their pins conflict),
//! once: a marker file records a finished install, and a file lock keeps
//! two test processes from installing the same one at once.
//!
//! A package that cannot be installed is an error naming it and what pip
//! said, never a reason to skip a test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A package from PyPI in a virtual environment of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The environment's directory name under `target/venvs/`.
    pub venv: &'static str,
    /// The pip requirement, pinned.
    pub requirement: &'static str,
}

/// Airbyte's `source-faker` (it brings the airbyte-cdk and its protocol models).
pub const AIRBYTE_SOURCE_FAKER: Package = Package {
    venv: "airbyte",
    requirement: "airbyte-source-faker==7.2.1",
};

/// Singer's `tap-jsonl` (it brings the singer-sdk and its message classes).
pub const TAP_JSONL: Package = Package {
    venv: "singer-tap",
    requirement: "tap-jsonl==0.3.1",
};

/// Singer's `target-jsonl`.
pub const TARGET_JSONL: Package = Package {
    venv: "singer-target",
    requirement: "target-jsonl==0.1.4",
};

/// The Singer SDK's generic REST tap, `tap-rest-api-msdk` (it brings
/// singer-sdk 0.40): the Singer peer of `source-http`.
pub const TAP_REST_API_MSDK: Package = Package {
    venv: "singer-rest-api",
    requirement: "tap-rest-api-msdk==1.4.2",
};

/// Airbyte's low-code connector, `source-declarative-manifest` (it brings
/// airbyte-cdk 6.5.2), run with a manifest injected in its config: the
/// Airbyte peer of `source-http`. Its `pendulum==2.1.2` installs from a
/// source archive on Python 3.11 and builds without extra pins.
pub const AIRBYTE_DECLARATIVE_MANIFEST: Package = Package {
    venv: "airbyte-declarative",
    requirement: "airbyte-source-declarative-manifest==6.5.2",
};

/// Where the environments live: `target/venvs/` of the workspace.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venvs")
}

/// The `bin/` directory of `package`'s environment under `root`,
/// installing it first if it is not there yet.
pub fn ensure_in(root: &Path, package: Package) -> Result<PathBuf, String> {
    let dir = root.join(package.venv);
    let bin = dir.join("bin");
    let marker = dir.join(format!(".installed-{}", package.requirement));
    if marker.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock_path = root.join(format!("{}.lock", package.venv));
    let lock = File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if marker.is_file() {
        return Ok(bin);
    }
    install(&dir, package)?;
    std::fs::write(&marker, "").map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(bin)
}

/// [`ensure_in`] under [`root`].
pub fn ensure(package: Package) -> Result<PathBuf, String> {
    ensure_in(&root(), package)
}

/// `python3 -m venv DIR && DIR/bin/pip install REQUIREMENT`.
fn install(dir: &Path, package: Package) -> Result<(), String> {
    eprintln!(
        "installing {} from PyPI into {}",
        package.requirement,
        dir.display()
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(dir),
        &format!("{python} -m venv {}", dir.display()),
    )?;
    run(
        Command::new(dir.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            package.requirement,
        ]),
        &format!("pip install {}", package.requirement),
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start it: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(5).collect();
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    ))
}

/// A Python program run with `package`'s interpreter.
pub fn python(package: Package) -> Result<Command, String> {
    Ok(Command::new(ensure(package)?.join("python")))
}
