//! The `Trainer` role: fine-tune a model on the rationales that fixed their task.
//!
//! A [`Checkpoint`] names what a sampler needs to use a model (the base model, an
//! adapter on disk, a hosted tuned-model id); a [`TrainExample`] is one kept sample in
//! the exact chat form the sampler saw, with the answer as the target.
//!
//! A trainer is handed a [`TrainContext`]: the fresh directory its checkpoint goes to,
//! a state directory that survives a killed run (where a hosted trainer notes the job it
//! started, so that a resumed run finds it again), and the loop's observer, to which it
//! reports [`TrainUpdate`]s. A training is stopped by dropping its future: a trainer
//! that works on another thread must notice that and stop at its next step.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use crate::checkpoint::Checkpoint;
use crate::error::BoxError;
pub use crate::observe::TrainUpdate;
use crate::observe::{NoObserver, Observer, Progress};
use crate::prompt::Prompt;
use crate::task::TaskId;

/// One training example: the prompt of a task and a sampled answer whose fix passed
/// every test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainExample {
    /// The task it came from.
    pub task: TaskId,
    /// The index of the sample it came from, within its task and iteration.
    pub sample: u32,
    /// The prompt, exactly as the sampler received it.
    pub prompt: Prompt,
    /// The target answer: the rationale and the fix, formatted by
    /// [`crate::prompt::format_answer`].
    pub completion: String,
}

/// Why training produced no checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The checkpoint to start from cannot be used by this trainer.
    #[error("cannot train from checkpoint {name}: {reason}")]
    Checkpoint {
        /// The checkpoint's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Writing or reading training files failed.
    #[error("training I/O failed while {context}")]
    Io {
        /// What the trainer was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The training is to happen elsewhere (the examples were exported for another
    /// trainer): the run stops here, and continues once it is given the model that was
    /// trained (`next resume DIR --checkpoint iter-N=MODEL`).
    #[error("training is to be done outside this run:\n{instructions}")]
    Deferred {
        /// What was written where, and how to train on it and go on.
        instructions: String,
    },
    /// The training job ended without a model (a hosted job that failed or was
    /// cancelled), for the reason the backend gave.
    #[error("the training job {job} ended {status}: {reason}")]
    Job {
        /// The backend's id of the job.
        job: String,
        /// How it ended (`failed`, `cancelled`, ...).
        status: String,
        /// The backend's reason.
        reason: String,
    },
    /// Any other failure.
    #[error("trainer failed")]
    Backend(#[source] BoxError),
}

/// What a trainer is handed beside its examples: where to write, where to keep state
/// across a resume, and whom to tell how it goes.
///
/// Invariant: `out` is the directory the checkpoint goes to; `state`, when set, is a
/// directory that outlives a killed training.
#[derive(Clone, Copy)]
pub struct TrainContext<'a> {
    out: &'a Path,
    state: Option<&'a Path>,
    iteration: u32,
    observer: &'a dyn Observer,
}

impl std::fmt::Debug for TrainContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainContext")
            .field("out", &self.out)
            .field("state", &self.state)
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl<'a> TrainContext<'a> {
    /// A context that writes to `out`, keeps no state and reports to no one: for a
    /// training outside the loop (a benchmark, a test, a script).
    pub fn new(out: &'a Path) -> Self {
        Self {
            out,
            state: None,
            iteration: 0,
            observer: &NoObserver,
        }
    }

    /// The context the loop hands a trainer for `iteration`.
    #[must_use]
    pub fn for_iteration(
        out: &'a Path, state: &'a Path, iteration: u32, observer: &'a dyn Observer,
    ) -> Self {
        Self {
            out,
            state: Some(state),
            iteration,
            observer,
        }
    }

    /// The same context, reporting to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: &'a dyn Observer) -> Self {
        self.observer = observer;
        self
    }

    /// The same context, keeping state in `state`.
    #[must_use]
    pub fn with_state(mut self, state: &'a Path) -> Self {
        self.state = Some(state);
        self
    }

    /// The directory the checkpoint goes to: empty when the training starts.
    pub fn out(&self) -> &'a Path {
        self.out
    }

    /// A directory that outlives a killed training of the same iteration (in the
    /// loop, `iter-N/train-state`), or `None` outside the loop.
    pub fn state(&self) -> Option<&'a Path> {
        self.state
    }

    /// The state directory, or `out` when there is none.
    pub fn state_or_out(&self) -> PathBuf {
        self.state.unwrap_or(self.out).to_owned()
    }

    /// The iteration being trained (0 outside the loop).
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// Tells the observer how the training goes.
    pub fn report(&self, update: &TrainUpdate) {
        self.observer.observe(&Progress::Training {
            iteration: self.iteration,
            update,
        });
    }
}

/// Fine-tunes a model on examples and returns the new checkpoint.
#[async_trait]
pub trait Trainer: Send + Sync {
    /// Trains from `base` on `examples`, writing whatever the checkpoint needs under
    /// `cx.out()` (an empty directory that the loop created for this training) and
    /// reporting through `cx`.
    ///
    /// # Errors
    /// [`TrainError`] when no checkpoint could be made; [`TrainError::Deferred`] when
    /// the training is to happen elsewhere.
    async fn train(
        &self, base: &Checkpoint, examples: &[TrainExample], cx: &TrainContext<'_>,
    ) -> Result<Checkpoint, TrainError>;
}

crate::forward::forward_role! {
    Trainer {
        async fn train(
            &self,
            base: &Checkpoint,
            examples: &[TrainExample],
            cx: &TrainContext<'_>,
        ) -> Result<Checkpoint, TrainError>;
    }
}
