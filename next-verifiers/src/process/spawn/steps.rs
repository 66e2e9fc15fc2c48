//! The child after `clone3`, step by step ([`child_main`]): the wait for the parent,
//! the session and signals, the ids, the mounts, the work directory, the limits, the
//! descriptors and `execve`.

use std::ffi::{c_int, c_void};
use std::os::fd::{AsRawFd, RawFd};

use crate::process::jail::{Identity, Stage, MAX_EXPOSED_TREES, MAX_ROOT_BINDS, SOURCE_NAME};

use super::mounts::{clone_root_binds, enter_new_root, mount_first, mount_second, mount_workdir};
use super::raw::{close_fd, errno, fail, set_errno, Prepared};

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
pub(super) fn child_main(p: &Prepared<'_>) -> ! {
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

const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;

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
