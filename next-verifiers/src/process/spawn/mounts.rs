//! The child's mount steps: private propagation and clones first, then the fresh root
//! (or the exposed trees), `/proc` and the work directory's tmpfs.

use std::ffi::{c_char, c_int, c_void, CStr};

use crate::process::jail::{Mounts, NewRoot, Stage, MAX_EXPOSED_TREES, MAX_ROOT_BINDS};

use super::raw::{errno, fail, set_errno, Prepared, PATH_BUFFER};

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

/// The flags of every `/proc` the child mounts.
const PROC_FLAGS: libc::c_ulong =
    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY;

/// Private propagation; a detached clone of each exposed tree (into `trees`, in
/// order); a tmpfs over each directory that covers them.
#[allow(unsafe_code)]
pub(super) fn mount_first(
    p: &Prepared<'_>, mounts: &Mounts, trees: &mut [c_int; MAX_EXPOSED_TREES],
) {
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
pub(super) fn mount_second(p: &Prepared<'_>, mounts: &Mounts, trees: &[c_int; MAX_EXPOSED_TREES]) {
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
pub(super) fn clone_root_binds(
    p: &Prepared<'_>, root: &NewRoot, fds: &mut [c_int; MAX_ROOT_BINDS],
) {
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
pub(super) fn enter_new_root(
    p: &Prepared<'_>, root: &NewRoot, proc: bool, fds: &[c_int; MAX_ROOT_BINDS],
) {
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
pub(super) fn mount_workdir(p: &Prepared<'_>) {
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
