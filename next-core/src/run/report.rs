//! Metrics of a phase and the summary of a run, as written to `metrics.json` and
//! `summary.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;

/// Role failures counted in a phase: tasks (or, for verification, samples) on which a
/// role returned an error or panicked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCounts {
    /// Tasks whose tracing failed (they get no prompt and count as unsolved).
    pub trace: usize,
    /// Tasks whose rendering failed (likewise).
    pub render: usize,
    /// Tasks whose sampling failed or returned fewer samples than asked.
    pub sample: usize,
    /// Samples whose verification failed (they count as failing).
    pub verify: usize,
}

/// What a phase measured. Every count is over the phase's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMetrics {
    /// The phase (`filter`, `iter-1`, `eval-0`, ...).
    pub phase: String,
    /// The checkpoint sampled.
    pub checkpoint: String,
    /// Tasks.
    pub tasks: usize,
    /// Samples asked for: tasks times samples per task.
    pub samples_requested: usize,
    /// Samples recorded.
    pub samples: usize,
    /// Samples whose answer held no fix.
    pub unparseable: usize,
    /// Samples whose fix passed every test.
    pub passed: usize,
    /// Tasks with at least one passing sample.
    pub tasks_solved: usize,
    /// Mean unbiased pass@k over tasks, by `"pass@k"`.
    pub pass_at_k: BTreeMap<String, f64>,
    /// Role failures.
    pub failures: FailureCounts,
    /// Training examples kept (iterations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_examples: Option<usize>,
    /// Hard tasks found (the filter phase only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_tasks: Option<usize>,
}

impl PhaseMetrics {
    /// The mean pass@k, if it was computed.
    pub fn pass_at(&self, k: usize) -> Option<f64> {
        self.pass_at_k.get(&format!("pass@{k}")).copied()
    }
}

/// One iteration of the loop: what it trained on and how the result did on dev.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// The iteration, from 1.
    pub iteration: u32,
    /// Sampling on the hard tasks.
    pub train: PhaseMetrics,
    /// The checkpoint it produced.
    pub checkpoint: Checkpoint,
    /// Whether the trainer ran (it does not when no example passed).
    pub trained: bool,
    /// The checkpoint on the development tasks.
    pub eval: PhaseMetrics,
}

/// The chosen checkpoint: the best on the development tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// The iteration that produced it; 0 is the base model.
    pub iteration: u32,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The selection metric, `pass@k`.
    pub metric: String,
    /// Its value on the development tasks.
    pub value: f64,
}

/// The result of a run, as written to `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The base model on the development tasks.
    pub base_eval: PhaseMetrics,
    /// The hard-task filter, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<PhaseMetrics>,
    /// Training tasks kept as hard.
    pub hard_tasks: usize,
    /// The iterations, in order.
    pub iterations: Vec<IterationReport>,
    /// The chosen checkpoint.
    pub best: Best,
}
