//! [`ProcessSandbox`]: CPython in a child process, in namespaces of its own, under
//! rlimits. The default sandbox (no cargo feature).
//!
//! # What a job gets
//!
//! Every job, in both modes, runs as follows (each part where the kernel allows it;
//! [`ProcessSandbox::isolation`] says which parts apply, and why any is missing):
//!
//! - **Namespaces.** A user namespace in which it is `nobody`, mapped outside to an
//!   unprivileged uid (`nobody` when the sandbox runs as root, the caller otherwise);
//!   a network namespace with only a loopback device, down (every connection fails,
//!   127.0.0.1 included); a PID namespace of which it is the init, so that when it
//!   ends or is killed the kernel kills everything it started (threads, daemons that
//!   double-forked and called `setsid`); a mount namespace; an IPC namespace.
//! - **Files.** A fresh root, built as bubblewrap and nsjail build one: a small tmpfs,
//!   entered with `pivot_root`, the host's tree then detached from the job's mount
//!   namespace (no path leads back to it: not `..`, not `/proc/1/root`, which is the
//!   job's own root). It holds, read-only, nosuid and nodev, only what the interpreter
//!   needs:
//!   - the system's program and library directories, whole: `/usr`, and `/lib`,
//!     `/lib64`, `/bin`, `/sbin` (and `/lib32`, `/libx32`) as the host has them,
//!     directories bound in or symbolic links reproduced (a merged `/usr`). Whole
//!     rather than the files `ld.so` lists for the interpreter, because extension
//!     modules load further libraries (`_ssl` libssl, `_ctypes` libffi, `_sqlite3`,
//!     `_lzma`, ...) and a job may run the interpreter again; these directories hold the
//!     distribution's software, no user data;
//!   - the interpreter's own directories ([`Interpreter::roots`]: its prefixes, its
//!     binary's and its shared library's directories) at their paths, with only the
//!     directories leading to them (`/root` holds `.pyenv` and nothing else);
//!   - `/etc/ld.so.cache` (the loader's list of library paths), and nothing else of
//!     `/etc` (no `passwd`: the job's uid has no name);
//!   - `/dev/null`, `/dev/zero`, `/dev/random`, `/dev/urandom` (the host's device nodes,
//!     bound onto empty files), and `/dev/fd`, `/dev/stdin`, `/dev/stdout`,
//!     `/dev/stderr` as links into `/proc/self/fd`;
//!   - `/tmp`, empty but for the path to the work directory (which is kept, so that
//!     `HOME` and `TMPDIR` name it);
//!   - the work directory: a private tmpfs of [`ProcessConfig::workdir_bytes`] that
//!     vanishes with the job, the one place it can write;
//!   - its own `/proc` (read-only).
//!
//!   Nothing else of the host is there: not the project's checkout or data, no home
//!   directory beyond the interpreter's own installation, not the host's `/tmp` or
//!   `/var` or `/dev/shm`. Writing outside the work directory fails (`EROFS`, or
//!   `ENOENT` where the path does not exist). Where the kernel refuses a step of this
//!   (see [`Isolation::fresh_root`]), the job gets the host's whole tree read-only and
//!   nosuid instead, with the work directory and `/proc` as above; a directory above
//!   the interpreter that the job's user may not enter (pyenv under `/root`) is then
//!   covered by a tmpfs holding only the interpreter's own directories, mounted back
//!   read-only at their paths.
//! - **Limits.** `RLIMIT_AS` = `Limits::memory_bytes`; `RLIMIT_CPU` = the wall limit
//!   rounded up (then `SIGXCPU`, a second later `SIGKILL`); `RLIMIT_FSIZE` = half of
//!   `workdir_bytes`; `RLIMIT_NPROC` = `Limits::processes`, counted in the job's own
//!   user namespace (as root without one, `RLIMIT_NPROC` would not be enforced at all,
//!   and on a shared uid it would count every job at once); `RLIMIT_CORE` = 0. The wall
//!   limit is enforced by killing the job's init through its pidfd.
//! - **Process.** Its own session; default signal dispositions; a scrubbed environment
//!   (`PATH`, `LANG=C.UTF-8`, `PYTHONHASHSEED=0`, `PYTHONDONTWRITEBYTECODE=1`, `HOME`
//!   and `TMPDIR` = the work directory); stdin = the job's input, then end of file;
//!   no other descriptor. The interpreter runs with `-s -S -B` (and `-P` from 3.11).
//! - **Output.** Stdout and stderr are read concurrently and each kept up to
//!   `Limits::output_bytes`; the rest is read and discarded and the job runs on
//!   ([`OnOutputLimit::Drain`]), or the job is killed ([`OnOutputLimit::Kill`]).
//!   Either way `output_truncated` is set.
//!
//! How a job ended ([`resource`] names the limits):
//!
//! | end | `Termination` |
//! |---|---|
//! | killed by this sandbox at the wall limit | `TimedOut` |
//! | killed at the output limit (policy `kill`) | `ResourceLimit { "output" }` |
//! | `SIGXCPU` (CPU rlimit) / `SIGXFSZ` (file-size rlimit) | `ResourceLimit { "cpu time" / "file size" }` |
//! | another signal (a segfault is 11) | `Signaled { signal }` |
//! | non-zero exit whose last exception line on stderr is `MemoryError`, a failed `fork` (`[Errno 11]`) or thread start, `[Errno 27]`, `[Errno 28]` | `ResourceLimit { "memory" / "processes" / "file size" / "disk space" }` |
//! | any other exit | `Exited { code }` |
//!
//! The heuristics of the fifth row read text the job controls: a job can only turn one
//! failure into another with them, never into `Exited { code: 0 }`.
//!
//! # Modes
//!
//! [`Mode::Warm`] (the default) starts one small Python fork server per sandbox, in the
//! same jail, which forks one child per job into a fresh PID, mount, IPC and user
//! namespace of its own (see `warm.rs`): a job costs a fork rather than an interpreter
//! start. What differs from cold: the jobs share the server's network namespace (still
//! with no connectivity, but abstract Unix sockets are shared by jobs running at
//! once); the server's address space (about 15 MB, with the modules of
//! [`ProcessConfig::preload`]) counts against each job's memory limit; `sys.modules`
//! holds what the server imported; the job's source runs below the server's frames, so
//! `sys.getrecursionlimit` and `sys.setrecursionlimit` are Python functions that keep
//! its limit and depth a plain script's
//! ([`HARNESS_RECURSION`](next_core::sandbox::HARNESS_RECURSION)). [`Mode::Cold`] execs a fresh interpreter per job
//! (about 7 ms of interpreter start, plus ~2 ms of namespaces): the strongest
//! separation. Measured on a shared 2-core machine, verifying 813 MBPP candidates with
//! 2 workers (`benches/sandbox.rs`): warm 430 to 525 programs per second, 5.5 to 5.8
//! times the classic HumanEval harness (79 to 91), cold 133 to 168 (1.5 to 2.1 times).
//!
//! In both modes every job (and the warm server) runs as the same unprivileged uid
//! outside; each job is alone in its PID namespace and sees only its own `/proc`, so it
//! can name no other process to signal or trace.

