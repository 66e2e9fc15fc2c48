//! Progress events of a run, for progress bars, logs and tests.
//!
//! The loop calls [`Observer::observe`] synchronously, in the order things happen, from
//! the task that drives the run. An observer should return quickly; it must not block on
//! the loop.

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::metrics::Counts;
pub use crate::run::{Phase, Stage};
use crate::run::{PhaseMetrics, Summary};
use crate::task::TaskId;

/// How a training is going, as a trainer reports it through
/// [`crate::train::TrainContext::report`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TrainUpdate {
    /// An optimizer step was taken.
    Step {
        /// Steps taken, from 1.
        step: u64,
        /// Steps the training will take.
        steps: u64,
        /// The mean loss per target token over the step's examples.
        loss: f64,
        /// The learning rate the step used.
        learning_rate: f64,
        /// Tokens (prompt and target) the step read.
        tokens: u64,
        /// Tokens per second over the step.
        tokens_per_sec: f64,
    },
    /// A status line: a hosted job was created, is queued, is running, ...
    Status {
        /// The line.
        message: String,
    },
}

/// One progress event.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A run starts, fresh or resumed.
    RunStarted {
        /// Training tasks.
        train_tasks: usize,
        /// Development tasks.
        dev_tasks: usize,
        /// Whether earlier records were found and are being reused.
        resumed: bool,
    },
    /// A phase starts.
    PhaseStarted {
        /// Which.
        phase: Phase,
        /// Tasks it covers.
        tasks: usize,
    },
    /// A task's prompt was built (or its tracing or rendering failed, which a
    /// [`Progress::RoleFailed`] reports first).
    TaskPrepared {
        /// The task.
        task: &'a TaskId,
    },
    /// Every task has its prompt or a recorded failure.
    Prepared {
        /// Tasks with a prompt.
        prompts: usize,
        /// Tasks whose tracing or rendering failed.
        failures: usize,
    },
    /// A sample line was appended.
    SampleRecorded {
        /// The phase.
        phase: Phase,
        /// Its task.
        task: &'a TaskId,
        /// Its index within the task.
        index: u32,
    },
    /// A verdict line was appended.
    VerdictRecorded {
        /// The phase.
        phase: Phase,
        /// Its task.
        task: &'a TaskId,
        /// The sample's index.
        index: u32,
        /// Whether every test passed.
        passed: bool,
    },
    /// A training example line was appended.
    ExampleRecorded {
        /// The phase.
        phase: Phase,
        /// Its task.
        task: &'a TaskId,
        /// The sample it came from.
        sample: u32,
    },
    /// A role failed (returned an error or panicked) on a task; recorded and counted.
    RoleFailed {
        /// The phase.
        phase: Phase,
        /// The task.
        task: &'a TaskId,
        /// The failing step.
        stage: Stage,
        /// The error, one line.
        message: &'a str,
    },
    /// A task's samples are all judged.
    TaskFinished {
        /// The phase.
        phase: Phase,
        /// The task.
        task: &'a TaskId,
        /// Samples drawn and passed.
        counts: Counts,
    },
    /// A trainer reported how its training goes.
    Training {
        /// The iteration being trained (0 outside the loop).
        iteration: u32,
        /// What it reported.
        update: &'a TrainUpdate,
    },
    /// Training produced (or, resumed, reloaded) a checkpoint.
    Trained {
        /// The iteration.
        iteration: u32,
        /// The new checkpoint.
        checkpoint: &'a Checkpoint,
        /// Examples it was trained on.
        examples: usize,
    },
    /// A phase ended; its metrics are written.
    PhaseFinished {
        /// The phase.
        phase: Phase,
        /// Its metrics.
        metrics: &'a PhaseMetrics,
    },
    /// The run ended.
    RunFinished {
        /// The result.
        summary: &'a Summary,
    },
}

/// Receives progress events.
pub trait Observer: Send + Sync {
    /// Called once per event, in order.
    fn observe(&self, event: &Progress<'_>);
}

impl<F: Fn(&Progress<'_>) + Send + Sync> Observer for F {
    fn observe(&self, event: &Progress<'_>) {
        self(event);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self, _event: &Progress<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_are_directory_names() {
        assert_eq!(Phase::Prepare.to_string(), "prepare");
        assert_eq!(Phase::Filter.to_string(), "filter");
        assert_eq!(Phase::Iteration(3).to_string(), "iter-3");
        assert_eq!(Phase::Eval(0).to_string(), "eval-0");
    }
}
