//! [`Phase`]: the phases of a run, each with its directory.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phase of a run. Each has its own directory in the run directory, named by
/// [`Phase`]'s `Display`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Tracing and rendering every task into its prompt (`prepare`).
    Prepare,
    /// Sampling the base model on the training tasks to find the hard ones (`filter`).
    Filter,
    /// Iteration `i` (from 1): sampling `P_{i-1}` on the hard tasks, keeping the
    /// passing samples, training `P_i` (`iter-i`).
    Iteration(u32),
    /// Evaluating checkpoint `P_i` on the development tasks; `eval-0` is the base model.
    Eval(u32),
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Prepare => f.write_str("prepare"),
            Phase::Filter => f.write_str("filter"),
            Phase::Iteration(i) => write!(f, "iter-{i}"),
            Phase::Eval(i) => write!(f, "eval-{i}"),
        }
    }
}