//! # Checking it
//!
//! ```no_run
//! use next_verifiers::process::{ProcessConfig, ProcessSandbox};
//!
//! let sandbox = ProcessSandbox::new(ProcessConfig::default())?;
//! println!("{}", sandbox.isolation()); // one line per part: yes / NO, and refusals
//! assert!(sandbox.isolation().is_complete());
//! # Ok::<(), next_verifiers::Error>(())
//! ```

mod child;
mod cold;
mod collect;
mod config;
pub(crate) mod interpreter;
mod isolation;
mod jail;
mod plan;
mod probe;
mod spawn;
pub(crate) mod termination;
mod warm;
mod warm_protocol;
mod workdir;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use next_core::registry::OptionDoc;
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError};

pub use config::{IsolationConfig, Mode, OnOutputLimit, ProcessConfig, DEFAULT_PRELOAD};
pub use interpreter::Interpreter;
pub use isolation::{Isolation, ProcessLimit};
pub use termination::resource;

use cold::Cold;
use plan::{cstring, path_cstring, Ids, Plan, Wanted, INSIDE_ID};
use warm::{ServerConfig, ServerSettings, Warm};
use workdir::{Base, WorkDir};

use crate::error::Error;

/// Runs each job in a child CPython process, isolated as the [module](self) describes.
///
/// Built once (it finds the interpreter and probes what the kernel allows, running a
/// job or two), then shared: [`Sandbox::run`] takes `&self` and runs any number of
/// jobs at once. Dropping it kills the warm server, if any, and removes its
/// directories.
#[derive(Debug)]
pub struct ProcessSandbox {
    engine: Engine,
    isolation: Isolation,
    interpreter: Interpreter,
    config: ProcessConfig,
    // Last: removed after the engine is gone.
    base: Arc<Base>,
}

