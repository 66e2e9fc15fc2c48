//! The warm fork server dies (killed from outside, as a crash would): the jobs in it are
//! retried on a fresh server, and later jobs run as if nothing happened. A test binary
//! of its own, so that no other test's server is in sight when it kills servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;

use std::time::Duration;

use common::{limits, run, sandbox, still_works};
use next_core::sandbox::Termination;
use next_verifiers::process::Mode;

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
