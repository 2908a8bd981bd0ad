//! Child processes with wall time and peak RSS (from `wait4`'s rusage).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// How a child process ran.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Wall-clock seconds from spawn to exit.
    pub secs: f64,
    /// Peak RSS of the child, KiB.
    pub peak_rss_kib: u64,
    /// Lines of stdout that matched the counter.
    pub lines: u64,
}

/// Spawn `cmd` for measuring. A child's `ru_maxrss` starts from this
/// process's own peak RSS (Linux records the high-water mark of the
/// address space that `exec` replaces), so the harness's peak is first
/// lowered to its current RSS: otherwise one large moment of the harness
/// (the HTTP rows' server) would show as every later child's peak.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    // "5" resets the peak RSS to the current RSS (proc(5), clear_refs);
    // where that is not allowed the figure only errs upwards, as before.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    cmd.spawn()
}

/// Reap `child`, returning whether it succeeded and its peak RSS (KiB).
pub fn reap(child: Child) -> Result<(bool, u64), String> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is a child of this process that nothing else waits for.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    std::mem::forget(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, usage.ru_maxrss as u64))
}

/// Run `cmd`, counting stdout lines that contain `needle` (all lines when
/// `needle` is empty); stderr is kept for the error message.
pub fn run_counting(cmd: &mut Command, needle: &str) -> Result<Outcome, String> {
    let started = Instant::now();
    let mut child = spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()))
        .map_err(|e| format!("{}: {e}", describe(cmd)))?;
    let stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let mut lines = 0;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::with_capacity(1 << 20, stdout).split(b'\n') {
        let line = line.map_err(|e| e.to_string())?;
        if needle.is_empty() || line.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            lines += 1;
        }
    }
    let (ok, peak) = reap(child)?;
    let secs = started.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    if !ok {
        let tail: String = err
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(format!("{} failed:\n{tail}", describe(cmd)));
    }
    Ok(Outcome {
        secs,
        peak_rss_kib: peak,
        lines,
    })
}

/// `cmd`'s program and arguments, without its environment (which may
/// hold a password).
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// The median of `values` (which must not be empty).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