#[derive(Debug)]
enum Engine {
    Cold(Arc<Cold>),
    // The server's directory (held to be removed after the server) comes second.
    Warm(Warm, #[allow(dead_code)] WorkDir),
}

impl ProcessSandbox {
    /// Finds the interpreter, probes the isolation the kernel allows, and (in warm mode)
    /// starts the fork server. Blocking.
    ///
    /// # Errors
    /// [`Error::Interpreter`] without a working interpreter;
    /// [`Error::IsolationRefused`] when `isolation.required` is set and a part was
    /// refused; [`Error::Io`] when the work directories cannot be made.
    pub fn new(config: ProcessConfig) -> Result<Self, Error> {
        let interpreter = Interpreter::discover(config.interpreter.as_deref())?;
        let base = Arc::new(Base::create(config.temp_dir.as_deref())?);
        let ids = Ids::current(&config.isolation);
        let wanted = Wanted::from_config(&config.isolation, ids.root);
        let make_cold = |plan: &Plan| cold_settings(plan, &interpreter, &config);
        let probed = probe::probe(wanted, ids, &interpreter, &base, &make_cold)?;
        let mut refused = probed.refused;
        let plan = probed.plan;
        let mut mode = config.mode;
        let engine = match config.mode {
            Mode::Cold => Engine::Cold(Arc::new(probed.cold)),
            Mode::Warm => match start_warm(&plan, &interpreter, &config, &base) {
                Ok((warm, dir)) => Engine::Warm(warm, dir),
                Err(why) => {
                    refused.push(format!("warm mode: {why}; running cold"));
                    mode = Mode::Cold;
                    Engine::Cold(Arc::new(probed.cold))
                }
            },
        };
        if config.isolation.required && !refused.is_empty() {
            return Err(Error::IsolationRefused(refused.join("; ")));
        }
        let isolation = Isolation {
            user_namespace: plan.wanted.user,
            network_namespace: plan.wanted.network,
            pid_namespace: plan.wanted.pid,
            mount_namespace: plan.wanted.mount,
            fresh_root: plan.wanted.root,
            private_proc: plan.wanted.proc,
            ipc_namespace: plan.wanted.ipc,
            job_uid: plan.ids.job.0,
            process_limit: plan.process_limit(),
            mode,
            refused,
        };
        Ok(Self {
            engine,
            isolation,
            interpreter,
            config,
            base,
        })
    }

    /// The isolation applied to every job: which namespaces, how the process limit is
    /// enforced, the mode in effect, and what the kernel refused.
    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// The interpreter jobs run with (absolute, symlinks resolved).
    pub fn interpreter(&self) -> &Path {
        &self.interpreter.executable
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ProcessConfig {
        &self.config
    }

    /// The directory under which it makes work directories (removed with it).
    pub fn work_root(&self) -> &Path {
        self.base.path()
    }
}

#[async_trait]
impl Sandbox for ProcessSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        let result = match &self.engine {
            Engine::Cold(cold) => cold::run(cold, &self.base, job).await,
            Engine::Warm(warm, _) => warm.run(job).await,
        };
        result.map_err(SandboxError::from)
    }

