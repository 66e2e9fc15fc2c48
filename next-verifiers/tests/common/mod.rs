//! Helpers shared by the sandbox tests: building process sandboxes, running a job in any
//! sandbox, marking the processes a job starts, and finding any that survive it. The
//! Docker and WASM support modules build on it (their users declare `mod common;`).
#![allow(
    dead_code,
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use next_core::sandbox::{Execution, Job, Limits, Sandbox, Termination};
use next_verifiers::process::{Mode, ProcessConfig, ProcessSandbox};

/// A sandbox in `mode` with the default configuration; panics with the whole error
/// chain when it cannot be built.
pub fn sandbox(mode: Mode) -> ProcessSandbox {
    sandbox_with(ProcessConfig {
        mode,
        ..ProcessConfig::default()
    })
}

/// A sandbox with `config`.
pub fn sandbox_with(config: ProcessConfig) -> ProcessSandbox {
    let mode = config.mode;
    let sandbox = match ProcessSandbox::new(config) {
        Ok(sandbox) => sandbox,
        Err(err) => panic!(
            "cannot build the sandbox: {}",
            next_core::error::chain(&err)
        ),
    };
    assert_eq!(
        sandbox.isolation().mode,
        mode,
        "the sandbox fell back: {}",
        sandbox.isolation()
    );
    sandbox
}

/// The termination of a job stopped by the limit on `name` (see
/// `next_verifiers::process::resource`).
pub fn limit(name: &str) -> Termination {
    Termination::ResourceLimit {
        resource: name.to_owned(),
    }
}

/// Limits with this wall time (in milliseconds) and the defaults otherwise.
pub fn limits(wall_ms: u64) -> Limits {
    let defaults = Limits::default();
    Limits::new(
        Duration::from_millis(wall_ms),
        defaults.memory_bytes(),
        defaults.output_bytes(),
        defaults.processes(),
    )
    .unwrap()
}

/// Runs `source` with `limits` in any sandbox; panics when the sandbox fails (not when
/// the job does).
pub async fn run<S: Sandbox + ?Sized>(sandbox: &S, source: &str, limits: Limits) -> Execution {
    match sandbox.run(Job::new(source).with_limits(limits)).await {
        Ok(execution) => execution,
        Err(err) => panic!("the sandbox failed: {}", next_core::error::chain(&err)),
    }
}

/// A name no other test uses, short enough for a process name (15 bytes).
pub fn marker() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = format!("nx{:x}x{n:x}", std::process::id());
    name.truncate(15);
    name
}

/// Python that defines `mark()`, which names the calling thread `marker` (what
/// `/proc/*/task/*/comm` shows), so that the test can look for it afterwards.
pub fn marking(marker: &str) -> String {
    format!(
        "import ctypes\n\
         def mark():\n    ctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
    )
}

/// The threads (pid, tid) on this machine named `marker`.
pub fn named(marker: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for proc in procs.flatten() {
        let pid = proc.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(proc.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == marker {
                found.push((pid.clone(), task.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    found
}

/// Waits up to `within` for every thread named `marker` to be gone; panics otherwise.
pub async fn assert_gone(marker: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let left = named(marker);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "processes of the job survived it: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether some thread is named `marker` now.
pub fn present(marker: &str) -> bool {
    !named(marker).is_empty()
}

/// The work directories of jobs left under the sandbox's root.
pub fn job_dirs(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with("warm-"))
                .collect()
        })
        .unwrap_or_default()
}

/// After an adversarial job: nothing left in the sandbox's root, and the next job runs
/// normally.
pub async fn still_works(sandbox: &ProcessSandbox) {
    let left = job_dirs(sandbox.work_root());
    assert!(left.is_empty(), "work directories left behind: {left:?}");
    runs_normally(sandbox).await;
    let left = job_dirs(sandbox.work_root());
    assert!(left.is_empty(), "work directories left behind: {left:?}");
}

/// Exits of any sandbox's job: `sys.exit(0)`, `os._exit(0)` and a bare `SystemExit`
/// before the end are exit 0 with nothing printed after them; `sys.exit('bye')` is 1
/// with the message on stderr; `sys.exit(3)` is 3.
pub async fn exits_are_their_status<S: Sandbox + ?Sized>(sandbox: &S) {
    for source in [
        "import sys\nsys.exit(0)\nprint('after')\n",
        "import os\nos._exit(0)\nprint('after')\n",
        "raise SystemExit\n",
    ] {
        let done = run(sandbox, source, limits(5000)).await;
        assert_eq!(
            done.termination,
            Termination::Exited { code: 0 },
            "{source}"
        );
        assert!(done.stdout.is_empty());
    }
    let done = run(sandbox, "import sys\nsys.exit('bye')\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 1 });
    assert_eq!(done.stderr, b"bye\n");
    let done = run(sandbox, "import sys\nsys.exit(3)\n", limits(5000)).await;
    assert_eq!(done.termination, Termination::Exited { code: 3 });
}

/// A job of any sandbox that writes a file in its fresh work directory and prints what
/// it holds: panics unless it ran normally.
pub async fn runs_normally<S: Sandbox + ?Sized>(sandbox: &S) {
    let done = run(
        sandbox,
        "import os\nopen('f', 'w').write('x')\nprint(6 * 7, sorted(os.listdir('.')))",
        limits(10_000),
    )
    .await;
    assert_eq!(
        done.termination,
        Termination::Exited { code: 0 },
        "{}",
        stderr(&done)
    );
    assert_eq!(done.stdout, b"42 ['f', 'main.py']\n");
}

/// Stderr as text.
pub fn stderr(execution: &Execution) -> String {
    String::from_utf8_lossy(&execution.stderr).into_owned()
}
