//! The `RationaleSampler` role: a model that writes rationales and fixes.
//!
//! A sampler turns a [`Prompt`] into `n` [`Sample`]s. Each sample keeps the raw answer
//! and what [`crate::prompt::parse_answer`] made of it: a rationale and a fixed program,
//! or a parse failure. Samplers build samples with [`Sample::from_raw`], so every backend
//! parses answers the same way.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::error::{BoxError, InvalidInput};
use crate::prompt::{self, Prompt};
pub use crate::prompt::{Answer, ParseFailure};
use crate::task::Program;

/// How to sample: temperature, nucleus, length, seed, stop sequences.
///
/// Invariant: `temperature >= 0`, `0 < top_p <= 1`, `max_tokens > 0`; checked by
/// [`SamplingParams::validate`], which the loop calls before a run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy.
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: f64,
    /// Most tokens to generate per sample.
    pub max_tokens: u32,
    /// Seed for backends that take one. The loop derives one per task and phase.
    pub seed: Option<u64>,
    /// Generation stops at any of these strings.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    /// Temperature 0.8 (the paper's), top-p 0.95, 1,024 tokens, no seed, no stop.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_p: 0.95,
            max_tokens: 1024,
            seed: None,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Checks the invariant.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the field out of range.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(InvalidInput::new(format!(
                "temperature must be a finite number >= 0, not {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(InvalidInput::new(format!(
                "top_p must be in (0, 1], not {}",
                self.top_p
            )));
        }
        if self.max_tokens == 0 {
            return Err(InvalidInput::new("max_tokens must be positive"));
        }
        Ok(())
    }
}

/// One sampled answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The model's text, as generated.
    pub raw: String,
    /// What it was parsed into.
    #[serde(flatten)]
    pub answer: Answer,
}

impl Sample {
    /// Parses a raw answer with [`prompt::parse_answer`].
    pub fn from_raw(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let answer = prompt::parse_answer(&raw);
        Self { raw, answer }
    }

    /// The fixed program, if the answer has one.
    pub fn fix(&self) -> Option<&Program> {
        match &self.answer {
            Answer::Fix { program, .. } => Some(program),
            Answer::Unparseable { .. } => None,
        }
    }

    /// The rationale, if the answer has a fix.
    pub fn rationale(&self) -> Option<&str> {
        match &self.answer {
            Answer::Fix { rationale, .. } => Some(rationale),
            Answer::Unparseable { .. } => None,
        }
    }
}

/// Why a sampler returned no samples.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The request was refused as invalid (a 4xx answer, a prompt too long for the model).
    #[error("the model refused the request: {0}")]
    Rejected(String),
    /// The backend could not be reached or failed after its retries.
    #[error("the model backend is unavailable: {0}")]
    Unavailable(String),
    /// The checkpoint does not belong to this backend or cannot be loaded.
    #[error("cannot use checkpoint {name}: {reason}")]
    Checkpoint {
        /// The checkpoint's name.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Any other failure.
    #[error("sampler failed")]
    Backend(#[source] BoxError),
}

/// A model that answers a repair prompt with a rationale and a fix, `n` times.
#[async_trait]
pub trait RationaleSampler: Send + Sync {
    /// Draws `n` samples from `model` for `prompt`. Returns at most `n` samples; fewer
    /// means the backend dropped some (a blocked candidate, say), and the missing ones
    /// count as failures.
    ///
    /// # Errors
    /// [`SampleError`] when no sample could be drawn.
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError>;
}

crate::forward::forward_role! {
    RationaleSampler {
        async fn sample(
            &self,
            model: &Checkpoint,
            prompt: &Prompt,
            n: usize,
            params: &SamplingParams,
        ) -> Result<Vec<Sample>, SampleError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_validated() {
        assert!(SamplingParams::default().validate().is_ok());
        let bad = SamplingParams {
            top_p: 0.0,
            ..SamplingParams::default()
        };
        assert!(bad.validate().is_err());
        let bad = SamplingParams {
            temperature: f64::NAN,
            ..SamplingParams::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn sample_json_is_flat() {
        let sample = Sample::from_raw("no code here");
        let json = serde_json::to_string(&sample).unwrap();
        assert_eq!(
            json,
            r#"{"raw":"no code here","answer":"unparseable","reason":"no_code_block"}"#
        );
        assert_eq!(serde_json::from_str::<Sample>(&json).unwrap(), sample);
    }
}
