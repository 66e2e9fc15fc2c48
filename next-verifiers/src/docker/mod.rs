//! [`DockerSandbox`]: every job in a fresh, locked-down container of the local Docker
//! engine (feature `docker`).
//!
//! The design decision: **one container per job, made and removed by this sandbox,
//! with every limit set by the engine's cgroups and mounts.** A container is the unit
//! the engine can account for, kill and delete as a whole, so nothing a job starts can
//! outlive it, and nothing of one job is seen by the next. The price is the engine's
//! per-container cost (below). A warm design (one long-lived container whose fork
//! server starts every job) is not offered: its jobs would share one memory and pids
//! cgroup and one work tmpfs, and keeping them apart inside it would take either new
//! namespaces per job (which the engine's seccomp profile refuses without
//! `CAP_SYS_ADMIN`) or a root server with `CAP_SETUID` running each job under a uid of
//! its own; the process sandbox's warm mode already gives that speed with kernel
//! namespaces per job.
//!
//! The image is the project's own, built from the host's CPython by
//! [`build_image`] (`next docker image`): no registry is needed.
//!
//! # What a job gets
//!
//! - **Container.** Created from [`DockerConfig::image`], labelled
//!   `org.next-rs.sandbox=docker` and `org.next-rs.owner=<this sandbox>`; no network
//!   (`network_mode = "none"`: only a loopback of its own, so 127.0.0.1 on the host is
//!   unreachable); a private IPC namespace; its own PID namespace, of which the job's
//!   interpreter is the init; hostname `sandbox`.
//! - **User and privileges.** [`DockerConfig::user`] (`65534:65534`, never root), every
//!   capability dropped, `no-new-privileges`, the engine's default seccomp profile.
//! - **Files.** The root file system read-only; `/work` a tmpfs of
//!   [`DockerConfig::workdir_bytes`] (`noexec`), the current directory, holding only
//!   `main.py`; `/dev/shm` a read-only tmpfs; the job's inputs mounted read-only at
//!   `/job`. Writing anywhere but `/work` fails (`EROFS` or `EACCES`).
//! - **Limits.** Memory: the cgroup limit `Limits::memory_bytes`, swap equal to it (no
//!   swap); processes and threads: the pids cgroup at `Limits::processes`, plus 8 for
//!   runc's own `init`, whose threads count there until the job starts; CPU: a CFS
//!   quota of [`DockerConfig::cpus`]; file size: `RLIMIT_FSIZE` = half the work
//!   directory; `RLIMIT_CPU` = the wall limit rounded up plus a second (a backstop for a
//!   caller that died); no core files; 1024 descriptors. The wall limit is enforced here: at
//!   `Limits::wall_time` after start the container is killed and removed.
//! - **Process.** A small boot program makes `/job/stdin` the standard input (the job's
//!   input, then end of file), copies the source to `/work/main.py`, and `execve`s
//!   `python -s -S -B [-P] main.py` with only `PATH`, `LANG=C.UTF-8`,
//!   `PYTHONHASHSEED=0`, `PYTHONDONTWRITEBYTECODE=1`, `HOME` and `TMPDIR` = `/work`.
//! - **Output.** Stdout and stderr come over the engine's attach stream (the container
//!   logs nothing to disk) and each is kept up to `Limits::output_bytes`; the rest is
//!   read and discarded ([`Drain`](crate::process::OnOutputLimit::Drain)) or the
//!   container is killed ([`Kill`](crate::process::OnOutputLimit::Kill)). Either way
//!   `output_truncated` is set.
//!
//! How a job ended (the engine reports an exit code, `128 + n` after signal `n`, and
//! whether the OOM killer struck; [`resource`](crate::process::resource) names the
//! limits):
//!
//! | end | `Termination` |
//! |---|---|
//! | killed by this sandbox at the wall limit | `TimedOut` |
//! | killed at the output limit (policy `kill`) | `ResourceLimit { "output" }` |
//! | the OOM killer struck in the container's memory cgroup | `ResourceLimit { "memory" }` |
//! | code `128 + n`: `SIGXFSZ` / `SIGXCPU` / `SIGABRT` after a memory report | `ResourceLimit { "file size" / "cpu time" / "memory" }` |
//! | code `128 + n`, another signal (a segfault is 139) | `Signaled { signal: n }` |
//! | non-zero exit whose last exception line on stderr is `MemoryError`, a failed `fork` (`[Errno 11]`) or thread start, `[Errno 27]`, `[Errno 28]` | `ResourceLimit { "memory" / "processes" / "file size" / "disk space" }` |
//! | any other exit | `Exited { code }` |
//!
//! The engine cannot tell `sys.exit(139)` from a segfault, and the sixth row reads text
//! the job controls: a job can only turn one failure into another, never into
//! `Exited { code: 0 }`.
//!
//! # Cleanup
//!
//! Every container is force-removed (killed, then deleted with its writable layer)
//! before [`Sandbox::run`](next_core::sandbox::Sandbox::run) returns, also when the job timed out or an engine request
//! failed. When the `run` future is dropped mid-job, a guard removes the container
//! from a thread of its own (it also catches a create request still in flight);
//! dropping the sandbox waits for those threads and removes any container still
//! labelled with its owner. [`DockerSandbox::containers`] lists what exists. A process
//! killed outright cannot clean up: a container outlives it until the CPU rlimit
//! (the wall limit, rounded up, plus a second) ends a busy job, and the next sandbox
//! built on this host removes it (see `orphans.rs`).
//!
//! # Cost
//!
//! Each job costs the engine a container create, attach, start, wait and remove (and
//! an inspect after a `SIGKILL`, to tell the OOM killer from a signal); starting the
//! container (runc) is most of it. Measured with `benches/sandbox.rs` on the shared
//! 2-core development machine under the load of other builds (load average 5 to 8;
//! Docker 20.10, overlay2, cgroup v1), 100 MBPP candidates with 2 workers, in two
//! runs: 4.9 and 2.8 programs per second (400 and 710 ms per job and worker), against
//! 56 and 8 for the classic HumanEval harness (0.09 and 0.35 times: the harness
//! suffers more from the load) and 254 and 69 for the warm process sandbox on the same
//! programs, with the same verdicts. Use it where the engine's isolation is wanted,
//! not for throughput.
//!
//! ```no_run
//! use next_core::sandbox::{Job, Sandbox, Termination};
//! use next_verifiers::docker::{DockerConfig, DockerSandbox};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = DockerSandbox::connect(DockerConfig::default()).await?;
//! let done = sandbox.run(Job::new("print(sum(range(10)))")).await?;
//! assert_eq!(done.termination, Termination::Exited { code: 0 });
//! assert_eq!(done.stdout, b"45\n");
//! # Ok(())
//! # }
//! ```

mod build;
mod config;
mod engine;
mod guard;
mod image;
mod orphans;
mod rootfs;
mod run;
mod sandbox;
mod spec;
mod termination;

use next_core::registry::OptionDoc;

pub use build::{build_image, ImageOptions, ImageReport};
pub use config::{DockerConfig, DEFAULT_IMAGE, DEFAULT_SOCKET};
pub use sandbox::DockerSandbox;

next_core::register_configured!(
    sandbox,
    "docker",
    "a fresh locked-down container of the local Docker engine per job (no network, cgroup limits, read-only root)",
    DockerSandbox::new,
    options = &[
        OptionDoc::new("image", "\"next-python:latest\"", "the image jobs run in"),
        OptionDoc::new("socket", "\"/var/run/docker.sock\"", "the engine's Unix socket"),
        OptionDoc::new("cpus", "1.0", "CPUs a job may use"),
        crate::options::WORKDIR_BYTES,
        crate::options::ON_OUTPUT_LIMIT,
        OptionDoc::new("user", "\"65534:65534\"", "the job's numeric non-root uid:gid"),
        OptionDoc::new("engine_timeout_s", "60", "timeout of one engine request"),
    ],
);
