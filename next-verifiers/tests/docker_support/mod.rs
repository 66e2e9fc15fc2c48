//! Support for the Docker sandbox's tests: the sandbox against the real local engine
//! (or a clear reason why there is none), and the checks that a job left nothing
//! behind. Its users also declare `mod common;` (for `limits` and `run`).
//!
//! When to run (the decision): the tests run whenever an engine answers and the image
//! exists. When either is missing they **fail** if `CI` or `NEXT_DOCKER=1` is set (CI
//! must not pass by skipping), and otherwise print why they are skipped and pass, so
//! that `cargo test --all-features` works on a machine without Docker.
#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use next_verifiers::docker::{DockerConfig, DockerSandbox};

/// What makes the prerequisites.
pub const SETUP: &str = "bash next-verifiers/scripts/docker-setup.sh";

/// A Docker sandbox with `config`, or `None` (with a note) where there is no engine or
/// image and the tests are not required.
pub async fn sandbox_with(config: DockerConfig) -> Option<DockerSandbox> {
    match DockerSandbox::connect(config).await {
        Ok(sandbox) => Some(sandbox),
        Err(err) => {
            let why = next_core::error::chain(&err);
            let flag = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let required = flag("CI").is_some() || flag("NEXT_DOCKER").as_deref() == Some("1");
            assert!(
                !required,
                "the Docker sandbox tests cannot run: {why}. Run `{SETUP}` from the workspace \
                 root (CI and NEXT_DOCKER=1 require these tests)."
            );
            eprintln!("docker: skipped: {why}; run `{SETUP}` to enable it");
            None
        }
    }
}

/// The default Docker sandbox, as [`sandbox_with`].
pub async fn sandbox() -> Option<DockerSandbox> {
    sandbox_with(DockerConfig::default()).await
}

/// Panics when a container or an input directory of `sandbox` exists now.
pub async fn assert_nothing_left(sandbox: &DockerSandbox) {
    let containers = sandbox.containers().await.unwrap();
    assert!(
        containers.is_empty(),
        "containers left behind: {containers:?}"
    );
    let dirs: Vec<_> = std::fs::read_dir(sandbox.work_root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(dirs.is_empty(), "input directories left behind: {dirs:?}");
}

/// After an adversarial job: nothing of it left, and the next job runs normally.
pub async fn still_works(sandbox: &DockerSandbox) {
    assert_nothing_left(sandbox).await;
    crate::common::runs_normally(sandbox).await;
    assert_nothing_left(sandbox).await;
}
