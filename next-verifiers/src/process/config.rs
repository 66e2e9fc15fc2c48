//! [`ProcessConfig`]: how a [`ProcessSandbox`](super::ProcessSandbox) runs jobs, as read
//! from the `[sandbox]` table of a run's configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The options of the `process` sandbox. Every field has a default, and an unknown key is
/// an error:
///
/// ```toml
/// [sandbox]
/// kind = "process"
/// mode = "cold"                 # or "warm" (the default)
/// interpreter = "/usr/bin/python3.11"   # default: `python3` on PATH, resolved once
/// on_output_limit = "drain"     # or "kill"
/// workdir_bytes = 67108864      # the job's tmpfs work directory (one file: half of it)
/// preload = ["re", "math"]      # what the warm server imports before forking
///
/// [sandbox.isolation]
/// network = true                # each default is true: ask for everything
/// required = false              # true: refuse to build when the kernel refuses a part
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// The Python interpreter. Default: the first `python3` on `PATH`, asked once for its
    /// `sys.executable` so that later jobs start the real interpreter, not a shim.
    pub interpreter: Option<PathBuf>,
    /// Warm (a fork server per sandbox; the default) or cold (one interpreter per job).
    /// A warm sandbox whose server cannot run (it needs the user, PID and mount
    /// namespaces) runs cold and says so in its isolation report.
    pub mode: Mode,
    /// What isolation to ask the kernel for.
    pub isolation: IsolationConfig,
    /// What to do when a job writes more than its output limit.
    pub on_output_limit: OnOutputLimit,
    /// Where the sandbox makes its work directories. Default: the system's temporary
    /// directory. Every directory above it must be searchable by the job's user.
    pub temp_dir: Option<PathBuf>,
    /// Size of the private in-memory file system a job gets as its work directory, in
    /// bytes (where the mount namespace is available; it bounds what a job can write).
    /// Also the file-size rlimit.
    pub workdir_bytes: u64,
    /// Modules the warm server imports once, before forking, so that jobs find them
    /// loaded. Keep the list light: every job inherits the server's address space, and
    /// it counts against the job's memory limit.
    pub preload: Vec<String>,
}

/// The default of [`ProcessConfig::preload`]: small standard modules that test
/// programs import often, and `mmap`, which the Python tracer's harness imports in
/// every job (a C extension: loading it costs a job about a millisecond).
pub const DEFAULT_PRELOAD: &[&str] = &[
    "mmap",
    "re",
    "math",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "string",
    "operator",
];

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            interpreter: None,
            mode: Mode::Warm,
            isolation: IsolationConfig::default(),
            on_output_limit: OnOutputLimit::Drain,
            temp_dir: None,
            workdir_bytes: 64 << 20,
            preload: DEFAULT_PRELOAD.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// How jobs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A fresh interpreter per job, exec'd inside fresh namespaces: the strongest
    /// separation, at the price of an interpreter start (~7 ms) per job.
    Cold,
    /// A small Python server, started once in the sandbox's namespaces, forks one child
    /// per job (in a fresh PID, mount and user namespace of its own), so that a job
    /// costs a fork rather than an interpreter start.
    Warm,
}

/// What to do with a job that writes more than [`Limits::output_bytes`] to stdout or
/// stderr.
///
/// [`Limits::output_bytes`]: next_core::sandbox::Limits::output_bytes
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOutputLimit {
    /// Keep the first bytes, read and discard the rest, and let the job run to its end:
    /// the job ends as it would have (its exit status still says whether its tests
    /// passed), with [`Execution::output_truncated`] set. The default.
    ///
    /// [`Execution::output_truncated`]: next_core::sandbox::Execution::output_truncated
    Drain,
    /// Kill the job as soon as a stream passes the limit; it ends as
    /// `ResourceLimit { resource: "output" }`. Cheaper for programs that print without
    /// end, but a correct program that prints a lot fails.
    Kill,
}

/// Which isolation the sandbox asks the kernel for. Each part defaults to on; where the
/// kernel refuses a part, the sandbox runs without it and says so in
/// [`ProcessSandbox::isolation`](super::ProcessSandbox::isolation), unless `required`
/// is set.
#[allow(clippy::struct_excessive_bools)] // one switch per part, as the TOML reads
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IsolationConfig {
    /// A user namespace in which the job is an unprivileged user; it makes the process
    /// limit count the job's own processes, and it lets an unprivileged caller create
    /// the other namespaces.
    pub user: bool,
    /// A network namespace with only a loopback device that is down: no connection
    /// anywhere, not even to 127.0.0.1.
    pub network: bool,
    /// A PID namespace whose init is the job: when it ends, every process it left (a
    /// daemon, a thread, a double-forked child) is killed by the kernel.
    pub pid: bool,
    /// A mount namespace: the file tree read-only (the fresh root's, or the host's
    /// whole tree without it), a private size-limited tmpfs as the work directory, and
    /// a `/proc` that shows only the job's processes.
    pub mount: bool,
    /// In the mount namespace, a fresh root holding only what the interpreter needs
    /// (its installation, the system's library directories, `/dev/null` and its kin, an
    /// empty `/tmp`, the work directory, `/proc`) instead of the host's whole tree
    /// read-only: no file of the host's beyond those is visible.
    pub fresh_root: bool,
    /// An IPC namespace (System V shared memory, semaphores, message queues).
    pub ipc: bool,
    /// The user id outside the namespaces that jobs run as when the sandbox is run by
    /// root (`nobody` by default). An unprivileged caller's jobs run as the caller.
    pub uid: u32,
    /// The group id that goes with [`IsolationConfig::uid`].
    pub gid: u32,
    /// Refuse to build the sandbox when the kernel refuses any part asked for, instead
    /// of running with less.
    pub required: bool,
}

impl Default for IsolationConfig {
    fn default() -> Self {
        Self {
            user: true,
            network: true,
            pid: true,
            mount: true,
            fresh_root: true,
            ipc: true,
            uid: 65534,
            gid: 65534,
            required: false,
        }
    }
}
