//! What every step of the child uses: the data prepared before the clone
//! ([`Prepared`]), the failure report ([`fail`]) and `errno`.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::RawFd;

use crate::process::jail::{Jail, Launch, Stage};

/// The longest path (with its NUL) the child copies onto its stack.
pub(super) const PATH_BUFFER: usize = 4096;
/// What the child walks through: pointers into the [`Jail`] and [`Launch`], made before
/// the clone.
pub(super) struct Prepared<'a> {
    pub(super) jail: &'a Jail,
    pub(super) launch: &'a Launch,
    pub(super) argv: Vec<*const c_char>,
    pub(super) envp: Vec<*const c_char>,
    pub(super) sync_read: RawFd,
    pub(super) sync_write: RawFd,
    pub(super) error_read: RawFd,
    pub(super) error_write: RawFd,
}

/// Reports `stage` and the current `errno` to the parent and exits 127.
#[allow(unsafe_code)]
pub(super) fn fail(error_write: RawFd, stage: Stage) -> ! {
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

/// Closes a descriptor this copy of the process does not use.
#[allow(unsafe_code)]
pub(super) fn close_fd(fd: RawFd) {
    // SAFETY: `close` on a descriptor number; at worst it fails.
    unsafe {
        libc::close(fd);
    }
}

/// The calling thread's `errno`.
#[allow(unsafe_code)]
pub(super) fn errno() -> c_int {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno` (to report a failure that set none).
#[allow(unsafe_code)]
pub(super) fn set_errno(value: c_int) {
    // SAFETY: as in `errno`.
    unsafe {
        *libc::__errno_location() = value;
    }
}
