//! Errors shared by every role: invalid input and the error chain as one line of text.
//!
//! Each role has its own error enum next to its trait ([`SandboxError`](crate::sandbox::SandboxError),
//! [`TraceError`](crate::trace::TraceError), ...); the loop and the run store have
//! [`RunError`](crate::run::RunError). This module holds what they share.

use std::error::Error as StdError;
use std::fmt::Write as _;

/// A value that breaks a type's invariant: an empty task id, a task without tests, a
/// malformed configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {message}")]
pub struct InvalidInput {
    message: String,
}

impl InvalidInput {
    /// Makes the error from what was wrong.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A boxed error from a backend (an HTTP client, a process, a model library), carried
/// inside the role error enums.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A message on one line: its lines trimmed, the blank ones left out, joined by spaces.
/// For parsers' messages that put a detail on a line of its own (`toml`'s `Display`
/// adds the key path so: ``in `skill` ``).
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders an error and all its sources as one line, `outer: inner: innermost`, the
/// form in which the loop records role failures.
pub fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        // thiserror's `#[error("...: {0}")]` often repeats the source; skip exact repeats.
        if !text.ends_with(&inner_text) {
            let _ = write!(text, ": {inner_text}");
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_joins_sources() {
        let err = Outer(std::io::Error::other("disk full"));
        assert_eq!(chain(&err), "outer: disk full");
    }
}
