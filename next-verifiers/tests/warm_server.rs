//! The warm fork server dies (killed from outside, as a crash would): the jobs in it are
//! retried on a fresh server, and later jobs run as if nothing happened; a module
//! preloaded into it reaches every job, also after a restart. A test binary of its own,
//! so that no other test's server is in sight when it kills servers, and its tests run
//! one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;

use std::time::Duration;

use common::{limits, run, sandbox, still_works};
use next_core::sandbox::{Sandbox, Termination};
use next_verifiers::process::Mode;

/// Held by each test: they count and kill this process's servers.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The warm servers started by this test process.
fn our_servers() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("NExT warm fork server") {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent pid is the field after the command name (which ends with ')').
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .unwrap_or_default();
        if parent == me {
            found.push(pid);
        }
    }
    found
}

fn kill(pid: i32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_restarted() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sandbox = sandbox(Mode::Warm);
    still_works(&sandbox).await;
    let servers = our_servers();
    assert_eq!(servers.len(), 1, "{servers:?}");

    // Killed between jobs: the next job starts a new server.
    kill(servers[0]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    still_works(&sandbox).await;
    let restarted = our_servers();
    assert_eq!(restarted.len(), 1);
    assert_ne!(restarted, servers);

    // Killed under a running job: the job runs again on a fresh server and ends as it
    // would have.
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        for pid in our_servers() {
            kill(pid);
        }
    });
    let done = run(
        &sandbox,
        "import time\ntime.sleep(1)\nprint('slept')\n",
        limits(10_000),
    )
    .await;
    killer.await.unwrap();
    assert_eq!(done.termination, Termination::Exited { code: 0 });
    assert_eq!(done.stdout, b"slept\n");
    still_works(&sandbox).await;

    // Dropping the sandbox kills its server.
    drop(sandbox);
    assert!(our_servers().is_empty());
}

const PROBE: &str =
    "import sys\nm = sys.modules.get('__next_probe')\nprint(m.VALUE if m else 'absent')\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preloaded_module_reaches_every_job_and_survives_a_restart() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let sandbox = sandbox(Mode::Warm);
    assert_eq!(run(&sandbox, PROBE, limits(5000)).await.stdout, b"absent\n");
    let taken = sandbox
        .preload("__next_probe", "VALUE = 6 * 7\n")
        .await
        .unwrap();
    assert!(taken);
    assert_eq!(run(&sandbox, PROBE, limits(5000)).await.stdout, b"42\n");
    // A job changes its own copy only.
    let changed = "import sys\nsys.modules['__next_probe'].VALUE = 0\n";
    run(&sandbox, changed, limits(5000)).await;
    assert_eq!(run(&sandbox, PROBE, limits(5000)).await.stdout, b"42\n");
    // A restarted server imports it again.
    for pid in our_servers() {
        kill(pid);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(run(&sandbox, PROBE, limits(5000)).await.stdout, b"42\n");
    // A module that fails is an error, and the server goes on serving.
    let failed = sandbox
        .preload("__next_broken", "raise ValueError('no')\n")
        .await;
    let message = next_core::error::chain(&failed.unwrap_err());
    assert!(message.contains("ValueError: no"), "{message}");
    assert_eq!(run(&sandbox, PROBE, limits(5000)).await.stdout, b"42\n");
    still_works(&sandbox).await;
    // The cold mode has no server to keep a module in.
    let cold = self::sandbox(Mode::Cold);
    assert!(!cold.preload("__next_probe", "VALUE = 1\n").await.unwrap());
    assert_eq!(run(&cold, PROBE, limits(5000)).await.stdout, b"absent\n");
}
