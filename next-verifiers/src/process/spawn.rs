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

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use rustix::pipe::{pipe_with, PipeFlags};

use super::child::Child;
use super::jail::{
    IdMaps, Identity, Jail, Launch, Mounts, NewRoot, SpawnError, Stage, MAX_EXPOSED_TREES,
    MAX_ROOT_BINDS, SOURCE_NAME,
};

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

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const AT_RECURSIVE: c_int = 0x8000;
const OPEN_TREE_CLONE: c_int = 1;
const MOVE_MOUNT_F_EMPTY_PATH: c_int = 0x4;
const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;
/// The longest path (with its NUL) the child copies onto its stack.
const PATH_BUFFER: usize = 4096;
/// The flags of every `/proc` the child mounts.
const PROC_FLAGS: libc::c_ulong =
    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;
/// What the child walks through: pointers into the [`Jail`] and [`Launch`], made before
/// the clone.
struct Prepared<'a> {
    jail: &'a Jail,
    launch: &'a Launch,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    sync_read: RawFd,
    sync_write: RawFd,
    error_read: RawFd,
    error_write: RawFd,
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

/// Reports `stage` and the current `errno` to the parent and exits 127.
#[allow(unsafe_code)]
fn fail(error_write: RawFd, stage: Stage) -> ! {
    // SAFETY: reads this thread's errno, writes a stack buffer to a descriptor and exits;
    // system calls only, as the child of `clone3` requires.
    unsafe {
        let errno = *libc::__errno_location();
        let mut report = [0_u8; 8];
        report[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
        report[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(error_write, report.as_ptr().cast::<c_void>(), report.len());
        libc::_exit(127)
    }
}

/// Switches to the job's ids with raw system calls (glibc's wrappers would signal
/// threads that do not exist in this process).
#[allow(unsafe_code)]
fn switch_ids(identity: Option<&Identity>, error_write: RawFd) {
    let Some(identity) = identity else {
        return;
    };
    let (uid, gid) = (identity.uid, identity.gid);
    // SAFETY: plain system calls with integer arguments (and a null list).
    unsafe {
        if identity.drop_groups
            && libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) < 0
        {
            fail(error_write, Stage::Groups);
        }
        if libc::syscall(libc::SYS_setresgid, gid, gid, gid) < 0 {
            fail(error_write, Stage::SetGid);
        }
        if libc::syscall(libc::SYS_setresuid, uid, uid, uid) < 0 {
            fail(error_write, Stage::SetUid);
        }
    }
}

/// The child after `clone3`: set up, then exec. Never returns.
///
/// Every step below is a function making system calls only (see the module
/// documentation); each failure ends in [`fail`].
fn child_main(p: &Prepared<'_>) -> ! {
    close_fd(p.sync_write);
    close_fd(p.error_read);
    // 1. Wait until the parent has written the id maps.
    if p.jail.id_maps.is_some() {
        wait_for_parent(p);
    }
    close_fd(p.sync_read);
    // 2. Own session, so that the job is never in our process group; default signal
    //    dispositions (an ignored signal stays ignored across exec), empty mask.
    start_session(p);
    reset_signals();
    // 3. Mounts, first part (with the caller's ids, which may enter private
    //    directories): private propagation, clones of what the fresh root binds in or
    //    of what must be exposed, covers.
    let mut trees: [c_int; MAX_EXPOSED_TREES] = [-1; MAX_EXPOSED_TREES];
    let mut root_binds: [c_int; MAX_ROOT_BINDS] = [-1; MAX_ROOT_BINDS];
    if let Some(mounts) = &p.jail.mounts {
        mount_first(p, mounts, &mut trees);
        if let Some(root) = &mounts.root {
            clone_root_binds(p, root, &mut root_binds);
        }
    }
    // 4. The job's ids, here in a user namespace (the capabilities there stay, as its
    //    root is not mapped, and files can be made only with mapped ids)...
    if p.jail.ids_before_mounts {
        switch_ids(p.jail.identity.as_ref(), p.error_write);
    }
    // 5. Mounts, second part: the fresh root built, with its /proc, and entered; or
    //    the exposed directories back, everything read-only, /proc. Then the work
    //    directory's tmpfs.
    if let Some(mounts) = &p.jail.mounts {
        match &mounts.root {
            Some(root) => enter_new_root(p, root, mounts.proc, &root_binds),
            None => mount_second(p, mounts, &trees),
        }
    }
    mount_workdir(p);
    // ... or here without one (a real root loses its capabilities when it becomes
    // another user).
    if !p.jail.ids_before_mounts {
        switch_ids(p.jail.identity.as_ref(), p.error_write);
    }
    // 6. Work directory and source, then the resource limits (after the source: the
    //    file-size limit could cut it), then the descriptors, then exec.
    enter_workdir(p);
    set_rlimits(p);
    move_descriptors(p);
    exec(p)
}

/// Closes a descriptor this copy of the process does not use.
#[allow(unsafe_code)]
fn close_fd(fd: RawFd) {
    // SAFETY: `close` on a descriptor number; at worst it fails.
    unsafe {
        libc::close(fd);
    }
}

/// The calling thread's `errno`.
#[allow(unsafe_code)]
fn errno() -> c_int {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno` (to report a failure that set none).
#[allow(unsafe_code)]
fn set_errno(value: c_int) {
    // SAFETY: as in `errno`.
    unsafe {
        *libc::__errno_location() = value;
    }
}

/// Blocks until the parent's byte arrives on the sync pipe.
#[allow(unsafe_code)]
fn wait_for_parent(p: &Prepared<'_>) {
    let mut byte = 0_u8;
    loop {
        // SAFETY: reads one byte into a stack variable.
        let n = unsafe {
            libc::read(
                p.sync_read,
                std::ptr::addr_of_mut!(byte).cast::<c_void>(),
                1,
            )
        };
        if n == 1 {
            return;
        }
        if n == 0 {
            set_errno(libc::EPIPE);
            fail(p.error_write, Stage::Sync);
        }
        if errno() != libc::EINTR {
            fail(p.error_write, Stage::Sync);
        }
    }
}

/// `setsid`.
#[allow(unsafe_code)]
fn start_session(p: &Prepared<'_>) {
    // SAFETY: no arguments.
    if unsafe { libc::setsid() } < 0 {
        fail(p.error_write, Stage::Session);
    }
}

/// Default dispositions for every signal, and an empty signal mask.
#[allow(unsafe_code)]
fn reset_signals() {
    // SAFETY: `sigaction` and `sigprocmask` with pointers to zeroed (valid) structures
    // on this stack; failures (for SIGKILL, SIGSTOP, glibc's own signals) are harmless.
    unsafe {
        let mut default_action: libc::sigaction = std::mem::zeroed();
        default_action.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::sigaction(signal, &raw const default_action, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const empty, std::ptr::null_mut());
    }
}

/// Private propagation; a detached clone of each exposed tree (into `trees`, in
/// order); a tmpfs over each directory that covers them.
#[allow(unsafe_code)]
fn mount_first(p: &Prepared<'_>, mounts: &Mounts, trees: &mut [c_int; MAX_EXPOSED_TREES]) {
    // SAFETY: `mount` and `open_tree` with NUL-terminated strings from `Mounts`, alive in
    // this copy of the address space; `spawn` checked that the trees fit in `trees`.
    unsafe {
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) < 0
        {
            fail(p.error_write, Stage::MountPrivate);
        }
        let mut next = 0;
        for expose in &mounts.exposes {
            for tree in &expose.trees {
                let fd = libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    tree.as_ptr(),
                    OPEN_TREE_CLONE | libc::O_CLOEXEC | AT_RECURSIVE,
                );
                match c_int::try_from(fd) {
                    Ok(fd) if fd >= 0 => trees[next] = fd,
                    _ => fail(p.error_write, Stage::ExposeClone),
                }
                next += 1;
            }
            if libc::mount(
                c"tmpfs".as_ptr(),
                expose.cover.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                expose.tmpfs_options.as_ptr().cast::<c_void>(),
            ) < 0
            {
                fail(p.error_write, Stage::ExposeCover);
            }
        }
    }
}

/// The exposed trees back at their paths; the whole tree read-only and nosuid; a
/// `/proc` of the child's PID namespace.
#[allow(unsafe_code)]
fn mount_second(p: &Prepared<'_>, mounts: &Mounts, trees: &[c_int; MAX_EXPOSED_TREES]) {
    // SAFETY: `mkdir`, `move_mount`, `mount_setattr` and `mount` with NUL-terminated
    // strings from `Mounts`, a `mount_attr` on this stack and the descriptors
    // `mount_first` stored.
    unsafe {
        let mut next = 0;
        for expose in &mounts.exposes {
            for dir in &expose.dirs {
                if libc::mkdir(dir.as_ptr(), 0o755) < 0 && errno() != libc::EEXIST {
                    fail(p.error_write, Stage::ExposeDirs);
                }
            }
            for tree in &expose.trees {
                if libc::syscall(
                    libc::SYS_move_mount,
                    trees[next],
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    tree.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ) < 0
                {
                    fail(p.error_write, Stage::ExposeMove);
                }
                libc::close(trees[next]);
                next += 1;
            }
        }
        if mounts.read_only {
            let attr = MountAttr {
                attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
                attr_clr: 0,
                propagation: 0,
                userns_fd: 0,
            };
            if libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                AT_RECURSIVE,
                &raw const attr,
                std::mem::size_of::<MountAttr>(),
            ) < 0
            {
                fail(p.error_write, Stage::ReadOnly);
            }
        }
        if mounts.proc
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                PROC_FLAGS,
                std::ptr::null(),
            ) < 0
        {
            fail(p.error_write, Stage::Proc);
        }
    }
}

/// A detached clone (with what is mounted under it) of each mount the fresh root binds
/// in, into `fds` in order, made while the host's tree is in sight and with the
/// caller's ids (which may enter the directories above the interpreter).
#[allow(unsafe_code)]
fn clone_root_binds(p: &Prepared<'_>, root: &NewRoot, fds: &mut [c_int; MAX_ROOT_BINDS]) {
    for (slot, bind) in fds.iter_mut().zip(&root.binds) {
        // SAFETY: `open_tree` with a NUL-terminated string from `NewRoot`; `spawn`
        // checked that the binds fit in `fds`.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                bind.source.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC | AT_RECURSIVE,
            )
        };
        match c_int::try_from(fd) {
            Ok(fd) if fd >= 0 => *slot = fd,
            _ => fail(p.error_write, Stage::RootClone),
        }
    }
}

/// Builds the fresh root and enters it, as bubblewrap does: a tmpfs mounted on the work
/// directory (a directory that is ours and exists; the tmpfs covers it only in this
/// mount namespace) becomes the root ([`build_root`]); `/proc` is mounted while the
/// host's `/proc` is still in sight (the kernel mounts a new one only where one is
/// fully visible); then `pivot_root` makes the tmpfs the root, the host's tree (stacked
/// on it) is detached, the work directory's path is made in it, and the root is sealed
/// read-only.
#[allow(unsafe_code)]
fn enter_new_root(p: &Prepared<'_>, root: &NewRoot, proc: bool, fds: &[c_int; MAX_ROOT_BINDS]) {
    build_root(p, root, fds);
    if proc {
        mount_root_proc(p);
    }
    // SAFETY: `pivot_root`, `umount2` and `chdir` with NUL-terminated literals.
    // `pivot_root(".", ".")` stacks the old root on the new one; unmounting "." then
    // takes the old root, and everything under it, out of this namespace.
    unsafe {
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) < 0
            || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) < 0
            || libc::chdir(c"/".as_ptr()) < 0
        {
            fail(p.error_write, Stage::RootPivot);
        }
    }
    make_path(p, &p.launch.workdir);
    // The root alone (not recursive: the binds keep theirs, and `/dev/null` stays a
    // device).
    if set_mount_attributes(
        c"/",
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        false,
    ) < 0
    {
        fail(p.error_write, Stage::RootSeal);
    }
}

/// Mounts the root's tmpfs on the work directory and enters it; makes the directories,
/// links and mount points of `root` (its paths are relative: they are reached from the
/// tmpfs as the current directory); moves the clones in `fds` onto theirs, read-only,
/// nosuid and (but for devices) nodev.
#[allow(unsafe_code)]
fn build_root(p: &Prepared<'_>, root: &NewRoot, fds: &[c_int; MAX_ROOT_BINDS]) {
    let staging = p.launch.workdir.as_ptr();
    // SAFETY: `mount`, `chdir`, `mkdir`, `symlink`, `open`, `close` and `move_mount`
    // with NUL-terminated strings from `NewRoot` and `Launch` and the descriptors
    // `clone_root_binds` stored.
    unsafe {
        if libc::mount(
            c"tmpfs".as_ptr(),
            staging,
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            root.tmpfs_options.as_ptr().cast::<c_void>(),
        ) < 0
            || libc::chdir(staging) < 0
        {
            fail(p.error_write, Stage::RootTmpfs);
        }
        for dir in &root.dirs {
            if libc::mkdir(dir.as_ptr(), 0o755) < 0 && errno() != libc::EEXIST {
                fail(p.error_write, Stage::RootMake);
            }
        }
        for (target, link) in &root.links {
            if libc::symlink(target.as_ptr(), link.as_ptr()) < 0 {
                fail(p.error_write, Stage::RootMake);
            }
        }
        for (bind, &fd) in root.binds.iter().zip(fds) {
            if bind.file {
                let made = libc::open(
                    bind.target.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o444,
                );
                if made < 0 {
                    fail(p.error_write, Stage::RootMake);
                }
                libc::close(made);
            }
            if libc::syscall(
                libc::SYS_move_mount,
                fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                bind.target.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            ) < 0
            {
                fail(p.error_write, Stage::RootBind);
            }
            libc::close(fd);
            let nodev = if bind.device { 0 } else { MOUNT_ATTR_NODEV };
            if set_mount_attributes(
                &bind.target,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | nodev,
                true,
            ) < 0
            {
                fail(p.error_write, Stage::RootBind);
            }
        }
    }
}

/// Mounts the fresh root's `/proc` (relative: the tmpfs is the current directory),
/// read-only as a mount, not as a superblock: the kernel mounts a new `/proc` (a warm
/// job's own) only where one is visible that is not locked read-only.
#[allow(unsafe_code)]
fn mount_root_proc(p: &Prepared<'_>) {
    // SAFETY: `mount` with NUL-terminated literals.
    let mounted = unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"proc".as_ptr(),
            c"proc".as_ptr(),
            PROC_FLAGS & !libc::MS_RDONLY,
            std::ptr::null(),
        )
    };
    let flags = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if mounted < 0 || set_mount_attributes(c"proc", flags, false) < 0 {
        fail(p.error_write, Stage::Proc);
    }
}

/// `mount_setattr` setting `flags` on the mount at `path` (and on those under it when
/// `recursive`); what the system call returns.
#[allow(unsafe_code)]
fn set_mount_attributes(path: &CStr, flags: u64, recursive: bool) -> libc::c_long {
    let attr = MountAttr {
        attr_set: flags,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `mount_setattr` with a NUL-terminated string and a `mount_attr` on this
    // stack, of the size passed.
    unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            if recursive { AT_RECURSIVE } else { 0 },
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    }
}

/// Makes the absolute `path` and every directory above it (`mkdir -p`), on a copy on
/// this stack (the child may not allocate).
#[allow(unsafe_code)]
fn make_path(p: &Prepared<'_>, path: &CStr) {
    let bytes = path.to_bytes();
    let mut buffer = [0_u8; PATH_BUFFER];
    if bytes.len() >= PATH_BUFFER {
        set_errno(libc::ENAMETOOLONG);
        fail(p.error_write, Stage::RootMake);
    }
    buffer[..bytes.len()].copy_from_slice(bytes);
    for end in 1..=bytes.len() {
        if end < bytes.len() && bytes[end] != b'/' {
            continue;
        }
        buffer[end] = 0;
        // SAFETY: `mkdir` with a NUL-terminated string on this stack (the NUL just
        // written, or the zeroed tail).
        if unsafe { libc::mkdir(buffer.as_ptr().cast::<c_char>(), 0o755) } < 0
            && errno() != libc::EEXIST
        {
            fail(p.error_write, Stage::RootMake);
        }
        if end < bytes.len() {
            buffer[end] = b'/';
        }
    }
}

/// The work directory's tmpfs, if the launch has one.
#[allow(unsafe_code)]
fn mount_workdir(p: &Prepared<'_>) {
    let launch = p.launch;
    let Some(options) = &launch.workdir_tmpfs else {
        return;
    };
    // SAFETY: `mount` with NUL-terminated strings from `Launch`.
    let mounted = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            launch.workdir.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast::<c_void>(),
        )
    };
    if mounted < 0 {
        fail(p.error_write, Stage::Workdir);
    }
}

/// `chdir` to the work directory and write the source there.
#[allow(unsafe_code)]
fn enter_workdir(p: &Prepared<'_>) {
    let launch = p.launch;
    // SAFETY: `chdir`, `open`, `write`, `close` with NUL-terminated strings and the
    // source's bytes from `Launch`.
    unsafe {
        if libc::chdir(launch.workdir.as_ptr()) < 0 {
            fail(p.error_write, Stage::Chdir);
        }
        let Some(source) = &launch.source else {
            return;
        };
        let fd = libc::open(
            SOURCE_NAME.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        );
        if fd < 0 {
            fail(p.error_write, Stage::Source);
        }
        let mut written = 0;
        while written < source.len() {
            let n = libc::write(
                fd,
                source[written..].as_ptr().cast::<c_void>(),
                source.len() - written,
            );
            match usize::try_from(n) {
                Ok(n) => written += n,
                Err(_) if errno() == libc::EINTR => {}
                Err(_) => fail(p.error_write, Stage::Source),
            }
        }
        libc::close(fd);
    }
}

/// The launch's rlimits.
#[allow(unsafe_code)]
fn set_rlimits(p: &Prepared<'_>) {
    for &(resource, soft, hard) in &p.launch.rlimits {
        let limit = libc::rlimit64 {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: `prlimit64` on this process with a pointer to a structure on this stack.
        let set = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                resource,
                &raw const limit,
                std::ptr::null_mut::<libc::rlimit64>(),
            )
        };
        if set < 0 {
            fail(p.error_write, Stage::Rlimit);
        }
    }
}

/// The pipes onto 0, 1, 2 (and the extra descriptor onto 3): each is first copied above
/// 10, so that no move overwrites another source; every other descriptor is marked
/// close-on-exec.
#[allow(unsafe_code)]
fn move_descriptors(p: &Prepared<'_>) {
    let launch = p.launch;
    let sources = [
        Some(launch.stdio[0].as_raw_fd()),
        Some(launch.stdio[1].as_raw_fd()),
        Some(launch.stdio[2].as_raw_fd()),
        launch.extra.as_ref().map(AsRawFd::as_raw_fd),
    ];
    // SAFETY: `fcntl`, `dup2` and `close_range` on descriptor numbers.
    unsafe {
        let mut moved: [c_int; 4] = [-1; 4];
        for (slot, source) in sources.iter().enumerate() {
            if let Some(fd) = source {
                moved[slot] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                if moved[slot] < 0 {
                    fail(p.error_write, Stage::Stdio);
                }
            }
        }
        for (target, fd) in (0..).zip(moved) {
            if fd >= 0 && libc::dup2(fd, target) < 0 {
                fail(p.error_write, Stage::Stdio);
            }
        }
        let first_other: u32 = if launch.extra.is_some() { 4 } else { 3 };
        if libc::syscall(
            libc::SYS_close_range,
            first_other,
            u32::MAX,
            CLOSE_RANGE_CLOEXEC,
        ) < 0
        {
            fail(p.error_write, Stage::Descriptors);
        }
    }
}

/// `execve`.
#[allow(unsafe_code)]
fn exec(p: &Prepared<'_>) -> ! {
    // SAFETY: `argv` and `envp` are null-terminated arrays of pointers to NUL-terminated
    // strings in `Launch`, all alive in this copy of the address space.
    unsafe {
        libc::execve(p.argv[0], p.argv.as_ptr(), p.envp.as_ptr());
    }
    fail(p.error_write, Stage::Exec)
}
