//! The lines of a run's JSON Lines files.

use serde::{Deserialize, Serialize};

use crate::prompt::Prompt;
use crate::repair::Stage;
use crate::sample::Sample;
use crate::task::TaskId;
use crate::verify::Verdict;

/// A line of `prepare/prompts.jsonl`: the prompt built for a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptRecord {
    /// The task.
    pub task: TaskId,
    /// Its prompt, trace included.
    pub prompt: Prompt,
}

/// A line of `samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// The task.
    pub task: TaskId,
    /// The sample's index within its task and phase.
    pub index: u32,
    /// The sample.
    pub sample: Sample,
}

/// A line of `verdicts.jsonl`: the judgement of one sample's fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The task.
    pub task: TaskId,
    /// The sample's index.
    pub index: u32,
    /// The verdict.
    pub verdict: Verdict,
}

/// A line of `failures.jsonl`: a role that failed on a task (an error or a panic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The task.
    pub task: TaskId,
    /// The failing step.
    pub stage: Stage,
    /// The sample concerned, for verification failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The error, one line.
    pub message: String,
}
