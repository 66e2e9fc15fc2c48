//! [`Child`]: a started job (or warm server) held by its pidfd, killed and reaped when
//! dropped.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, PoisonError};

use rustix::process::{
    kill_process_group, pidfd_send_signal, waitid, Pid, Signal, WaitId, WaitIdOptions, WaitIdStatus,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How a process ended, as the kernel reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawStatus {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

impl RawStatus {
    fn from_waitid(status: &WaitIdStatus) -> Option<Self> {
        if let Some(code) = status.exit_status() {
            return Some(RawStatus::Exited(code));
        }
        status.terminating_signal().map(RawStatus::Signaled)
    }
}

/// A child process of this process, started by [`spawn`](super::spawn::spawn), known by
/// its pidfd so that neither killing nor reaping can hit a recycled pid.
///
/// Dropping it before it was reaped kills it (with its whole PID namespace, where it is
/// the namespace's init) and reaps it, blocking for the moment that takes: a dropped job
/// leaves no process behind.
///
/// Without a PID namespace (`group`), killing it also kills its process group (it is
/// the leader of its own session), and so does its end, before it is reaped: what it
/// left in its group dies with it. A process that left the group (`setsid`) escapes;
/// only the PID namespace catches those.
#[derive(Debug)]
pub(crate) struct Child {
    pidfd: OwnedFd,
    pid: i32,
    group: bool,
    status: Mutex<Option<RawStatus>>,
}

impl Child {
    /// Takes ownership of a child by its pidfd; `group`: also kill its process group.
    pub fn new(pid: i32, pidfd: OwnedFd, group: bool) -> Self {
        Self {
            pidfd,
            pid,
            group,
            status: Mutex::new(None),
        }
    }

    /// Its pid in this process's PID namespace.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends it SIGKILL (a no-op once it has been reaped or has exited).
    pub fn kill(&self) {
        if self.status().is_none() {
            let _ = pidfd_send_signal(&self.pidfd, Signal::KILL);
            self.kill_group();
        }
    }

    /// Kills its process group, where it has no PID namespace. Only called before it is
    /// reaped, while its pid cannot be anyone else's.
    fn kill_group(&self) {
        if self.group {
            if let Some(pid) = Pid::from_raw(self.pid) {
                let _ = kill_process_group(pid, Signal::KILL);
            }
        }
    }

    /// How it ended, once reaped.
    pub fn status(&self) -> Option<RawStatus> {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reaps it if it has ended, without waiting.
    ///
    /// # Errors
    /// The `waitid` error.
    pub fn try_wait(&self) -> io::Result<Option<RawStatus>> {
        self.wait_with(WaitIdOptions::EXITED | WaitIdOptions::NOHANG)
    }

    /// Waits for it to end and reaps it, blocking the thread.
    ///
    /// # Errors
    /// The `waitid` error.
    pub fn wait_blocking(&self) -> io::Result<RawStatus> {
        loop {
            if let Some(status) = self.wait_with(WaitIdOptions::EXITED)? {
                return Ok(status);
            }
        }
    }

    /// Waits for it to end without blocking the thread, and reaps it. Cancel-safe: a
    /// dropped wait leaves the child as it was.
    ///
    /// # Errors
    /// Registering the pidfd with the runtime, or `waitid`.
    pub async fn wait(&self) -> io::Result<RawStatus> {
        if let Some(status) = self.status() {
            return Ok(status);
        }
        let raw: RawFd = self.pidfd.as_raw_fd();
        let ready = register(raw)?;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            let mut guard = ready.readable().await?;
            guard.clear_ready();
        }
    }

    fn wait_with(&self, options: WaitIdOptions) -> io::Result<Option<RawStatus>> {
        let mut slot = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(status) = *slot {
            return Ok(Some(status));
        }
        if self.group {
            // Ended? Then kill what it left in its group before reaping it.
            match waitid(
                WaitId::PidFd(self.pidfd.as_fd()),
                options | WaitIdOptions::NOWAIT,
            ) {
                Ok(Some(status)) if RawStatus::from_waitid(&status).is_some() => self.kill_group(),
                Ok(_) => return Ok(None),
                Err(err) => return Err(err.into()),
            }
        }
        loop {
            match waitid(WaitId::PidFd(self.pidfd.as_fd()), options) {
                Ok(Some(status)) => {
                    if let Some(raw) = RawStatus::from_waitid(&status) {
                        *slot = Some(raw);
                        return Ok(Some(raw));
                    }
                    // A stop or continue report: not an end. Only asked for with
                    // EXITED, so this should not happen; wait again.
                    if options.contains(WaitIdOptions::NOHANG) {
                        return Ok(None);
                    }
                }
                Ok(None) => return Ok(None),
                Err(rustix::io::Errno::INTR) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// Registers the pidfd `raw` with the runtime's reactor (readable once the process has
/// ended).
#[allow(unsafe_code)]
fn register(raw: RawFd) -> io::Result<AsyncFd<RawFd>> {
    // SAFETY: `raw` is the pidfd owned by a `Child`, which the caller borrows for longer
    // than the returned `AsyncFd` lives (it is dropped inside `Child::wait`), so the
    // descriptor stays open for the whole registration.
    unsafe { AsyncFd::register_with_interest(raw, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status().is_none() {
            self.kill();
            let _ = self.wait_blocking();
        }
    }
}
