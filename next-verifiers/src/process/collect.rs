//! Feeding a job's stdin and collecting its stdout and stderr, each capped, while
//! waiting for its end under the wall-clock limit. Shared by the cold and warm modes:
//! in both, the job's pipes lead straight to this process.

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::time::Duration;

use next_core::sandbox::Job;
use rustix::pipe::{pipe_with, PipeFlags};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::time::{sleep_until, Instant};

use super::config::OnOutputLimit;
use super::termination::KillReason;
use crate::error::Error;

/// Bytes of the end of each stream kept apart from the capped head, so that the last
/// line of a traceback is seen even when the head was cut.
const TAIL_BYTES: usize = 4096;
/// Size of one read.
const CHUNK: usize = 64 * 1024;
/// How long the pipes may stay open after the job ended (a process outside the job's
/// PID namespace, where there is none, could hold them).
const EOF_GRACE: Duration = Duration::from_millis(250);
/// How long a killed job may take to be reported dead.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// The job's ends of its three pipes, handed to the child.
#[derive(Debug)]
pub(crate) struct ChildEnds {
    /// Read end of stdin.
    pub stdin: OwnedFd,
    /// Write end of stdout.
    pub stdout: OwnedFd,
    /// Write end of stderr.
    pub stderr: OwnedFd,
}

/// This process's ends of the job's pipes, before they are registered with the
/// runtime.
#[derive(Debug)]
pub(crate) struct OurEnds {
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

impl OurEnds {
    /// Stdin's write end, stdout's and stderr's read ends.
    pub fn into_parts(self) -> (OwnedFd, OwnedFd, OwnedFd) {
        (self.stdin, self.stdout, self.stderr)
    }
}

/// Makes the three pipes of a job (close-on-exec; the child moves its ends to 0, 1, 2).
///
/// # Errors
/// [`Error::Io`] when the process is out of descriptors.
pub(crate) fn pipes() -> Result<(OurEnds, ChildEnds), Error> {
    let make = || pipe_with(PipeFlags::CLOEXEC).map_err(|e| Error::io("making a pipe", e.into()));
    let (stdin_read, stdin_write) = make()?;
    let (stdout_read, stdout_write) = make()?;
    let (stderr_read, stderr_write) = make()?;
    Ok((
        OurEnds {
            stdin: stdin_write,
            stdout: stdout_read,
            stderr: stderr_read,
        },
        ChildEnds {
            stdin: stdin_read,
            stdout: stdout_write,
            stderr: stderr_write,
        },
    ))
}

/// One captured stream: the first `cap` bytes, and the last [`TAIL_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct Capture {
    kept: Vec<u8>,
    cap: usize,
    tail: Vec<u8>,
    truncated: bool,
}

impl Capture {
    fn new(cap: u64) -> Self {
        Self {
            kept: Vec::new(),
            cap: usize::try_from(cap).unwrap_or(usize::MAX),
            tail: Vec::new(),
            truncated: false,
        }
    }

    /// Keeps what fits; returns whether anything was cut.
    fn push(&mut self, data: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.kept.len());
        let take = room.min(data.len());
        self.kept.extend_from_slice(&data[..take]);
        if take < data.len() {
            self.truncated = true;
        }
        if data.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail
                .extend_from_slice(&data[data.len() - TAIL_BYTES..]);
        } else {
            self.tail.extend_from_slice(data);
            if self.tail.len() > TAIL_BYTES {
                let excess = self.tail.len() - TAIL_BYTES;
                self.tail.drain(..excess);
            }
        }
        self.truncated
    }

    /// The bytes kept (at most the cap).
    pub fn into_kept(self) -> Vec<u8> {
        self.kept
    }

    /// The last bytes written, whether or not the head was cut.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// Whether bytes were cut.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// What [`collect`] saw.
#[derive(Debug)]
pub(crate) struct Collected<T> {
    /// What the wait future returned; `None` if it never did (the job could not be
    /// reported dead even after a kill).
    pub end: Option<T>,
    /// Captured stdout.
    pub stdout: Capture,
    /// Captured stderr.
    pub stderr: Capture,
    /// Why this process killed the job, if it did.
    pub killed: Option<KillReason>,
}

