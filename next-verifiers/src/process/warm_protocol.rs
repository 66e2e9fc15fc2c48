//! The warm server's protocol: on a Unix stream socket, each message is a
//! [`frame`] (a 4-byte big-endian length and its bytes) of a
//! JSON object; a request carries the job's three pipe ends
//! and a `started` report carries the job's pidfd, as `SCM_RIGHTS`. The server's side
//! is in `warm_server.py`.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use next_core::sandbox::frame;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};

/// Most descriptors one message carries.
const MAX_FDS: usize = 8;

/// The server's configuration (`sys.argv[1]`).
#[derive(Debug, Serialize)]
pub(crate) struct ServerConfig {
    /// The work directory.
    pub workdir: String,
    /// Options of each job's work-directory tmpfs.
    pub workdir_tmpfs: String,
    /// The job's uid inside its user namespace.
    pub job_uid: u32,
    /// The job's gid inside its user namespace.
    pub job_gid: u32,
    /// Give each job an IPC namespace of its own.
    pub ipc: bool,
    /// Modules the server imports before forking.
    pub preload: Vec<String>,
}

/// One job's request.
#[derive(Serialize)]
pub(crate) struct Request<'a> {
    /// The job's id.
    pub id: u64,
    /// Its source.
    pub source: &'a str,
    /// `(resource, soft, hard)`.
    pub rlimits: &'a [(libc::c_int, u64, u64)],
}

/// A module of trusted source for the server to import before its next forks.
#[derive(Serialize)]
pub(crate) struct PreloadRequest<'a> {
    /// The request's id (from the jobs' sequence).
    pub id: u64,
    /// The module's name in `sys.modules`.
    pub preload: &'a str,
    /// Its source.
    pub source: &'a str,
}

/// What the server says.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum FromServer {
    /// Started and tested itself; the self-test's failure, if it failed.
    Ready {
        /// Why the self-test failed.
        selftest: Option<String>,
    },
    /// Forked job `id`; its pidfd comes with the message when `pidfd`.
    Started {
        /// The job.
        id: u64,
        /// Whether a pidfd is attached.
        #[serde(default)]
        pidfd: bool,
    },
    /// Preload request `id` was carried out, or failed with `error`.
    Preloaded {
        /// The request.
        id: u64,
        /// Why it failed, if it did.
        error: Option<String>,
    },
    /// Job `id` ended.
    Done {
        /// The job.
        id: u64,
        /// Its exit status, if it exited.
        code: Option<i32>,
        /// The signal that ended it, if one did.
        signal: Option<i32>,
        /// Why its set-up failed, if it did (before the job's code ran).
        setup_error: Option<String>,
    },
}

/// Sends one frame (length, then `body`) with `fds` attached, blocking until all of it
/// is sent. The caller serialises senders.
///
/// # Errors
/// The socket's error, or a body longer than 4 GiB.
pub(crate) fn send_frame(socket: &OwnedFd, body: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut bytes = Vec::new();
    frame::write(&mut bytes, "the message", body)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut ancillary = SendAncillaryBuffer::new(&mut space);
    if !ancillary.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("no room for the descriptors"));
    }
    let mut sent = loop {
        match sendmsg(
            socket,
            &[IoSlice::new(&bytes)],
            &mut ancillary,
            SendFlags::NOSIGNAL,
        ) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    };
    while sent < bytes.len() {
        match rustix::net::send(socket, &bytes[sent..], SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The receiving side: frames and the descriptors that came with them (in order: the
/// descriptors of a frame arrive with its first bytes, so the queue's front belongs to
/// the next frame that carries any).
pub(crate) struct Reader {
    /// The socket read from.
    pub socket: OwnedFd,
    buffer: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl Reader {
    /// Reads from `socket`.
    pub fn new(socket: OwnedFd) -> Self {
        Self {
            socket,
            buffer: Vec::new(),
            fds: VecDeque::new(),
        }
    }

    /// The next message, with the descriptor it carries; `None` at end of file.
    pub fn next(&mut self) -> io::Result<Option<(FromServer, Option<OwnedFd>)>> {
        loop {
            if let Some((body, taken)) = frame::split(&self.buffer) {
                let message: FromServer = serde_json::from_slice(body)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.buffer.drain(..taken);
                let fd = match message {
                    FromServer::Started { pidfd: true, .. } => self.fds.pop_front(),
                    _ => None,
                };
                return Ok(Some((message, fd)));
            }
            let mut chunk = vec![0_u8; 64 * 1024];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
            let mut ancillary = RecvAncillaryBuffer::new(&mut space);
            let received = match recvmsg(
                &self.socket,
                &mut [io::IoSliceMut::new(&mut chunk)],
                &mut ancillary,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(received) => received,
                Err(rustix::io::Errno::INTR) => continue,
                Err(err) => return Err(err.into()),
            };
            for message in ancillary.drain() {
                if let RecvAncillaryMessage::ScmRights(fds) = message {
                    self.fds.extend(fds);
                }
            }
            if received.bytes == 0 {
                return Ok(None);
            }
            self.buffer.extend_from_slice(&chunk[..received.bytes]);
        }
    }
}
