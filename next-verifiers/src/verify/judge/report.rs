//! How the judge words what it found: the longest repr a message quotes, a test's source
//! cut short for quoting, and the outcome for an exception the candidate raised.

use next_core::verify::TestOutcome;

/// How long a repr in a message may be.
pub(crate) const REPR_LIMIT: usize = 200;

/// The outcome for a candidate-side exception.
pub(crate) fn raised(message: &str, kind: &str) -> TestOutcome {
    match kind {
        "MemoryError" => TestOutcome::ResourceLimit {
            message: format!("memory: {message}"),
        },
        "BlockingIOError" if message.contains("Errno 11") => TestOutcome::ResourceLimit {
            message: format!("processes: {message}"),
        },
        _ => TestOutcome::Error {
            message: message.to_owned(),
        },
    }
}

pub(crate) fn short(src: &str) -> String {
    if src.chars().count() <= 120 {
        src.to_owned()
    } else {
        let cut: String = src.chars().take(117).collect();
        format!("{cut}...")
    }
}