/// Feeds the job's stdin to it, reads its stdout and stderr (each capped at its output
/// limit) and waits for `wait` (the job's end), killing the job with `kill` at
/// `deadline` or, by the `policy`, when a stream passes the cap.
///
/// Cancel-safe in the sense that matters: dropping it drops the pipes; killing the job
/// is the caller's guard's work.
///
/// # Errors
/// [`Error::Io`] when the pipes cannot be registered with the runtime.
pub(crate) async fn collect<T>(
    ends: OurEnds, job: &Job, policy: OnOutputLimit, deadline: Instant,
    wait: impl Future<Output = T>, kill: &(dyn Fn() + Sync),
) -> Result<Collected<T>, Error> {
    let (stdin, cap) = (job.stdin.as_slice(), job.limits.output_bytes());
    let register = |e: io::Error| Error::io("registering a job's pipe", e);
    let mut stdout = pipe::Receiver::from_owned_fd(ends.stdout).map_err(register)?;
    let mut stderr = pipe::Receiver::from_owned_fd(ends.stderr).map_err(register)?;
    let mut stdin_tx = if stdin.is_empty() {
        drop(ends.stdin);
        None
    } else {
        Some(pipe::Sender::from_owned_fd(ends.stdin).map_err(register)?)
    };
    let mut fed = 0_usize;
    let mut out = Capture::new(cap);
    let mut err = Capture::new(cap);
    let mut out_buf = vec![0_u8; CHUNK];
    let mut err_buf = vec![0_u8; CHUNK];
    let (mut out_open, mut err_open) = (true, true);
    let mut end: Option<T> = None;
    let mut killed: Option<KillReason> = None;
    let mut wait = pin!(wait);
    let mut timer = pin!(sleep_until(deadline));
    // Whether the timer now counts a grace period rather than the wall limit.
    let mut in_grace = false;

    loop {
        if end.is_some() && !out_open && !err_open {
            break;
        }
        tokio::select! {
            value = &mut wait, if end.is_none() => {
                end = Some(value);
                stdin_tx = None;
                in_grace = true;
                timer.as_mut().reset(Instant::now() + EOF_GRACE);
            }
            read = stdout.read(&mut out_buf), if out_open => match read {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    if out.push(&out_buf[..n]) && policy == OnOutputLimit::Kill && killed.is_none() {
                        kill();
                        killed = Some(KillReason::Output);
                    }
                }
            },
            read = stderr.read(&mut err_buf), if err_open => match read {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => {
                    if err.push(&err_buf[..n]) && policy == OnOutputLimit::Kill && killed.is_none() {
                        kill();
                        killed = Some(KillReason::Output);
                    }
                }
            },
            written = write_some(&mut stdin_tx, &stdin[fed..]), if stdin_tx.is_some() => match written {
                Ok(n) if n > 0 && fed + n < stdin.len() => fed += n,
                // All fed (then end of file), or the job closed its stdin.
                _ => stdin_tx = None,
            },
            () = &mut timer => {
                if in_grace {
                    break;
                }
                kill();
                if killed.is_none() || killed == Some(KillReason::Output) {
                    killed = Some(KillReason::Timeout);
                }
                stdin_tx = None;
                in_grace = true;
                timer.as_mut().reset(Instant::now() + KILL_GRACE);
            }
        }
    }
    Ok(Collected {
        end,
        stdout: out,
        stderr: err,
        killed,
    })
}

/// Writes some of `data` to the pipe, or waits forever when there is none.
async fn write_some(tx: &mut Option<pipe::Sender>, data: &[u8]) -> io::Result<usize> {
    match tx {
        Some(tx) => tx.write(data).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_head_and_the_tail() {
        let mut capture = Capture::new(10);
        assert!(!capture.push(b"hello "));
        assert!(capture.push(b"world, and more"));
        assert!(capture.truncated());
        assert_eq!(capture.tail(), b"hello world, and more");
        assert_eq!(capture.into_kept(), b"hello worl");
    }

    #[test]
    fn the_tail_is_bounded() {
        let mut capture = Capture::new(1);
        for _ in 0..10 {
            capture.push(&[b'x'; 1000]);
        }
        capture.push(b"MemoryError\n");
        assert_eq!(capture.tail().len(), TAIL_BYTES);
        assert!(capture.tail().ends_with(b"MemoryError\n"));
    }
}
