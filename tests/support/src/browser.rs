//! A real headless browser for tests of web pages: Debian's Chromium,
//! installed with `apt-get` when it is missing (as the project's scripts
//! install PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The Debian package.
const PACKAGE: &str = "chromium";

/// The Chromium binary, installing the package first if none is found.
/// An error says what to install.
pub fn chromium() -> Result<PathBuf, String> {
    // One install at a time among a test binary's threads.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = find() {
        return Ok(found);
    }
    if !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "no Chromium and no apt-get: install `{PACKAGE}` (a headless Chromium)"
        ));
    }
    eprintln!("sluice-test-support: Chromium not found; running `apt-get install -y {PACKAGE}`");
    if apt(&["install", "-y", "--no-install-recommends", PACKAGE]).is_err() {
        apt(&["update"])?;
        apt(&["install", "-y", "--no-install-recommends", PACKAGE])?;
    }
    find().ok_or_else(|| format!("`apt-get install {PACKAGE}` left no chromium on PATH"))
}

/// `chromium` or `chromium-browser` on `PATH`.
fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

fn apt(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| format!("apt-get {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "apt-get {} failed ({status}); install `{PACKAGE}` as root",
            args.join(" ")
        ))
    }
}

/// `chromium --headless` on `url`: the DOM after load, and a screenshot
/// saved at `png` (`width` x `height`).
pub fn render(url: &str, png: &Path, width: u32, height: u32) -> Result<String, String> {
    let chromium = chromium()?;
    let profile = tempfile_dir()?;
    let run = |extra: &[String]| {
        let o = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .output()
            .map_err(|e| format!("{}: {e}", chromium.display()))?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(format!(
                "chromium failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    };
    let dom = run(&["--dump-dom".to_string()])?;
    run(&[
        format!("--screenshot={}", png.display()),
        format!("--window-size={width},{height}"),
    ])?;
    let _ = std::fs::remove_dir_all(&profile);
    Ok(dom)
}

/// A fresh directory for the browser's profile.
fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("sluice-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}
