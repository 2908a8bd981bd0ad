//! One run of a Singer or Airbyte program: started with only the
//! environment its pipeline lists (plus `PATH` and `HOME`), its stderr
//! read line by line into the logs with secrets scrubbed, the last lines
//! kept for errors.

use super::Process;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

/// How many stderr lines an error quotes.
const TAIL: usize = 10;

/// A started program.
pub(crate) struct Child {
    process: Process,
    /// What it was started for (`read`, `--discover`), for errors.
    pub(crate) operation: &'static str,
    child: tokio::process::Child,
    pub(crate) stdout: Option<Lines<BufReader<ChildStdout>>>,
    pub(crate) stdin: Option<ChildStdin>,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr: Option<JoinHandle<()>>,
}

impl Child {
    /// Start `process` with `args` after its command; stdin is piped when
    /// `input`.
    pub(crate) fn start(
        process: &Process,
        operation: &'static str,
        args: &[String],
        input: bool,
    ) -> Result<Child> {
        let p = &process.inner;
        let mut cmd = tokio::process::Command::new(&p.command[0]);
        cmd.args(&p.command[1..])
            .args(args)
            .env_clear()
            .current_dir(&p.cwd)
            .stdin(if input { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(&p.env);
        die_with_parent(&mut cmd);
        tracing::debug!(process = %p.name, operation, "starting {:?} {args:?}", p.command);
        let mut child = cmd.spawn().map_err(|e| {
            process.error(
                operation,
                format!(
                    "cannot start `{}`: {e} (check `command` in the pipeline file)",
                    p.command[0]
                ),
            )
        })?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().map(|err| {
            let (process, tail) = (process.clone(), tail.clone());
            tokio::spawn(async move { log_stderr(process, err, tail).await })
        });
        Ok(Child {
            process: process.clone(),
            operation,
            stdout: child.stdout.take().map(|o| BufReader::new(o).lines()),
            stdin: child.stdin.take(),
            child,
            tail,
            stderr,
        })
    }

    /// The next line of stdout, `None` at its end.
    pub(crate) async fn line(&mut self) -> Result<Option<String>> {
        let Some(out) = self.stdout.as_mut() else {
            return Ok(None);
        };
        out.next_line().await.map_err(|e| {
            self.process
                .error(self.operation, format!("cannot read its stdout: {e}"))
        })
    }

    /// Wait for the program to exit; a non-zero exit is an error with its
    /// status and the last lines of its stderr.
    pub(crate) async fn wait(&mut self) -> Result<()> {
        self.stdin = None;
        let status = self.child.wait().await.map_err(|e| {
            self.process
                .error(self.operation, format!("cannot wait for it: {e}"))
        })?;
        if let Some(task) = self.stderr.take() {
            let _ = task.await;
        }
        if status.success() {
            return Ok(());
        }
        Err(self.failed(status))
    }

    /// The error of an exit with `status`.
    fn failed(&self, status: ExitStatus) -> Error {
        let tail: Vec<String> = self
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        let code = match status.code() {
            Some(c) => format!("exit code {c}"),
            None => format!("{status}"),
        };
        let message = if tail.is_empty() {
            format!("it exited with {code} and printed nothing on stderr")
        } else {
            format!(
                "it exited with {code}; its last stderr lines:\n  {}",
                tail.join("\n  ")
            )
        };
        self.process.error(self.operation, message)
    }

    /// Stop the program now (the run is ending without it).
    pub(crate) async fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill().await;
    }
}

/// Log every stderr line (secrets scrubbed), keeping the last [`TAIL`].
async fn log_stderr(
    process: Process,
    err: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut lines = BufReader::new(err).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = process.inner.redactor.scrub(&line);
        tracing::info!(target: "sluice::process", process = %process.inner.name, "{line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

/// Have the kernel kill the program when sluice dies, however it dies
/// (a SIGKILL runs no destructor): a tap left behind would hold its
/// source's connections and transactions.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe and touches nothing of the
    // parent's; this runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut tokio::process::Command) {}
