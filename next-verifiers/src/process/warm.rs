//! The warm mode: a Python fork server ([`warm_server.py`](SERVER_SOURCE)), started once
//! in the sandbox's jail, forks one child per job.
//!
//! The design, and why:
//!
//! - **The job's pipes lead here, not through the server.** Each request carries the
//!   job's three pipe ends (`SCM_RIGHTS`), so output is read and capped exactly as in
//!   the cold mode, and the server never copies a byte of it.
//! - **Kill by pidfd, not by pid.** The server runs in its own PID namespace, so its
//!   pids mean nothing here. For each job it sends back a pidfd of the job's child,
//!   which this process can signal directly: the wall limit and a dropped future kill
//!   the job without asking the server, and a pidfd can never hit a recycled pid.
//!   The child is the init of a PID namespace of its own, so killing it kills
//!   everything the job started. A job dropped before its pidfd arrives is marked, and
//!   killed on arrival.
//! - **The server reaps and reports.** Only the parent can read the exit status, so
//!   the server sends `done` with the status; this process waits for that message.
//! - **A plain script's recursion.** The job's source runs some frames down the
//!   server's stack; the server sets the recursion limit around it, and shows the job
//!   its own, as the harnesses do for the program ([`HARNESS_RECURSION`], joined ahead
//!   of the server's source), so a job recurses exactly as deep as in the cold mode.
//! - **Restart.** A reader thread owns the receiving side; at end of file (the server
//!   died, and with it, as init of their ancestor namespace, every job) it fails every
//!   job in flight with [`Done::ServerDied`]; each such job is retried once on a fresh
//!   server, started at the next request.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use next_core::sandbox::{Execution, Job, HARNESS_RECURSION};
use rustix::net::{socketpair, sockopt, AddressFamily, SocketFlags, SocketType};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{pidfd_send_signal, Signal};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::child::{Child, RawStatus};
use super::collect::{collect, pipes, ChildEnds};
use super::config::OnOutputLimit;
use super::isolation::ProcessLimit;
use super::jail::{Jail, Launch};
use super::plan::{cstring, job_env, job_rlimits, path_cstring};
use super::spawn::spawn;
use super::termination::classify;
pub(crate) use super::warm_protocol::ServerConfig;
use super::warm_protocol::{send_frame, FromServer, PreloadRequest, Reader, Request};
use crate::error::Error;

/// The server's source, embedded: `warm_server.py`, with the part that gives each job a
/// plain script's recursion limit ([`HARNESS_RECURSION`]) joined ahead of it.
pub(crate) static SERVER_SOURCE: LazyLock<String> =
    LazyLock::new(|| [HARNESS_RECURSION, include_str!("warm_server.py")].concat());
/// How long a server may take to start and test itself.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request may wait for the server to read it before the server is deemed
/// stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What starting a server needs; kept to restart it.
#[derive(Debug)]
pub(crate) struct ServerSettings {
    /// The server's jail.
    pub jail: Jail,
    /// The interpreter and its flags.
    pub argv_prefix: Vec<CString>,
    /// The work directory: the server's, and the mount point of each job's tmpfs.
    pub workdir: PathBuf,
    /// The server's configuration, as JSON.
    pub config: String,
    /// Size of each job's work directory (also the file-size rlimit).
    pub workdir_bytes: u64,
    /// How the process limit is enforced.
    pub process_limit: ProcessLimit,
    /// What to do at the output limit.
    pub policy: OnOutputLimit,
}

/// How a job in the server ended.
#[derive(Debug)]
pub(crate) enum Done {
    /// It ended with this status; `setup_error` if it failed before the job's code ran.
    Ended {
        status: RawStatus,
        setup_error: Option<String>,
    },
    /// The server died with the job in it.
    ServerDied,
    /// A preload request was carried out (`None`) or failed (why).
    Preloaded(Option<String>),
}

/// A job in flight.
#[derive(Debug, Default)]
struct Pending {
    pidfd: Option<OwnedFd>,
    kill: bool,
    done: Option<oneshot::Sender<Done>>,
}

/// What the reader thread and the jobs share.
#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<HashMap<u64, Pending>>,
    alive: AtomicBool,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the server dead and fails every job in flight.
    fn die(&self) {
        self.alive.store(false, Ordering::SeqCst);
        for (_, pending) in self.pending().drain() {
            if let Some(pidfd) = &pending.pidfd {
                let _ = pidfd_send_signal(pidfd, Signal::KILL);
            }
            if let Some(done) = pending.done {
                let _ = done.send(Done::ServerDied);
            }
        }
    }
}

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    // Dropped first: killing the server kills every job in it.
    child: Child,
    control: OwnedFd,
    send_lock: Mutex<()>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

