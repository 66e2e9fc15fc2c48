//! From how the guest's `_start` ended to a [`Termination`] (the table is in the
//! [module documentation](super)).

use next_core::sandbox::Termination;
use wasmtime::Trap;

use crate::process::resource;

/// Why the host stopped a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The wall-time limit.
    Timeout,
    /// The output limit, under the `kill` policy.
    Output,
    /// The work directory's size or entry limit.
    Disk,
    /// The caller dropped the job's future: nobody reads the result.
    Cancelled,
}

/// How the guest's `_start` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// It returned (CPython's `main` returned 0 without calling `exit`).
    Returned,
    /// It called `proc_exit` with this status.
    Exit(i32),
    /// The host stopped it.
    Stopped(Stop),
    /// It trapped.
    Trap(Trap),
    /// The host failed one of its calls (or could not instantiate it) with this error.
    Host(String),
}

/// Signal numbers reported for traps, as the native crash would be.
const SIGABRT: i32 = 6;
const SIGFPE: i32 = 8;
const SIGSEGV: i32 = 11;

/// Classifies an end that is not [`Stop::Cancelled`] (that one has nobody to report to;
/// it is treated as a timeout). `memory_refused` says whether the memory limit refused
/// a `memory.grow`; `stderr_tail` is the end of stderr.
pub(crate) fn classify(end: &End, memory_refused: bool, stderr_tail: &[u8]) -> Termination {
    let limit = |name: &str| Termination::ResourceLimit {
        resource: name.to_owned(),
    };
    match end {
        End::Returned | End::Exit(0) => Termination::Exited { code: 0 },
        End::Stopped(Stop::Timeout | Stop::Cancelled) => Termination::TimedOut,
        End::Stopped(Stop::Output) => limit(resource::OUTPUT),
        End::Stopped(Stop::Disk) => limit(resource::DISK),
        _ if memory_refused || ends_with_memory_error(stderr_tail) => limit(resource::MEMORY),
        End::Exit(code) => Termination::Exited { code: *code },
        End::Trap(trap) => Termination::Signaled {
            signal: raised_signal(*trap, stderr_tail).unwrap_or_else(|| trap_signal(*trap)),
        },
        End::Host(_) => Termination::Signaled { signal: SIGABRT },
    }
}

/// The signal a native process would have died of for `trap`.
pub(crate) fn trap_signal(trap: Trap) -> i32 {
    match trap {
        Trap::StackOverflow
        | Trap::MemoryOutOfBounds
        | Trap::HeapMisaligned
        | Trap::TableOutOfBounds
        | Trap::IndirectCallToNull
        | Trap::BadSignature
        | Trap::NullReference
        | Trap::ArrayOutOfBounds => SIGSEGV,
        Trap::IntegerOverflow | Trap::IntegerDivisionByZero | Trap::BadConversionToInteger => {
            SIGFPE
        }
        // `unreachable` is how wasi-libc's `abort()` ends; anything else is a crash too.
        _ => SIGABRT,
    }
}

/// The signal the guest raised itself: wasi-libc's `raise` (what `faulthandler` and
/// `signal.raise_signal` call) prints `Program received fatal signal: NAME` and
/// aborts, which traps as `unreachable`.
fn raised_signal(trap: Trap, stderr_tail: &[u8]) -> Option<i32> {
    if trap != Trap::UnreachableCodeReached {
        return None;
    }
    let text = String::from_utf8_lossy(stderr_tail);
    let name = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("Program received fatal signal: "))?;
    let signal = match name.trim() {
        "Hangup" => 1,
        "Interrupt" => 2,
        "Quit" => 3,
        "Illegal instruction" => 4,
        "Trace/breakpoint trap" => 5,
        "Aborted" => 6,
        "Bus error" => 7,
        "Floating point exception" => 8,
        "Killed" => 9,
        "Segmentation fault" => 11,
        "Terminated" => 15,
        _ => return None,
    };
    Some(signal)
}

/// Whether the last exception line of stderr is CPython's `MemoryError` (the limit
/// refused an allocation it asked for in one piece, without growing memory).
fn ends_with_memory_error(stderr_tail: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr_tail);
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !line.starts_with(char::is_whitespace))
        .is_some_and(|last| {
            let last = last.trim();
            last == "MemoryError" || last.starts_with("MemoryError:")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(name: &str) -> Termination {
        Termination::ResourceLimit {
            resource: name.to_owned(),
        }
    }

    #[test]
    fn exits_and_stops() {
        assert_eq!(
            classify(&End::Returned, false, b""),
            Termination::Exited { code: 0 }
        );
        assert_eq!(
            classify(&End::Exit(3), false, b""),
            Termination::Exited { code: 3 }
        );
        assert_eq!(
            classify(&End::Stopped(Stop::Timeout), true, b""),
            Termination::TimedOut
        );
        assert_eq!(
            classify(&End::Stopped(Stop::Disk), false, b""),
            limit(resource::DISK)
        );
        assert_eq!(
            classify(&End::Stopped(Stop::Output), false, b""),
            limit(resource::OUTPUT)
        );
    }

    #[test]
    fn memory_is_named_from_the_limiter_or_the_last_line() {
        assert_eq!(classify(&End::Exit(1), true, b""), limit(resource::MEMORY));
        let trace =
            b"Traceback (most recent call last):\n  File \"/main.py\", line 1\nMemoryError\n";
        assert_eq!(
            classify(&End::Exit(1), false, trace),
            limit(resource::MEMORY)
        );
        assert_eq!(
            classify(&End::Trap(Trap::UnreachableCodeReached), true, b""),
            limit(resource::MEMORY)
        );
        // A clean exit stays one, whatever the job printed.
        assert_eq!(
            classify(&End::Exit(0), true, trace),
            Termination::Exited { code: 0 }
        );
        assert_eq!(
            classify(
                &End::Exit(1),
                false,
                b"RecursionError: maximum recursion depth\n"
            ),
            Termination::Exited { code: 1 }
        );
    }

    #[test]
    fn traps_are_the_signals_of_the_native_crash() {
        assert_eq!(
            classify(&End::Trap(Trap::StackOverflow), false, b""),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(&End::Trap(Trap::MemoryOutOfBounds), false, b""),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(&End::Trap(Trap::UnreachableCodeReached), false, b""),
            Termination::Signaled { signal: 6 }
        );
        assert_eq!(
            classify(&End::Trap(Trap::IntegerDivisionByZero), false, b""),
            Termination::Signaled { signal: 8 }
        );
        let raised = b"Program received fatal signal: Segmentation fault\n\nwasm trap: ...\n";
        assert_eq!(
            classify(&End::Trap(Trap::UnreachableCodeReached), false, raised),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(&End::Trap(Trap::MemoryOutOfBounds), false, raised),
            Termination::Signaled { signal: 11 }
        );
        assert_eq!(
            classify(&End::Host("boom".to_owned()), false, b""),
            Termination::Signaled { signal: 6 }
        );
    }
}
