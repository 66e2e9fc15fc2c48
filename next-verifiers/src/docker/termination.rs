//! From what the engine reported (and what this sandbox did) to a [`Termination`].
//!
//! The engine reports a container's end as an exit code, `128 + n` when its main
//! process died of signal `n`, and whether the kernel's OOM killer struck in its
//! memory cgroup. The rules, in order:
//!
//! 1. Killed by this sandbox at the wall-clock limit: [`Termination::TimedOut`].
//! 2. Killed by this sandbox for output (policy `kill`): `ResourceLimit { "output" }`.
//! 3. The engine says the OOM killer struck: `ResourceLimit { "memory" }`.
//! 4. Exit code `128 + n` for a signal `n` (1 to 64): `SIGXFSZ` is
//!    `ResourceLimit { "file size" }`, `SIGXCPU` is `"cpu time"`, `SIGABRT` after
//!    CPython reported memory exhaustion is `"memory"`; any other is
//!    [`Termination::Signaled`].
//! 5. Another non-zero code whose last exception line on stderr is CPython's report of a
//!    limit: as the process sandbox reads it (`"processes"`, `"memory"`, `"file size"`,
//!    `"disk space"`).
//! 6. Otherwise [`Termination::Exited`].
//!
//! Rule 4 cannot tell `sys.exit(139)` from a segfault (the engine reports both as 139),
//! and rule 5 reads text the job controls: either way a job can only turn one failure
//! into another, never into `Exited { code: 0 }`.

use next_core::sandbox::Termination;

use crate::process::resource;
/// Why this sandbox ended a job itself: the reasons of the process sandbox.
pub(crate) use crate::process::termination::KillReason;
use crate::process::termination::{limit, limit_in_last_line, mentions_memory_exhaustion};

/// How the engine saw the container end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EngineEnd {
    /// The container's exit code.
    pub exit_code: i64,
    /// Whether the OOM killer struck in the container's memory cgroup.
    pub oom_killed: bool,
}

/// Classifies a job's end; `stderr_tail` is the end of its stderr.
pub(crate) fn classify(
    end: EngineEnd, killed: Option<KillReason>, stderr_tail: &[u8],
) -> Termination {
    if let Some(reason) = killed {
        return reason.termination();
    }
    if end.oom_killed {
        return limit(resource::MEMORY);
    }
    let code = i32::try_from(end.exit_code).unwrap_or(i32::MAX);
    match code {
        0 => Termination::Exited { code },
        129..=192 => match code - 128 {
            signal if signal == libc::SIGXFSZ => limit(resource::FILE_SIZE),
            signal if signal == libc::SIGXCPU => limit(resource::CPU_TIME),
            signal if signal == libc::SIGABRT && mentions_memory_exhaustion(stderr_tail) => {
                limit(resource::MEMORY)
            }
            signal => Termination::Signaled { signal },
        },
        _ => match limit_in_last_line(stderr_tail) {
            Some(resource) => limit(resource),
            None => Termination::Exited { code },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(exit_code: i64) -> EngineEnd {
        EngineEnd {
            exit_code,
            oom_killed: false,
        }
    }

    fn limit(name: &str) -> Termination {
        Termination::ResourceLimit {
            resource: name.to_owned(),
        }
    }

    #[test]
    fn our_kills_then_the_oom_killer_come_first() {
        assert_eq!(
            classify(end(137), Some(KillReason::Timeout), b""),
            Termination::TimedOut
        );
        assert_eq!(
            classify(end(137), Some(KillReason::Output), b""),
            limit(resource::OUTPUT)
        );
        let oom = EngineEnd {
            exit_code: 137,
            oom_killed: true,
        };
        assert_eq!(classify(oom, None, b""), limit(resource::MEMORY));
    }

    #[test]
    fn codes_above_128_are_signals() {
        assert_eq!(
            classify(end(139), None, b""),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(end(137), None, b""),
            Termination::Signaled { signal: 9 }
        );
        assert_eq!(
            classify(end(128 + i64::from(libc::SIGXFSZ)), None, b""),
            limit(resource::FILE_SIZE)
        );
        assert_eq!(
            classify(end(128 + i64::from(libc::SIGXCPU)), None, b""),
            limit(resource::CPU_TIME)
        );
        assert_eq!(
            classify(end(255), None, b""),
            Termination::Exited { code: 255 }
        );
    }

    #[test]
    fn python_reports_of_limits_and_clean_exits() {
        let fork = b"BlockingIOError: [Errno 11] Resource temporarily unavailable\n";
        assert_eq!(classify(end(1), None, fork), limit(resource::PROCESSES));
        assert_eq!(
            classify(end(0), None, fork),
            Termination::Exited { code: 0 }
        );
        assert_eq!(
            classify(
                end(1),
                None,
                b"RecursionError: maximum recursion depth exceeded\n"
            ),
            Termination::Exited { code: 1 }
        );
    }
}
