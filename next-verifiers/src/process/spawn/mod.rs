//! The jail: `clone3` straight into fresh namespaces, set the child up, `execve`.
//!
//! Most of the crate's `unsafe` code is here (the rest registers a pidfd with the
//! runtime, in `child.rs`). The child of `clone3` is a copy of a
//! multi-threaded process in which only the calling thread exists, so between the clone
//! and `execve` it may only make system calls: no allocation, no locks, no glibc
//! function that keeps per-thread state (glibc's `setuid` family, for one, signals
//! every thread it believes exists, so the raw system calls are used instead).
//! Everything the child needs is therefore prepared before the clone ([`Jail`],
//! [`Launch`], in `jail.rs`) and the child only walks through it ([`child_main`]).
//!
//! The sequence, parent and child:
//!
//! 1. The parent makes two close-on-exec pipes (sync, error) and calls `clone3` with
//!    the namespace flags and `CLONE_PIDFD`. The child is PID 1 of its new PID
//!    namespace.
//! 2. The parent writes the child's `uid_map`/`gid_map` (only a process outside the new
//!    user namespace may map it to an unprivileged uid other than its own), then writes
//!    one byte to the sync pipe.
//! 3. The child: new session; default signal dispositions; with a mount namespace, makes
//!    every mount private and, with the caller's ids (which may enter `/root`), clones
//!    (`open_tree`) what the fresh root binds in; switches to the job's ids (inside a
//!    user namespace the capabilities there stay until `execve`, because the
//!    namespace's root is not mapped; without one, after the mounts); builds the fresh
//!    root on a tmpfs mounted over the work directory (its directories, links, the
//!    clones moved onto their mount points read-only, a `/proc` of its own PID
//!    namespace, mounted while the host's `/proc` is still in sight, as the kernel
//!    requires), `pivot_root`s into it and detaches the host's tree, makes the work
//!    directory's path in it and seals it read-only; mounts a size-limited tmpfs on the
//!    work directory; `chdir`s there, writes the source, sets the rlimits, moves the
//!    stdio pipes to 0, 1, 2 (and the warm server's socket to 3), marks every other
//!    descriptor close-on-exec, and execs. Without the fresh root (the kernel refused
//!    it), it instead clones the interpreter's directories that sit under a directory
//!    the job's user may not enter (`/root/.pyenv/...`), covers that directory with a
//!    tmpfs, puts the clones back at their paths and makes the whole tree read-only and
//!    nosuid (`mount_setattr(AT_RECURSIVE)`).
//! 4. Any failing step writes `(stage, errno)` to the error pipe and exits 127; the
//!    parent reads the error pipe until end of file (the exec closed it) to learn
//!    whether the exec happened.
//!
//! The files: this one is the parent's side; [`steps`] the child's walk, [`mounts`] its
//! mount steps, [`raw`] what every step uses (the prepared data, the failure report).

mod mounts;
mod raw;
mod steps;

use std::ffi::{c_char, c_int};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rustix::pipe::{pipe_with, PipeFlags};

use super::child::Child;
use super::jail::{IdMaps, Jail, Launch, SpawnError, Stage, MAX_EXPOSED_TREES, MAX_ROOT_BINDS};
use raw::{Prepared, PATH_BUFFER};
use steps::child_main;

