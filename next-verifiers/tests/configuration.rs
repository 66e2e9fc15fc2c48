//! Building the process sandbox: from the registry, with isolation turned off part by
//! part (the paths taken where the kernel refuses a part), and what `isolation()`
//! reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod common;

use common::{limits, run, sandbox, sandbox_with, stderr, still_works};
use next_core::registry::{self, Context};
use next_core::sandbox::{Job, Sandbox, Termination};
use next_verifiers::process::{
    resource, IsolationConfig, Mode, OnOutputLimit, ProcessConfig, ProcessLimit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_isolation_where_the_kernel_allows_it() {
    for mode in [Mode::Cold, Mode::Warm] {
        let sandbox = sandbox(mode);
        let isolation = sandbox.isolation();
        println!("{isolation}");
        assert!(isolation.is_complete(), "{isolation}");
        assert_ne!(isolation.job_uid, 0);
        assert!(sandbox.interpreter().is_absolute());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_by_name_from_toml() {
    let options: toml::Table = toml::from_str(
        r#"
        mode = "warm"
        on_output_limit = "kill"
        [isolation]
        ipc = false
        "#,
    )
    .unwrap();
    let sandbox = registry::sandbox("process", &options, &Context::new()).unwrap();
    let done = sandbox.run(Job::new("print('hi')")).await.unwrap();
    assert_eq!(done.stdout, b"hi\n");
    assert!(registry::list()
        .iter()
        .any(|e| e.role == registry::RoleKind::Sandbox && e.name == "process"));

    let misspelt: toml::Table = toml::from_str("mod = 'warm'").unwrap();
    let err = registry::sandbox("process", &misspelt, &Context::new())
        .err()
        .unwrap();
    assert!(err.to_string().contains("mod"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_at_the_output_limit() {
    let sandbox = sandbox_with(ProcessConfig {
        on_output_limit: OnOutputLimit::Kill,
        ..ProcessConfig::default()
    });
    let done = run(
        &sandbox,
        "while True:\n    print('x' * 1000)\n",
        limits(10_000),
    )
    .await;
    assert!(done.output_truncated);
    assert_eq!(
        done.termination,
        Termination::ResourceLimit {
            resource: resource::OUTPUT.to_owned()
        }
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_user_namespace() {
    // As root, the other namespaces still work, and the job runs as the configured
    // unprivileged user; the process limit is then shared by every job of that user.
    if rustix::process::geteuid().as_raw() != 0 {
        return;
    }
    let sandbox = sandbox_with(ProcessConfig {
        mode: Mode::Cold,
        isolation: IsolationConfig {
            user: false,
            ..IsolationConfig::default()
        },
        ..ProcessConfig::default()
    });
    let isolation = sandbox.isolation();
    assert!(!isolation.user_namespace);
    assert!(isolation.network_namespace && isolation.pid_namespace && isolation.mount_namespace);
    assert_eq!(isolation.process_limit, ProcessLimit::SharedByUid);
    let done = run(
        &sandbox,
        "import os\nprint(os.getuid())\nopen('/tmp/next-no-userns', 'w')\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.stdout, b"65534\n");
    assert!(
        stderr(&done).contains("Read-only file system"),
        "{}",
        stderr(&done)
    );
    still_works(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_mode_without_what_it_needs_runs_cold() {
    let sandbox = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Warm,
        isolation: IsolationConfig {
            pid: false,
            ..IsolationConfig::default()
        },
        ..ProcessConfig::default()
    })
    .unwrap();
    let isolation = sandbox.isolation();
    assert_eq!(isolation.mode, Mode::Cold);
    assert!(
        isolation.refused.iter().any(|r| r.starts_with("warm mode")),
        "{isolation}"
    );
    still_works(&sandbox).await;

    let required = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Warm,
        isolation: IsolationConfig {
            pid: false,
            required: true,
            ..IsolationConfig::default()
        },
        ..ProcessConfig::default()
    });
    assert!(required.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_namespaces_at_all() {
    // Everything off: rlimits, a session, a fresh directory and a scrubbed environment
    // remain (and the unprivileged user, where the caller is root). Without the mount
    // namespace nothing exposes an interpreter under a closed directory (pyenv's under
    // /root) to that user: take one it can reach, if there is one.
    let system = std::path::Path::new("/usr/bin/python3");
    if rustix::process::geteuid().as_raw() == 0 && !system.exists() {
        return;
    }
    let closed = ProcessSandbox::new(ProcessConfig {
        mode: Mode::Cold,
        interpreter: Some(std::path::PathBuf::from(
            "/root/.pyenv/versions/3.11.7/bin/python3.11",
        )),
        isolation: IsolationConfig {
            mount: false,
            ..IsolationConfig::default()
        },
        ..ProcessConfig::default()
    });
    if let Err(err) = closed {
        assert!(err.to_string().contains("out of reach"), "{err}");
    }
    let sandbox = sandbox_with(ProcessConfig {
        mode: Mode::Cold,
        interpreter: Some(system.to_path_buf()),
        isolation: IsolationConfig {
            user: false,
            network: false,
            pid: false,
            mount: false,
            ipc: false,
            ..IsolationConfig::default()
        },
        ..ProcessConfig::default()
    });
    let isolation = sandbox.isolation();
    assert!(!isolation.pid_namespace && !isolation.mount_namespace);
    let done = run(
        &sandbox,
        "import os\nprint(sorted(os.listdir('.')))\n",
        limits(5000),
    )
    .await;
    assert_eq!(done.stdout, b"['main.py']\n", "{}", stderr(&done));
    let done = run(&sandbox, "while True:\n    pass\n", limits(500)).await;
    assert_eq!(done.termination, Termination::TimedOut);
    still_works(&sandbox).await;
}

use next_verifiers::process::ProcessSandbox;
