//! One job, start to end: its inputs on the host, its container created, attached,
//! started, read and waited for under the wall limit, inspected, and removed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::container::{AttachContainerResults, LogOutput};
use bollard::errors::Error as EngineError;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, StartContainerOptions,
    WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use next_core::sandbox::{Execution, Job};
use tempfile::TempDir;

use super::config::DockerConfig;
use super::engine::Engine;
use super::guard::{Cleanups, Guard};
use super::image::ImagePython;
use super::spec;
use super::termination::{classify, EngineEnd, KillReason};
use crate::error::Error;
use crate::process::OnOutputLimit;

/// What every job of one sandbox shares.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(super) engine: Engine,
    pub(super) python: ImagePython,
    pub(super) config: DockerConfig,
    /// The value of the owner label: unique to this sandbox on this host.
    pub(super) owner: String,
    pub(super) next: AtomicU64,
    pub(super) cleanups: Cleanups,
    /// Holds each job's input directory (mounted read-only into its container).
    pub(super) jobs_root: TempDir,
}

impl Inner {
    fn next_name(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("next-{}-{n}", self.owner)
    }
}

/// How long to wait before each new try of a job's start after a transient engine
/// error: three more tries, about a second in all.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(800),
];

/// A job's container, created, attached and started: the program is running.
struct Launched {
    name: String,
    guard: Guard,
    output: Pin<Box<dyn Stream<Item = Result<LogOutput, EngineError>> + Send>>,
}

/// A failed step of a job's start, with the guard of the container it may have left.
struct LaunchError {
    context: &'static str,
    error: EngineError,
    guard: Option<Guard>,
}

/// Whether an engine error may pass if the request is made again: the engine's own
/// hiccups (a 500 "cannot start a stopped process", a 503, a conflict on a container
/// just made) and a connection cut. Anything the program did is no engine error: it
/// shows in the job's execution, never here.
pub(crate) fn transient(error: &EngineError) -> bool {
    const MESSAGES: [&str; 7] = [
        "cannot start a stopped process",
        "connection reset",
        "broken pipe",
        "resource temporarily unavailable",
        "device or resource busy",
        "transport is closing",
        "connection closed before message completed",
    ];
    let mentions = |text: &str| {
        let text = text.to_ascii_lowercase();
        MESSAGES.iter().any(|m| text.contains(m))
    };
    match error {
        EngineError::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            409 | 503 => true,
            500 => mentions(message),
            _ => false,
        },
        EngineError::IOError { err } => matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::Interrupted
        ),
        EngineError::HyperResponseError { .. } | EngineError::HyperLegacyError { .. } => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
            while let Some(e) = source {
                if mentions(&e.to_string()) {
                    return true;
                }
                source = e.source();
            }
            false
        }
        _ => false,
    }
}

/// Runs `job` in a fresh container of `inner`'s image. A start that fails for a
/// [`transient`] engine error is tried again, in a new container once the failed
/// one is removed, after each wait of [`BACKOFF`].
pub(crate) async fn run(inner: &Inner, job: Job) -> Result<Execution, Error> {
    let mut waits = BACKOFF.iter();
    let Launched {
        name,
        guard,
        output: output_stream,
    } = loop {
        match launch(inner, &job).await? {
            Ok(launched) => break launched,
            Err(failed) => {
                let wait = waits.next().filter(|_| transient(&failed.error));
                let Some(wait) = wait else {
                    return Err(Error::engine(failed.context, failed.error));
                };
                if let Some(guard) = failed.guard {
                    // Nothing of a failed try is left for the next.
                    guard.remove().await?;
                }
                tokio::time::sleep(*wait).await;
            }
        }
    };
    let docker = &inner.engine.docker;
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + job.limits.wall_time());
    let cap = usize::try_from(job.limits.output_bytes()).unwrap_or(usize::MAX);
    let mut output = Output::new(cap);
    let stream = output_stream;
    let policy = inner.config.on_output_limit;
    let ended = tokio::time::timeout_at(deadline, async {
        // `Ok(reason)`: this sandbox must end the job; `Err(code)`: it ended by itself.
        if output.collect(stream, policy).await? {
            return Ok(Ok(KillReason::Output));
        }
        Ok::<_, Error>(Err(wait(docker, &name).await?))
    })
    .await;
    let wall_time = start.elapsed();
    let (killed, exit_code) = match ended {
        Ok(Ok(Ok(killed))) => (Some(killed), 137),
        Ok(Ok(Err(exit_code))) => (None, exit_code),
        Ok(Err(err)) => return Err(err),
        Err(_) => (Some(KillReason::Timeout), 137),
    };
    // The OOM killer sends SIGKILL: only then is the container's state worth a request.
    let end = if killed.is_none() && exit_code == 137 {
        inspect(docker, &name).await?
    } else {
        EngineEnd {
            exit_code,
            oom_killed: false,
        }
    };
    guard.remove().await?;
    let termination = classify(end, killed, output.stderr_tail());
    Ok(Execution {
        stdout: output.stdout,
        stderr: output.stderr,
        termination,
        output_truncated: output.truncated,
        wall_time,
    })
}