/// `struct clone_args` of `clone3(2)`, version 2 (88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Starts `launch` in `jail`, and returns once the child has exec'd.
///
/// Blocking: it waits for the child's set-up (a millisecond or two). The child-side
/// descriptors in `launch` are closed in this process when it returns.
///
/// # Errors
/// [`SpawnError`] naming the step that failed.
pub(crate) fn spawn(jail: &Jail, launch: Launch) -> Result<Child, SpawnError> {
    let exposed: usize = jail
        .mounts
        .as_ref()
        .map_or(0, |m| m.exposes.iter().map(|e| e.trees.len()).sum());
    if exposed > MAX_EXPOSED_TREES || launch.argv.is_empty() {
        return Err(SpawnError::new(
            Stage::Clone,
            io::Error::from(io::ErrorKind::InvalidInput),
        ));
    }
    let root_binds = jail
        .mounts
        .as_ref()
        .and_then(|m| m.root.as_ref())
        .map_or(0, |root| root.binds.len());
    if root_binds > MAX_ROOT_BINDS || launch.workdir.as_bytes().len() >= PATH_BUFFER {
        return Err(SpawnError::new(
            Stage::RootClone,
            io::Error::from(io::ErrorKind::InvalidInput),
        ));
    }
    let pipe =
        || pipe_with(PipeFlags::CLOEXEC).map_err(|e| SpawnError::new(Stage::Clone, e.into()));
    let (sync_read, sync_write) = pipe()?;
    let (error_read, error_write) = pipe()?;
    let mut argv: Vec<*const c_char> = launch.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = launch.env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let prepared = Prepared {
        jail,
        launch: &launch,
        argv,
        envp,
        sync_read: sync_read.as_raw_fd(),
        sync_write: sync_write.as_raw_fd(),
        error_read: error_read.as_raw_fd(),
        error_write: error_write.as_raw_fd(),
    };

    let child = clone_child(&prepared)?;
    drop(prepared);
    drop(sync_read);
    drop(error_write);
    // The child's ends of its pipes are the child's now.
    drop(launch);

    if let Some(maps) = &jail.id_maps {
        write_id_maps(child.pid(), maps).map_err(|e| SpawnError::new(Stage::IdMaps, e))?;
        // The child waits for this byte only when there are maps to write.
        rustix::io::write(&sync_write, b"x").map_err(|e| SpawnError::new(Stage::Sync, e.into()))?;
    }
    drop(sync_write);
    match read_report(&error_read) {
        Ok(None) => Ok(child),
        Ok(Some((stage, errno))) => {
            Err(SpawnError::new(stage, io::Error::from_raw_os_error(errno)))
        }
        Err(err) => Err(SpawnError::new(Stage::Exec, err)),
    }
}

/// Calls `clone3`; in the child, runs [`child_main`], which never returns.
#[allow(unsafe_code)]
fn clone_child(prepared: &Prepared<'_>) -> Result<Child, SpawnError> {
    let mut pidfd: c_int = -1;
    let args = CloneArgs {
        flags: prepared.jail.namespaces | libc::CLONE_PIDFD as u64,
        pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid, fully initialised `clone_args` of the size passed, and
    // `pidfd` outlives the call. Without CLONE_VM the child gets a copy of this
    // address space and continues on its copy of this stack, like after `fork`; it
    // runs only `child_main`, which makes system calls on memory prepared before the
    // clone and ends in `execve` or `_exit`, never returning here.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of!(args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret == 0 {
        child_main(prepared);
    }
    if ret < 0 {
        return Err(SpawnError::new(Stage::Clone, io::Error::last_os_error()));
    }
    let pid = i32::try_from(ret)
        .map_err(|_| SpawnError::new(Stage::Clone, io::Error::other("pid out of range")))?;
    // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor, owned by nobody
    // else, in `pidfd` when the clone succeeded.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let own_pid_namespace = prepared.jail.namespaces & (libc::CLONE_NEWPID as u64) != 0;
    Ok(Child::new(pid, pidfd, !own_pid_namespace))
}

/// Writes the maps of `pid`'s user namespace (from outside it).
fn write_id_maps(pid: i32, maps: &IdMaps) -> io::Result<()> {
    let proc = format!("/proc/{pid}");
    if maps.deny_setgroups {
        std::fs::write(format!("{proc}/setgroups"), "deny")?;
    }
    std::fs::write(format!("{proc}/uid_map"), &maps.uid_map)?;
    std::fs::write(format!("{proc}/gid_map"), &maps.gid_map)?;
    Ok(())
}

/// Reads the child's error report: `None` at end of file (it exec'd).
fn read_report(error_read: &OwnedFd) -> io::Result<Option<(Stage, i32)>> {
    let mut report = [0_u8; 8];
    let mut filled = 0;
    while filled < report.len() {
        match rustix::io::read(error_read, &mut report[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(err) => return Err(err.into()),
        }
    }
    if filled == 0 {
        return Ok(None);
    }
    let mut code = [0_u8; 4];
    let mut errno = [0_u8; 4];
    code.copy_from_slice(&report[..4]);
    errno.copy_from_slice(&report[4..]);
    let stage = Stage::from_code(u32::from_ne_bytes(code)).unwrap_or(Stage::Exec);
    Ok(Some((stage, i32::from_ne_bytes(errno))))
}