impl Server {
    /// Starts a server and waits until it has tested itself.
    ///
    /// # Errors
    /// [`Error::Server`] when it does not start or its self-test fails (the message
    /// says which step), and what spawning returns.
    pub fn start(settings: &ServerSettings) -> Result<Self, Error> {
        let (control, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| Error::io("making the server's socket", e.into()))?;
        // Its stdio are pipes, so that the interpreter makes the same sys.stdin, stdout
        // and stderr at start-up as a cold job gets (jobs inherit them, on their own
        // pipes). It never writes to them but to report its death, kept for errors.
        let pipe =
            || pipe_with(PipeFlags::CLOEXEC).map_err(|e| Error::io("making a pipe", e.into()));
        let (stdin, no_input) = pipe()?;
        drop(no_input);
        let (diagnostics, output) = pipe()?;
        let output_too = output
            .try_clone()
            .map_err(|e| Error::io("duplicating a pipe", e))?;
        let mut argv = settings.argv_prefix.clone();
        argv.push(cstring("-c")?);
        argv.push(cstring(SERVER_SOURCE.as_str())?);
        argv.push(cstring(settings.config.as_str())?);
        let env = job_env(&settings.workdir);
        let launch = Launch {
            argv,
            env: super::plan::env_cstrings(&env)?,
            workdir: path_cstring(&settings.workdir)?,
            workdir_tmpfs: None,
            source: None,
            rlimits: vec![(super::plan::rlimit::CORE, 0, 0)],
            stdio: [stdin, output, output_too],
            extra: Some(theirs),
        };
        let child = spawn(&settings.jail, launch)?;
        let receiving = control
            .try_clone()
            .map_err(|e| Error::io("duplicating the server's socket", e))?;
        sockopt::set_socket_timeout(&receiving, sockopt::Timeout::Recv, Some(START_TIMEOUT))
            .map_err(|e| Error::io("setting a socket timeout", e.into()))?;
        let mut reader = Reader::new(receiving);
        let failure = match reader.next() {
            Ok(Some((FromServer::Ready { selftest: None }, _))) => None,
            Ok(Some((
                FromServer::Ready {
                    selftest: Some(why),
                },
                _,
            ))) => Some(format!("its self-test failed: {why}")),
            Ok(Some(other)) => Some(format!("it said {other:?} instead of ready")),
            Ok(None) => Some("it ended before it was ready".to_owned()),
            Err(err) => Some(format!("it did not start: {err}")),
        };
        if let Some(failure) = failure {
            child.kill();
            drop(child);
            let said = String::from_utf8_lossy(&read_available(&diagnostics)).into_owned();
            return Err(Error::Server(if said.trim().is_empty() {
                failure
            } else {
                format!("{failure}; it printed: {}", said.trim())
            }));
        }
        sockopt::set_socket_timeout(&reader.socket, sockopt::Timeout::Recv, None)
            .map_err(|e| Error::io("setting a socket timeout", e.into()))?;
        sockopt::set_socket_timeout(&control, sockopt::Timeout::Send, Some(SEND_TIMEOUT))
            .map_err(|e| Error::io("setting a socket timeout", e.into()))?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
        });
        let for_reader = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("next-warm-reader".to_owned())
            .spawn(move || read_loop(reader, &for_reader))
            .map_err(|e| Error::io("starting the server's reader thread", e))?;
        Ok(Self {
            child,
            control,
            send_lock: Mutex::new(()),
            shared,
            next_id: AtomicU64::new(1),
        })
    }

    /// Whether it is still serving.
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    /// Sends a job; returns its id and where its end will be reported.
    fn submit(
        &self, request_source: &str, rlimits: &[(libc::c_int, u64, u64)], ends: &ChildEnds,
    ) -> Result<(u64, oneshot::Receiver<Done>), Error> {
        let fds = [ends.stdin.as_fd(), ends.stdout.as_fd(), ends.stderr.as_fd()];
        self.dispatch(
            |id| Request {
                id,
                source: request_source,
                rlimits,
            },
            "encoding a request",
            "a job",
            &fds,
        )
    }

    /// Sends the request `request(id)` under a fresh id, with `fds`; returns the id and
    /// where its end will be reported. A server that cannot be sent it (`what`) is
    /// broken: it is killed, and the next job restarts it.
    fn dispatch<R: Serialize>(
        &self, request: impl FnOnce(u64) -> R, encoding: &str, what: &str, fds: &[BorrowedFd<'_>],
    ) -> Result<(u64, oneshot::Receiver<Done>), Error> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done_tx, done_rx) = oneshot::channel();
        self.shared.pending().insert(
            id,
            Pending {
                done: Some(done_tx),
                ..Pending::default()
            },
        );
        let body = serde_json::to_vec(&request(id))
            .map_err(|e| Error::io(encoding, io::Error::other(e)))?;
        if let Err(err) = self.send(&body, fds) {
            self.shared.pending().remove(&id);
            self.child.kill();
            self.shared.die();
            return Err(Error::Server(format!("cannot send it {what}: {err}")));
        }
        Ok((id, done_rx))
    }

    /// Has the server import `source` as module `name` before its next forks.
    async fn preload(&self, name: &str, source: &str) -> Result<(), Error> {
        let (_, done_rx) = self.dispatch(
            |id| PreloadRequest {
                id,
                preload: name,
                source,
            },
            "encoding a preload request",
            "a module",
            &[],
        )?;
        match done_rx.await {
            Ok(Done::Preloaded(None)) => Ok(()),
            Ok(Done::Preloaded(Some(why))) => Err(Error::Server(format!(
                "it could not load the module {name}: {why}"
            ))),
            Ok(Done::ServerDied) | Err(_) => {
                Err(Error::Server("it died while loading a module".to_owned()))
            }
            Ok(Done::Ended { .. }) => Err(Error::Server(
                "it answered a module with a job's end".to_owned(),
            )),
        }
    }

    fn send(&self, body: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let _guard = self
            .send_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        send_frame(&self.control, body, fds)
    }

    /// Kills job `id` now if its pidfd has arrived, or as soon as it does.
    fn kill(&self, id: u64) {
        if let Some(pending) = self.shared.pending().get_mut(&id) {
            pending.kill = true;
            if let Some(pidfd) = &pending.pidfd {
                let _ = pidfd_send_signal(pidfd, Signal::KILL);
            }
        }
    }
}

