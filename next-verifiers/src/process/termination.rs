//! From what the kernel reported (and what this process did) to a [`Termination`].
//!
//! The rules, in order:
//!
//! 1. Killed by this sandbox at the wall-clock limit: [`Termination::TimedOut`].
//! 2. Killed by this sandbox for output (policy `kill`): `ResourceLimit { "output" }`.
//! 3. Ended by `SIGXCPU` (the CPU-time rlimit, set to the wall limit rounded up):
//!    `ResourceLimit { "cpu time" }`; by `SIGXFSZ`: `ResourceLimit { "file size" }`.
//! 4. Ended by another signal: [`Termination::Signaled`] (a segfault is signal 11).
//!    `SIGABRT` after CPython reported memory exhaustion is `ResourceLimit { "memory" }`.
//! 5. Exited with a non-zero status, and the last exception line of stderr is CPython's
//!    report of a limit (an uncaught exception): `MemoryError` (the address-space rlimit) is
//!    `"memory"`; `BlockingIOError: [Errno 11]` from `fork` or `can't start new thread`
//!    (the process rlimit) is `"processes"`; `[Errno 27] File too large` is
//!    `"file size"`; `[Errno 28] No space left on device` (the work directory's tmpfs
//!    is full) is `"disk space"`.
//! 6. Otherwise [`Termination::Exited`] with the status.
//!
//! Rule 5 reads text the job controls, so a job can print such a line and exit 1 to be
//! reported as having hit a limit; that only changes one kind of failure into another
//! (a job never gets `Exited { code: 0 }` this way).

use next_core::sandbox::Termination;

use super::child::RawStatus;

/// Why this sandbox killed a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillReason {
    /// The wall-clock limit.
    Timeout,
    /// The output limit, under the `kill` policy.
    Output,
}

/// Names of the limits, as [`Termination::ResourceLimit`] carries them.
pub mod resource {
    /// The address-space limit.
    pub const MEMORY: &str = "memory";
    /// The CPU-time limit.
    pub const CPU_TIME: &str = "cpu time";
    /// The file-size limit.
    pub const FILE_SIZE: &str = "file size";
    /// The process (and thread) limit.
    pub const PROCESSES: &str = "processes";
    /// The size of the work directory (its tmpfs is full).
    pub const DISK: &str = "disk space";
    /// The output limit, under the `kill` policy.
    pub const OUTPUT: &str = "output";
}

impl KillReason {
    /// How a job killed for this reason ended.
    pub(crate) fn termination(self) -> Termination {
        match self {
            KillReason::Timeout => Termination::TimedOut,
            KillReason::Output => limit(resource::OUTPUT),
        }
    }
}

/// The end of a job stopped by the limit on `resource`.
pub(crate) fn limit(resource: &str) -> Termination {
    Termination::ResourceLimit {
        resource: resource.to_owned(),
    }
}

/// Classifies a job's end; `stderr_tail` is the end of its stderr.
pub(crate) fn classify(
    status: RawStatus, killed: Option<KillReason>, stderr_tail: &[u8],
) -> Termination {
    if let Some(reason) = killed {
        return reason.termination();
    }
    match status {
        RawStatus::Signaled(signal) if signal == libc::SIGXCPU => limit(resource::CPU_TIME),
        RawStatus::Signaled(signal) if signal == libc::SIGXFSZ => limit(resource::FILE_SIZE),
        RawStatus::Signaled(signal)
            if signal == libc::SIGABRT && mentions_memory_exhaustion(stderr_tail) =>
        {
            limit(resource::MEMORY)
        }
        RawStatus::Signaled(signal) => Termination::Signaled { signal },
        RawStatus::Exited(code) if code != 0 => match limit_in_last_line(stderr_tail) {
            Some(resource) => limit(resource),
            None => Termination::Exited { code },
        },
        RawStatus::Exited(code) => Termination::Exited { code },
    }
}

/// The limit named by the last exception line of stderr (the last line that is not
/// blank, indented, or a traceback's heading: the processes of a fork bomb, killed
/// while writing, leave headings unfinished), if it is CPython's report of one.
pub(crate) fn limit_in_last_line(stderr_tail: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(stderr_tail);
    let last = text
        .lines()
        .rev()
        .find(|line| {
            !line.trim().is_empty()
                && !line.starts_with(char::is_whitespace)
                && !line.starts_with("Traceback (most recent call last)")
                && !line.starts_with("During handling of the above exception")
                && !line.starts_with("The above exception was the direct cause")
        })?
        .trim();
    if last == "MemoryError" || last.starts_with("MemoryError:") {
        Some(resource::MEMORY)
    } else if (last.starts_with("BlockingIOError: [Errno 11]")
        || last.starts_with("OSError: [Errno 11]"))
        || last.starts_with("RuntimeError: can't start new thread")
    {
        Some(resource::PROCESSES)
    } else if last.contains("[Errno 27] File too large") {
        Some(resource::FILE_SIZE)
    } else if last.contains("[Errno 28] No space left on device") {
        Some(resource::DISK)
    } else {
        None
    }
}

pub(crate) fn mentions_memory_exhaustion(stderr_tail: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr_tail);
    text.contains("MemoryError")
        || text.contains("Cannot allocate memory")
        || text.contains("out of memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(resource: &str) -> Termination {
        Termination::ResourceLimit {
            resource: resource.to_owned(),
        }
    }

    #[test]
    fn our_kills_come_first() {
        let status = RawStatus::Signaled(libc::SIGKILL);
        assert_eq!(
            classify(status, Some(KillReason::Timeout), b""),
            Termination::TimedOut
        );
        assert_eq!(
            classify(status, Some(KillReason::Output), b""),
            limit(resource::OUTPUT)
        );
    }

    #[test]
    fn signals() {
        assert_eq!(
            classify(RawStatus::Signaled(libc::SIGSEGV), None, b""),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(RawStatus::Signaled(libc::SIGXCPU), None, b""),
            limit(resource::CPU_TIME)
        );
        assert_eq!(
            classify(RawStatus::Signaled(libc::SIGXFSZ), None, b""),
            limit(resource::FILE_SIZE)
        );
    }

    #[test]
    fn python_reports_of_limits() {
        let trace =
            b"Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n";
        assert_eq!(
            classify(RawStatus::Exited(1), None, trace),
            limit(resource::MEMORY)
        );
        let fork = b"BlockingIOError: [Errno 11] Resource temporarily unavailable\nTraceback (most recent call last):\n  File \"main.py\", line 7, in <module>\n";
        assert_eq!(
            classify(RawStatus::Exited(1), None, fork),
            limit(resource::PROCESSES)
        );
        let recursion = b"RecursionError: maximum recursion depth exceeded\n";
        assert_eq!(
            classify(RawStatus::Exited(1), None, recursion),
            Termination::Exited { code: 1 }
        );
        // A clean exit is never turned into a limit.
        assert_eq!(
            classify(RawStatus::Exited(0), None, trace),
            Termination::Exited { code: 0 }
        );
    }
}
