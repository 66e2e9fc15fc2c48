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
//!   swap); processes and threads: the pids cgroup at `Limits::processes`; CPU: a CFS
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
//! before [`Sandbox::run`] returns, also when the job timed out or an engine request
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

mod config;
mod engine;
mod guard;
mod image;
mod orphans;
mod rootfs;
mod run;
mod spec;
mod termination;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::query_parameters::ListContainersOptionsBuilder;
use next_core::registry::{self, Context, RegistryError, RoleKind};
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError};
use tempfile::TempDir;

pub use config::{DockerConfig, DEFAULT_IMAGE, DEFAULT_SOCKET};
pub use image::{build_image, ImageOptions, ImageReport};

use engine::Engine;
use guard::Cleanups;
use image::ImagePython;

use crate::error::Error;

/// Runs each job in a fresh container, as the [module](self) describes.
///
/// Built once (it connects to the engine and reads the image's labels), then shared:
/// [`Sandbox::run`] takes `&self` and runs any number of jobs at once. Dropping it
/// removes every container it still owns and its host directory.
#[derive(Debug)]
pub struct DockerSandbox {
    inner: Inner,
}

/// What every job of one sandbox shares.
#[derive(Debug)]
pub(crate) struct Inner {
    engine: Engine,
    python: ImagePython,
    config: DockerConfig,
    /// The value of the owner label: unique to this sandbox on this host.
    owner: String,
    next: AtomicU64,
    cleanups: Cleanups,
    /// Holds each job's input directory (mounted read-only into its container).
    jobs_root: TempDir,
}

impl Inner {
    fn next_name(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("next-{}-{n}", self.owner)
    }
}

impl DockerSandbox {
    /// Connects to the engine and checks the image.
    ///
    /// # Errors
    /// [`Error::DockerUnavailable`] without an engine or image (the message names the
    /// command that provides it); [`Error::Io`] when the host directory cannot be
    /// made; [`Error::Image`] for an invalid configuration.
    pub async fn connect(config: DockerConfig) -> Result<Self, Error> {
        static SANDBOXES: AtomicU64 = AtomicU64::new(0);
        config.validate().map_err(Error::Image)?;
        let timeout = Duration::from_secs(config.engine_timeout_s);
        let engine = Engine::connect(&config.socket, timeout).await?;
        let python = ImagePython::inspect(&engine, &config.image).await?;
        let jobs_root = tempfile::Builder::new()
            .prefix("next-docker-")
            .tempdir()
            .map_err(|e| Error::io("making the Docker sandbox's host directory", e))?;
        let owner = orphans::owner_label(SANDBOXES.fetch_add(1, Ordering::Relaxed));
        // Containers left by processes that died before they could remove them.
        orphans::remove_orphans(&engine.docker).await?;
        Ok(Self {
            inner: Inner {
                engine,
                python,
                config,
                owner,
                next: AtomicU64::new(0),
                cleanups: Arc::new(Mutex::new(Vec::new())),
                jobs_root,
            },
        })
    }

    /// [`DockerSandbox::connect`] for callers without a runtime at hand (the registry's
    /// factories): it connects from a thread of its own.
    ///
    /// # Errors
    /// As [`DockerSandbox::connect`].
    pub fn new(config: DockerConfig) -> Result<Self, Error> {
        block_on(DockerSandbox::connect(config))?
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &DockerConfig {
        &self.inner.config
    }

    /// The interpreter inside the image (its absolute path there) and its version.
    pub fn interpreter(&self) -> (&str, (u32, u32)) {
        (&self.inner.python.executable, self.inner.python.version)
    }

    /// The host directory holding each running job's inputs (`main.py`, `stdin`),
    /// mounted read-only into its container; empty between jobs, removed with the
    /// sandbox.
    pub fn work_root(&self) -> &std::path::Path {
        self.inner.jobs_root.path()
    }

    /// The names of the containers of this sandbox that exist now, running or not (an
    /// empty list between jobs).
    ///
    /// # Errors
    /// [`Error::Engine`] when the engine cannot list them.
    pub async fn containers(&self) -> Result<Vec<String>, Error> {
        list_owned(&self.inner.engine.docker, &self.inner.owner).await
    }
}

/// The names of the containers labelled as `owner`'s.
async fn list_owned(docker: &bollard::Docker, owner: &str) -> Result<Vec<String>, Error> {
    let filters = HashMap::from([("label", vec![format!("{}={owner}", spec::LABEL_OWNER)])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| Error::engine("listing the sandbox's containers", e))?;
    Ok(listed
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .map(|n| n.trim_start_matches('/').to_owned())
        .collect())
}

/// Runs `future` to its end on a runtime of its own, in a thread of its own (so that it
/// also works from inside another runtime).
fn block_on<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, Error> {
    let thread = std::thread::Builder::new()
        .name("next-docker".to_owned())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(future))
        })
        .map_err(|e| Error::io("starting a thread for the Docker engine", e))?;
    match thread.join() {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::io("starting a runtime for the Docker engine", e)),
        Err(_) => Err(Error::Image(
            "the Docker engine's thread panicked".to_owned(),
        )),
    }
}

impl Drop for DockerSandbox {
    fn drop(&mut self) {
        let pending: Vec<_> = self
            .inner
            .cleanups
            .lock()
            .map(|mut list| list.drain(..).collect())
            .unwrap_or_default();
        for handle in pending {
            let _ = handle.join();
        }
        // Whatever is left (a removal that failed, a create that finished late).
        let docker = self.inner.engine.docker.clone();
        let owner = self.inner.owner.clone();
        let _ = block_on(async move {
            for name in list_owned(&docker, &owner).await.unwrap_or_default() {
                let _ = guard::remove(&docker, &name).await;
            }
        });
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        run::run(&self.inner, job).await.map_err(SandboxError::from)
    }
}

fn build_docker(options: &toml::Table, _cx: &Context) -> Result<Box<dyn Sandbox>, RegistryError> {
    let config: DockerConfig = registry::options(RoleKind::Sandbox, "docker", options)?;
    let sandbox = DockerSandbox::new(config)
        .map_err(|e| RegistryError::build(RoleKind::Sandbox, "docker", e))?;
    Ok(Box::new(sandbox))
}

next_core::register_factory!(
    sandbox,
    "docker",
    "a fresh locked-down container of the local Docker engine per job (no network, cgroup limits, read-only root)",
    build_docker,
);