/// What is in a pipe now, without waiting (at most 64 KiB).
fn read_available(fd: &OwnedFd) -> Vec<u8> {
    let mut bytes = vec![0_u8; 64 * 1024];
    let _ = rustix::io::ioctl_fionbio(fd, true);
    match rustix::io::read(fd, &mut bytes) {
        Ok(n) => bytes.truncate(n),
        Err(_) => bytes.clear(),
    }
    bytes
}

impl Drop for Server {
    fn drop(&mut self) {
        // The child's own drop kills and reaps the server; every job dies with it. The
        // reader thread then reads end of file and fails what is still pending.
        self.child.kill();
    }
}

/// The reader thread: dispatches `started` and `done` until the server goes away.
fn read_loop(mut reader: Reader, shared: &Shared) {
    loop {
        match reader.next() {
            Ok(Some((FromServer::Started { id, .. }, pidfd))) => {
                let mut pending = shared.pending();
                match (pending.get_mut(&id), pidfd) {
                    (Some(job), Some(pidfd)) => {
                        if job.kill {
                            let _ = pidfd_send_signal(&pidfd, Signal::KILL);
                        }
                        job.pidfd = Some(pidfd);
                    }
                    (None, Some(pidfd)) => {
                        let _ = pidfd_send_signal(&pidfd, Signal::KILL);
                    }
                    _ => {}
                }
            }
            Ok(Some((
                FromServer::Done {
                    id,
                    code,
                    signal,
                    setup_error,
                },
                _,
            ))) => {
                let status = match (signal, code) {
                    (Some(signal), _) => RawStatus::Signaled(signal),
                    (None, code) => RawStatus::Exited(code.unwrap_or(-1)),
                };
                if let Some(job) = shared.pending().remove(&id) {
                    if let Some(done) = job.done {
                        let _ = done.send(Done::Ended {
                            status,
                            setup_error,
                        });
                    }
                }
            }
            Ok(Some((FromServer::Preloaded { id, error }, _))) => {
                if let Some(request) = shared.pending().remove(&id) {
                    if let Some(done) = request.done {
                        let _ = done.send(Done::Preloaded(error));
                    }
                }
            }
            Ok(Some((FromServer::Ready { .. }, _))) => {}
            Ok(None) | Err(_) => {
                shared.die();
                return;
            }
        }
    }
}

/// The warm servers of a sandbox: one at a time, restarted when it dies (and given the
/// preloaded modules again).
#[derive(Debug)]
pub(crate) struct Warm {
    settings: Arc<ServerSettings>,
    current: Mutex<Option<Arc<Server>>>,
    starting: tokio::sync::Mutex<()>,
    /// The modules preloaded so far, `(name, source)`, in order.
    preloads: Mutex<Vec<(String, String)>>,
}

