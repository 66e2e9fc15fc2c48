//! [`Isolation`]: what a [`ProcessSandbox`](super::ProcessSandbox) actually applies,
//! found out once, when it is built, by starting a probe job with everything asked for
//! and leaving out what the kernel refuses.

use std::fmt;

use serde::Serialize;

use super::config::Mode;

/// The isolation a [`ProcessSandbox`](super::ProcessSandbox) applies to every job, as
/// the kernel allowed it. [`ProcessSandbox::isolation`](super::ProcessSandbox::isolation)
/// returns it; its `Display` is one line per part, for logs.
///
/// Always applied, whatever the kernel: a fresh work directory, a scrubbed environment,
/// stdin closed after the job's input, capped output, its own session, and the rlimits
/// of address space (`Limits::memory_bytes`), CPU time (the wall limit rounded up; the
/// wall limit itself is enforced by a kill), file size (half the work directory) and
/// core dumps (none).
#[allow(clippy::struct_excessive_bools)] // one yes/no per part: a report
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Isolation {
    /// The job runs in a user namespace of its own, as an unprivileged user there and
    /// outside: it can gain no capability over anything outside, and the process limit
    /// counts its processes only.
    pub user_namespace: bool,
    /// The job runs in a network namespace with only a loopback device, down: every
    /// connection fails, 127.0.0.1 included.
    pub network_namespace: bool,
    /// The job is the init of a PID namespace of its own: when it ends or is killed,
    /// the kernel kills every process it started (daemons, double forks, `setsid`).
    pub pid_namespace: bool,
    /// The job runs in a mount namespace of its own: the file tree it sees read-only
    /// and nosuid, the work directory a private tmpfs of `workdir_bytes`. Without
    /// [`fresh_root`](Self::fresh_root), that tree is the host's whole tree, with
    /// private directories above the interpreter (such as `/root`) replaced by the
    /// interpreter's own directories.
    pub mount_namespace: bool,
    /// The job's root is a fresh one, as bubblewrap and nsjail build it, holding only
    /// the system's program and library directories (`/usr`, and `/lib`, `/bin`... as
    /// the host has them), the interpreter's own directories, the loader's cache
    /// `/etc/ld.so.cache`, `/dev/null`, `/dev/zero`, `/dev/random`, `/dev/urandom`, an
    /// empty `/tmp`, its work directory and its own `/proc`: nothing else of the host's
    /// file tree (no checkout, data, home directory, host `/tmp` or `/etc/passwd`), and
    /// no way back to it (the host's tree is detached). Needs the mount namespace.
    pub fresh_root: bool,
    /// The job's `/proc` shows only its own PID namespace (needs the PID and mount
    /// namespaces).
    pub private_proc: bool,
    /// The job runs in an IPC namespace of its own (System V IPC, POSIX queues).
    pub ipc_namespace: bool,
    /// The user id the job's processes have outside every namespace.
    pub job_uid: u32,
    /// How `Limits::processes` is enforced.
    pub process_limit: ProcessLimit,
    /// The mode in effect (a warm sandbox whose server cannot run falls back to cold).
    pub mode: Mode,
    /// What was asked for and not applied, each with the kernel's reason.
    pub refused: Vec<String>,
}

/// How the process limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessLimit {
    /// `RLIMIT_NPROC` counted in the job's own user namespace: the job's processes and
    /// threads only.
    PerJob,
    /// `RLIMIT_NPROC` on a shared unprivileged uid: every job running at once counts
    /// against each job's limit.
    SharedByUid,
    /// Not enforced (an unprivileged caller without user namespaces: the count would be
    /// every process of the caller's user).
    NotEnforced,
}

impl Isolation {
    /// Whether every part was applied: user, network, PID, mount and IPC namespaces, a
    /// fresh root, a private `/proc`, a per-job process limit, and nothing refused.
    pub fn is_complete(&self) -> bool {
        self.user_namespace
            && self.network_namespace
            && self.pid_namespace
            && self.mount_namespace
            && self.fresh_root
            && self.private_proc
            && self.ipc_namespace
            && self.process_limit == ProcessLimit::PerJob
            && self.refused.is_empty()
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yes = |on: bool| if on { "yes" } else { "NO" };
        writeln!(f, "mode: {:?}", self.mode)?;
        writeln!(f, "user namespace: {}", yes(self.user_namespace))?;
        writeln!(f, "network namespace: {}", yes(self.network_namespace))?;
        writeln!(f, "pid namespace: {}", yes(self.pid_namespace))?;
        writeln!(
            f,
            "mount namespace (read-only tree, tmpfs work dir): {}",
            yes(self.mount_namespace)
        )?;
        writeln!(
            f,
            "fresh root (none of the host's files but the interpreter's and libraries): {}",
            yes(self.fresh_root)
        )?;
        writeln!(f, "private /proc: {}", yes(self.private_proc))?;
        writeln!(f, "ipc namespace: {}", yes(self.ipc_namespace))?;
        writeln!(f, "job uid outside: {}", self.job_uid)?;
        write!(f, "process limit: {:?}", self.process_limit)?;
        for refusal in &self.refused {
            write!(f, "\nrefused: {refusal}")?;
        }
        Ok(())
    }
}