/// Creates, attaches and starts a container for `job`. The outer error is the host's
/// (its input files); the inner one the engine's, for [`run`] to retry or report.
async fn launch(inner: &Inner, job: &Job) -> Result<Result<Launched, LaunchError>, Error> {
    let name = inner.next_name();
    let dir = inputs(inner.jobs_root.path(), job)?;
    let body = spec::container(
        &inner.config,
        &inner.python,
        &job.limits,
        dir.path(),
        &inner.owner,
    );
    let docker = &inner.engine.docker;
    let mut guard = Guard::new(docker.clone(), name.clone(), dir, inner.cleanups.clone());
    let create = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker.create_container(Some(create), body).await;
    let answered = matches!(
        &created,
        Ok(_) | Err(EngineError::DockerResponseServerError { .. })
    );
    if answered {
        guard.answered();
    }
    if let Err(error) = created {
        // A create the engine did not answer may still finish: the guard's `Drop`
        // waits for it.
        return Ok(Err(LaunchError {
            context: "creating a job's container",
            error,
            guard: answered.then_some(guard),
        }));
    }
    let attach = AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let attached = match docker.attach_container(&name, Some(attach)).await {
        Ok(attached) => attached,
        Err(error) => {
            return Ok(Err(LaunchError {
                context: "attaching to a job's container",
                error,
                guard: Some(guard),
            }))
        }
    };
    // Only the output half is used: the connection must close as soon as reading stops
    // (a job killed while it writes), or the engine waits on it before the container
    // can be removed.
    let AttachContainerResults { output, input } = attached;
    drop(input);
    if let Err(error) = docker
        .start_container(&name, None::<StartContainerOptions>)
        .await
    {
        return Ok(Err(LaunchError {
            context: "starting a job's container",
            error,
            guard: Some(guard),
        }));
    }
    Ok(Ok(Launched {
        name,
        guard,
        output,
    }))
}

/// A fresh directory under `root` holding `main.py` and `stdin`, readable by the job's
/// user (it is mounted read-only as `/job`).
fn inputs(root: &Path, job: &Job) -> Result<TempDir, Error> {
    let dir = tempfile::Builder::new()
        .prefix("job-")
        .tempdir_in(root)
        .map_err(|e| Error::io("making a job's input directory", e))?;
    let open = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.path(), open)
        .map_err(|e| Error::io("opening a job's input directory", e))?;
    for (name, data) in [
        ("main.py", job.source.as_bytes()),
        ("stdin", &job.stdin[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, data)
            .map_err(|e| Error::io(format!("writing the job's {name}"), e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(format!("opening the job's {name}"), e))?;
    }
    Ok(dir)
}

/// Waits until the container is no longer running; returns its exit code.
async fn wait(docker: &Docker, name: &str) -> Result<i64, Error> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut waiting = docker.wait_container(name, Some(options));
    match waiting.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // The client reports a non-zero exit as this error.
        Some(Err(EngineError::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(Error::engine("waiting for a job's container", e)),
        None => Err(Error::engine(
            "waiting for a job's container",
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no wait response"),
        )),
    }
}

/// The exit code and OOM flag of a container that has stopped.
async fn inspect(docker: &Docker, name: &str) -> Result<EngineEnd, Error> {
    let inspected = docker
        .inspect_container(name, None)
        .await
        .map_err(|e| Error::engine("inspecting a job's container", e))?;
    let state = inspected.state.unwrap_or_default();
    Ok(EngineEnd {
        exit_code: state.exit_code.unwrap_or(-1),
        oom_killed: state.oom_killed.unwrap_or(false),
    })
}

/// The job's stdout and stderr, each kept up to the output limit.
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Output {
    fn new(cap: usize) -> Self {
        Self {
            stdout: Vec::new(),
            stderr: Vec::new(),
            cap,
            truncated: false,
        }
    }

    /// Reads the attach stream to its end (both streams closed), keeping what fits.
    /// Returns whether the job must be killed for its output (policy `kill`).
    async fn collect(
        &mut self, mut stream: impl Stream<Item = Result<LogOutput, EngineError>> + Unpin,
        policy: OnOutputLimit,
    ) -> Result<bool, Error> {
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| Error::engine("reading a job's output", e))?;
            let (kept, bytes) = match item {
                LogOutput::StdOut { message } => (&mut self.stdout, message),
                LogOutput::StdErr { message } => (&mut self.stderr, message),
                LogOutput::StdIn { .. } | LogOutput::Console { .. } => continue,
            };
            let room = self.cap.saturating_sub(kept.len());
            if bytes.len() > room {
                self.truncated = true;
            }
            kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
            if self.truncated && policy == OnOutputLimit::Kill {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The last few KiB of stderr, where CPython reports an uncaught exception.
    fn stderr_tail(&self) -> &[u8] {
        let from = self.stderr.len().saturating_sub(4096);
        &self.stderr[from..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> EngineError {
        EngineError::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn only_the_engines_hiccups_are_tried_again() {
        let io = |kind| EngineError::IOError {
            err: std::io::Error::new(kind, "cut"),
        };
        for error in [
            server(500, "cannot start a stopped process: unknown"),
            server(
                500,
                "read unix @->/run/containerd.sock: read: connection reset by peer",
            ),
            server(503, "the engine is busy"),
            server(409, "container is already being started"),
            io(std::io::ErrorKind::ConnectionReset),
            io(std::io::ErrorKind::BrokenPipe),
            io(std::io::ErrorKind::UnexpectedEof),
        ] {
            assert!(transient(&error), "{error:?}");
        }
        for error in [
            server(404, "No such image: python:3.11"),
            server(400, "invalid mount config"),
            server(
                500,
                "OCI runtime create failed: exec: \"python3\": executable file not found",
            ),
            server(500, "failed to create shim task: out of memory"),
            io(std::io::ErrorKind::NotFound),
            io(std::io::ErrorKind::PermissionDenied),
            EngineError::RequestTimeoutError,
            EngineError::DockerContainerWaitError {
                error: "exit".to_owned(),
                code: 1,
            },
        ] {
            assert!(!transient(&error), "{error:?}");
        }
    }
}