    /// In warm mode, the fork server imports the module (again after every restart), so
    /// that jobs inherit it; in cold mode there is no interpreter to keep it in.
    async fn preload(&self, name: &str, source: &str) -> Result<bool, SandboxError> {
        match &self.engine {
            Engine::Cold(_) => Ok(false),
            Engine::Warm(warm, _) => warm
                .preload(name, source)
                .await
                .map(|()| true)
                .map_err(SandboxError::from),
        }
    }
}

/// The cold jobs' settings under `plan`.
#[allow(clippy::similar_names)]
fn cold_settings(
    plan: &Plan, interpreter: &Interpreter, config: &ProcessConfig,
) -> Result<Cold, Error> {
    let (inside_uid, inside_gid) = plan.job_inside();
    let runs_as_other = plan.ids.root && plan.ids.job.0 != 0;
    Ok(Cold {
        jail: plan.cold_jail()?,
        argv_prefix: argv_prefix(interpreter)?,
        workdir_bytes: config.workdir_bytes,
        process_limit: plan.process_limit(),
        tmpfs_owner: plan.wanted.mount.then_some((inside_uid, inside_gid)),
        dir_owner: (!plan.wanted.mount && runs_as_other).then_some(plan.ids.job),
        policy: config.on_output_limit,
    })
}

/// The interpreter and the flags every job starts with.
fn argv_prefix(interpreter: &Interpreter) -> Result<Vec<std::ffi::CString>, Error> {
    let mut argv = vec![path_cstring(&interpreter.executable)?];
    for flag in interpreter.flags() {
        argv.push(cstring(flag)?);
    }
    Ok(argv)
}

/// Starts the warm server under `plan`, or says why it cannot run.
fn start_warm(
    plan: &Plan, interpreter: &Interpreter, config: &ProcessConfig, base: &Base,
) -> Result<(Warm, WorkDir), String> {
    let jail = plan
        .server_jail()
        .map_err(|e| e.to_string())?
        .ok_or("it needs the user, PID and mount namespaces and a private /proc")?;
    if interpreter.version < (3, 8) {
        return Err("it needs Python 3.8 or newer".to_owned());
    }
    let owner = (plan.ids.root && plan.ids.job.0 != 0).then_some(plan.ids.job);
    let dir = base.fresh("warm", owner).map_err(|e| e.to_string())?;
    let server_config = ServerConfig {
        workdir: dir.path().to_string_lossy().into_owned(),
        workdir_tmpfs: plan::workdir_tmpfs_options(config.workdir_bytes, 0, 0),
        job_uid: INSIDE_ID,
        job_gid: INSIDE_ID,
        ipc: plan.wanted.ipc,
        preload: config.preload.clone(),
    };
    let settings = ServerSettings {
        jail,
        argv_prefix: argv_prefix(interpreter).map_err(|e| e.to_string())?,
        workdir: dir.path().to_path_buf(),
        config: serde_json::to_string(&server_config).map_err(|e| e.to_string())?,
        workdir_bytes: config.workdir_bytes,
        process_limit: plan.process_limit(),
        policy: config.on_output_limit,
    };
    let warm = Warm::start(settings).map_err(|e| next_core::error::chain(&e))?;
    Ok((warm, dir))
}

next_core::register_configured!(
    sandbox,
    "process",
    "CPython in a child process: namespaces, rlimits, cold or warm (fork server)",
    ProcessSandbox::new,
    options = &[
        OptionDoc::unset(
            "interpreter",
            "the Python executable (unset: python3 on PATH)"
        ),
        OptionDoc::new("mode", "\"warm\"", "warm (a fork server) or cold"),
        OptionDoc::new(
            "isolation",
            "{}",
            "[sandbox.isolation]: namespaces asked for"
        ),
        crate::options::ON_OUTPUT_LIMIT,
        crate::options::TEMP_DIR,
        crate::options::WORKDIR_BYTES,
        OptionDoc::new(
            "preload",
            r#"["mmap", "re", "math", "collections", "itertools", "functools", "heapq", "bisect", "string", "operator"]"#,
            "modules the warm server imports",
        ),
    ],
);
