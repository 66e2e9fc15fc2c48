//! The loop's configuration (`[loop]` in a run's TOML file, `config.json` in its
//! directory).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;
use crate::sample::SamplingParams;

/// The hard-task filter: `D_H = { d in D : pass@k(P0, d) < threshold }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HardFilter {
    /// Whether to filter at all; when off, every training task is used.
    pub enabled: bool,
    /// Samples of the base model per task to estimate the metric (paper: 32).
    pub samples_per_task: usize,
    /// The `k` of pass@k (paper: 1).
    pub k: usize,
    /// Tasks whose estimate is below this are hard (paper: 0.1).
    pub threshold: f64,
}

impl Default for HardFilter {
    fn default() -> Self {
        Self {
            enabled: true,
            samples_per_task: 32,
            k: 1,
            threshold: 0.1,
        }
    }
}

/// Evaluation on the development tasks after each iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Evaluation {
    /// Samples per task.
    pub samples_per_task: usize,
    /// The pass@k reported (each at most `samples_per_task`).
    pub ks: Vec<usize>,
    /// The `k` whose mean pass@k chooses the best checkpoint (one of `ks`).
    pub select_k: usize,
}

impl Default for Evaluation {
    /// 25 samples, pass@1/5/10/25 (the paper's table), chosen on pass@1.
    fn default() -> Self {
        Self {
            samples_per_task: 25,
            ks: vec![1, 5, 10, 25],
            select_k: 1,
        }
    }
}

/// Which checkpoint each iteration trains from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainFrom {
    /// The base model `P0` every iteration (the paper, ReST-EM style).
    #[default]
    Base,
    /// The previous iteration's checkpoint (continued training).
    Previous,
}

/// How much runs at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Concurrency {
    /// Tasks in flight in a phase (sampling of one overlaps verification of another).
    pub tasks: usize,
    /// Sampler calls at once.
    pub samplers: usize,
    /// Verifications at once.
    pub verifiers: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            tasks: 8,
            samplers: 4,
            verifiers: 4,
        }
    }
}

/// The configuration of [`SelfTraining`](super::SelfTraining): Algorithm 1 of
/// `self-training.md` and this project's choices.
///
/// Invariant (checked by [`LoopConfig::validate`], which the loop calls): every count
/// is positive, every `k` is at most the samples it is estimated from, the threshold is
/// in `[0, 1]`, and the sampling parameters are valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopConfig {
    /// Iterations `I`.
    pub iterations: u32,
    /// Samples per hard task per iteration (paper: 32).
    pub samples_per_task: usize,
    /// Most distinct passing samples kept per task and iteration (default 4).
    pub max_rationales_per_task: usize,
    /// The hard-task filter.
    pub hard_filter: HardFilter,
    /// Evaluation on the development tasks.
    pub eval: Evaluation,
    /// Which checkpoint each iteration trains from.
    pub train_from: TrainFrom,
    /// Whether an iteration trains on the examples of every iteration so far instead of
    /// its own alone.
    pub accumulate: bool,
    /// Sampling parameters; the seed is derived per task and phase from `seed`.
    pub sampling: SamplingParams,
    /// Concurrency bounds.
    pub concurrency: Concurrency,
    /// The run's seed.
    pub seed: u64,
    /// How many few-shot exemplars lead the prompts the base model is sampled with
    /// (the paper samples and evaluates base models 3-shot); 0 for none. The library's
    /// default is 0, so that a loop built in code sees only the prompts it is given;
    /// the `next` command's is 3.
    pub shots: usize,
    /// A TOML file of exemplars of one's own
    /// ([`Exemplars::load`](crate::prompt::shots::Exemplars::load)); default: the
    /// shipped ones.
    pub shots_file: Option<PathBuf>,
    /// Whether tuned checkpoints are shown the shots too (the paper evaluates the
    /// NExT-tuned model zero-shot: off).
    pub shots_for_tuned: bool,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            iterations: 3,
            samples_per_task: 32,
            max_rationales_per_task: 4,
            hard_filter: HardFilter::default(),
            eval: Evaluation::default(),
            train_from: TrainFrom::Base,
            accumulate: false,
            sampling: SamplingParams::default(),
            concurrency: Concurrency::default(),
            seed: 0,
            shots: 0,
            shots_file: None,
            shots_for_tuned: false,
        }
    }
}

impl LoopConfig {
    /// Checks the invariant.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let positive = [
            ("samples_per_task", self.samples_per_task),
            ("max_rationales_per_task", self.max_rationales_per_task),
            (
                "hard_filter.samples_per_task",
                self.hard_filter.samples_per_task,
            ),
            ("eval.samples_per_task", self.eval.samples_per_task),
            ("concurrency.tasks", self.concurrency.tasks),
            ("concurrency.samplers", self.concurrency.samplers),
            ("concurrency.verifiers", self.concurrency.verifiers),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(InvalidInput::new(format!("{name} must be positive")));
            }
        }
        let filter = &self.hard_filter;
        if filter.k == 0 || filter.k > filter.samples_per_task {
            return Err(InvalidInput::new(format!(
                "hard_filter.k = {} must be in 1..={}",
                filter.k, filter.samples_per_task
            )));
        }
        if !(0.0..=1.0).contains(&filter.threshold) {
            return Err(InvalidInput::new(format!(
                "hard_filter.threshold = {} must be in [0, 1]",
                filter.threshold
            )));
        }
        let eval = &self.eval;
        for &k in &eval.ks {
            if k == 0 || k > eval.samples_per_task {
                return Err(InvalidInput::new(format!(
                    "eval.ks holds {k}, which must be in 1..={}",
                    eval.samples_per_task
                )));
            }
        }
        if !eval.ks.contains(&eval.select_k) {
            return Err(InvalidInput::new(format!(
                "eval.select_k = {} must be one of eval.ks = {:?}",
                eval.select_k, eval.ks
            )));
        }
        self.sampling.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_mistakes_are_named() {
        assert!(LoopConfig::default().validate().is_ok());
        let mut config = LoopConfig::default();
        config.eval.select_k = 3;
        let err = config.validate().unwrap_err();
        assert!(err.message().contains("select_k"), "{err}");
        let mut config = LoopConfig::default();
        config.hard_filter.k = 33;
        assert!(config.validate().is_err());
        let mut config = LoopConfig::default();
        config.concurrency.verifiers = 0;
        assert!(config
            .validate()
            .unwrap_err()
            .message()
            .contains("verifiers"));
    }

    #[test]
    fn reads_from_toml_with_defaults_and_rejects_typos() {
        let config: LoopConfig =
            toml::from_str("iterations = 2\n[hard_filter]\nthreshold = 0.2\n").unwrap();
        assert_eq!(config.iterations, 2);
        assert!((config.hard_filter.threshold - 0.2).abs() < f64::EPSILON);
        assert_eq!(config.hard_filter.samples_per_task, 32);
        assert!(toml::from_str::<LoopConfig>("iteratons = 2\n").is_err());
    }
}
