//! Support for the test verifier's tests: the Python interpreter, the data directory,
//! and the sandbox they run on.
//!
//! [`HarnessSandbox`] is ONLY a test harness, not a sandbox: it runs a job as a plain
//! child process of the test (in a fresh temporary directory, with an address-space and
//! file-size rlimit, a wall-time limit that kills the process group, and output cut at
//! the limit), with no namespaces, no process limit that binds root, and no filesystem
//! or network isolation. It is what the verifier was developed against before the
//! process sandbox existed, and what the tests fall back to where that sandbox cannot
//! be built (`NEXT_VERIFY_SANDBOX=harness` forces it); the isolation tests (fork bomb,
//! writes outside the work directory, network, a `setsid` daemon) are skipped under it.

#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod attacks;
pub mod forging;
pub mod recursion;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError, Termination};
use next_core::task::TestCase;
use next_core::verify::Verdict;

/// The Python to run jobs with: `NEXT_PYTHON`, else pyenv's 3.11, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXT_PYTHON") {
        return PathBuf::from(p);
    }
    let pyenv = PathBuf::from("/root/.pyenv/versions/3.11.7/bin/python3.11");
    if pyenv.exists() {
        return pyenv;
    }
    PathBuf::from("python3")
}

/// The data directory: `NEXT_DATA`, else `shared/data` beside the workspace.
pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXT_DATA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// The minimal test-only sandbox described above.
#[derive(Debug, Clone)]
pub struct HarnessSandbox {
    python: PathBuf,
}

impl HarnessSandbox {
    pub fn new() -> Self {
        Self { python: python() }
    }
}

/// Starts the job's interpreter with its rlimits set, then runs the job's source.
const BOOT: &str = "import resource as r, sys\n\
m = int(sys.argv[1]); f = int(sys.argv[2])\n\
r.setrlimit(r.RLIMIT_AS, (m, m))\n\
r.setrlimit(r.RLIMIT_FSIZE, (f, f))\n\
r.setrlimit(r.RLIMIT_CORE, (0, 0))\n\
sys.argv = ['main.py']\n\
src = open('main.py').read()\n\
g = {'__name__': '__main__', '__builtins__': __builtins__}\n\
del r, m, f\n\
exec(compile(src, 'main.py', 'exec'), g)\n";

fn reader(
    mut pipe: impl Read + Send + 'static, limit: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut cut = false;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = limit.saturating_sub(kept.len());
                    if n > room {
                        cut = true;
                    }
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        (kept, cut)
    })
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

fn run_blocking(python: &std::path::Path, job: &Job) -> Result<Execution, SandboxError> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let io = |context: &str| {
        let context = context.to_owned();
        move |source| SandboxError::Io { context, source }
    };
    let dir = tempfile::tempdir().map_err(io("making the work directory"))?;
    std::fs::write(dir.path().join("main.py"), &job.source).map_err(io("writing the job"))?;
    let limits = job.limits;
    let start = Instant::now();
    let mut child = Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(BOOT)
        .arg(limits.memory_bytes().to_string())
        .arg((64u64 << 20).to_string())
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(io("starting python"))?;
    let pgid = child.id();
    let limit = usize::try_from(limits.output_bytes()).unwrap_or(usize::MAX);
    let missing = || SandboxError::Unavailable("a standard stream is missing".into());
    let out = reader(child.stdout.take().ok_or_else(missing)?, limit);
    let err = reader(child.stderr.take().ok_or_else(missing)?, limit);
    if let Some(mut stdin) = child.stdin.take() {
        let data = job.stdin.clone();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let deadline = start + limits.wall_time();
    let termination = loop {
        match child.try_wait().map_err(io("waiting for python"))? {
            Some(status) => {
                break match (status.code(), status.signal()) {
                    (Some(code), _) => Termination::Exited { code },
                    (None, Some(signal)) => Termination::Signaled { signal },
                    (None, None) => Termination::Exited { code: -1 },
                }
            }
            None if Instant::now() >= deadline => {
                kill_group(pgid);
                let _ = child.wait();
                break Termination::TimedOut;
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    // Whatever the job left in its process group goes with it.
    kill_group(pgid);
    let (stdout, cut_out) = out.join().unwrap_or_default();
    let (stderr, cut_err) = err.join().unwrap_or_default();
    Ok(Execution {
        stdout,
        stderr,
        termination,
        output_truncated: cut_out || cut_err,
        wall_time: start.elapsed(),
    })
}

#[async_trait]
impl Sandbox for HarnessSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        let python = self.python.clone();
        tokio::task::spawn_blocking(move || run_blocking(&python, &job))
            .await
            .map_err(|e| SandboxError::Backend(Box::new(e)))?
    }
}

/// The sandbox the verifier tests run on, and whether it isolates (network, PID and
/// mount namespaces and a process limit) so that the isolation tests apply.
///
/// The crate's `ProcessSandbox` (warm), unless `NEXT_VERIFY_SANDBOX=harness` asks for
/// the test-only [`HarnessSandbox`] or the process sandbox cannot be built here.
pub fn sandbox() -> (Arc<dyn Sandbox>, bool) {
    use next_verifiers::process::{Mode, ProcessConfig, ProcessLimit, ProcessSandbox};
    if std::env::var("NEXT_VERIFY_SANDBOX").as_deref() != Ok("harness") {
        let config = ProcessConfig {
            interpreter: Some(python()),
            mode: Mode::Warm,
            ..ProcessConfig::default()
        };
        match ProcessSandbox::new(config) {
            Ok(sandbox) => {
                let i = sandbox.isolation();
                let isolating = i.network_namespace
                    && i.pid_namespace
                    && i.mount_namespace
                    && i.process_limit != ProcessLimit::NotEnforced;
                return (Arc::new(sandbox), isolating);
            }
            Err(e) => eprintln!("the process sandbox is unavailable ({e}); using the test harness"),
        }
    }
    (Arc::new(HarnessSandbox::new()), false)
}

/// The tests of `lines`, one statement each.
pub fn tests(lines: &[&str]) -> Vec<TestCase> {
    lines.iter().map(|l| TestCase::new(*l).unwrap()).collect()
}

/// Panics unless `verdict` failed with no test passing: what a forged or failing program
/// must get.
pub fn assert_failed(verdict: &Verdict, what: &str) {
    assert!(
        !verdict.passed(),
        "{what}: a forged or failing program passed: {verdict:?}"
    );
    assert_eq!(verdict.passes(), 0, "{what}: {verdict:?}");
}