/// How one attempt at a job went.
enum Attempt {
    Finished(Execution),
    ServerDied,
}

impl Warm {
    /// Starts the first server, blocking until it has tested itself.
    ///
    /// # Errors
    /// What [`Server::start`] returns.
    pub fn start(settings: ServerSettings) -> Result<Self, Error> {
        let server = Server::start(&settings)?;
        Ok(Self {
            settings: Arc::new(settings),
            current: Mutex::new(Some(Arc::new(server))),
            starting: tokio::sync::Mutex::new(()),
            preloads: Mutex::new(Vec::new()),
        })
    }

    /// Has the server import `source` as module `name`, now and after every restart.
    ///
    /// # Errors
    /// [`Error::Server`] when the server cannot be started or fails to load it.
    pub async fn preload(&self, name: &str, source: &str) -> Result<(), Error> {
        {
            let mut preloads = self.preloads.lock().unwrap_or_else(PoisonError::into_inner);
            preloads.retain(|(known, _)| known != name);
            preloads.push((name.to_owned(), source.to_owned()));
        }
        let server = self.server().await?;
        server.preload(name, source).await
    }

    fn current(&self) -> Option<Arc<Server>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|server| server.is_alive())
            .cloned()
    }

    /// The live server, started anew if the last one died.
    async fn server(&self) -> Result<Arc<Server>, Error> {
        if let Some(server) = self.current() {
            return Ok(server);
        }
        let _starting = self.starting.lock().await;
        if let Some(server) = self.current() {
            return Ok(server);
        }
        // Drop the dead one first (it kills and reaps what is left of it).
        let dead = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(dead);
        let settings = Arc::clone(&self.settings);
        let server = tokio::task::spawn_blocking(move || Server::start(&settings))
            .await
            .map_err(|e| Error::Server(format!("starting it panicked: {e}")))??;
        let preloads = self
            .preloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (name, source) in &preloads {
            server.preload(name, source).await?;
        }
        let server = Arc::new(server);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&server));
        Ok(server)
    }

    /// Runs `job` on the server; a job whose server died under it is run once more on
    /// a fresh one.
    ///
    /// # Errors
    /// [`Error::Server`] when the server cannot be (re)started or keeps dying.
    pub async fn run(&self, job: Job) -> Result<Execution, Error> {
        for _ in 0..2 {
            let server = self.server().await?;
            match self.attempt(&server, &job).await? {
                Attempt::Finished(execution) => return Ok(execution),
                Attempt::ServerDied => {}
            }
        }
        Err(Error::Server(
            "it died twice while running one job".to_owned(),
        ))
    }

    async fn attempt(&self, server: &Arc<Server>, job: &Job) -> Result<Attempt, Error> {
        let settings = &self.settings;
        let started = Instant::now();
        let deadline = started + job.limits.wall_time();
        let (ours, theirs) = pipes()?;
        let rlimits = job_rlimits(&job.limits, settings.workdir_bytes, settings.process_limit);
        let (id, done) = server.submit(&job.source, &rlimits, &theirs)?;
        drop(theirs);
        let guard = KillOnDrop { server, id };
        let kill = || server.kill(id);
        let collected = collect(ours, job, settings.policy, deadline, done, &kill).await?;
        drop(guard);
        let (status, setup_error) = match collected.end {
            Some(Ok(Done::Ended {
                status,
                setup_error,
            })) => (status, setup_error),
            Some(Ok(Done::ServerDied) | Err(_)) => return Ok(Attempt::ServerDied),
            Some(Ok(Done::Preloaded(_))) => {
                return Err(Error::Server(
                    "it answered a job with a module's load".to_owned(),
                ))
            }
            None => {
                return Err(Error::Server(
                    "a killed job was not reported dead".to_owned(),
                ))
            }
        };
        if let Some(why) = setup_error {
            return Err(Error::Server(format!("a job's set-up failed: {why}")));
        }
        let termination = classify(status, collected.killed, collected.stderr.tail());
        let output_truncated = collected.stdout.truncated() || collected.stderr.truncated();
        Ok(Attempt::Finished(Execution {
            stdout: collected.stdout.into_kept(),
            stderr: collected.stderr.into_kept(),
            termination,
            output_truncated,
            wall_time: started.elapsed(),
        }))
    }
}

/// Kills a job whose future is dropped before it ended (a no-op once it has).
struct KillOnDrop<'a> {
    server: &'a Server,
    id: u64,
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        self.server.kill(self.id);
    }
}
