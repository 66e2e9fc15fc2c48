//! [`LoraConfig`]: the options of the `candle-lora` trainer.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::candle::target::Target;

/// How the learning rate moves over the steps of a training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Linear warm-up, then a cosine decay to zero. The default.
    #[default]
    Cosine,
    /// Linear warm-up, then a linear decay to zero.
    Linear,
    /// Linear warm-up, then constant.
    Constant,
}

/// The options of the LoRA trainer on the local candle model
/// (`[trainer] kind = "candle-lora"`). Every key is optional; the defaults train
/// SmolLM2-135M-Instruct on a few hundred NExT examples in minutes on a laptop:
///
/// ```toml
/// [trainer]
/// kind = "candle-lora"
/// model = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"  # default: the cached default model
/// rank = 8
/// alpha = 16.0            # the adapter's output is scaled by alpha / rank
/// dropout = 0.05          # on the adapter's input, during training only
/// targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
/// learning_rate = 2e-4
/// schedule = "cosine"     # cosine, linear or constant, after the warm-up
/// warmup_ratio = 0.1      # the share of the steps spent warming up
/// weight_decay = 0.0      # AdamW's decoupled weight decay
/// max_grad_norm = 1.0     # the gradient's global norm is clipped to it (0: no clipping)
/// epochs = 2
/// batch_size = 4          # sequences run at once (bucketed by length)
/// grad_accumulation = 2   # micro-batches per optimizer step
/// max_seq_len = 2048      # longer examples are skipped, and counted
/// seed = 0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// The GGUF of the base model: the same file the sampler loads. Default: the
    /// default model ([`SMOLLM2`](crate::artifact::SMOLLM2)) in the cache directory.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// The rank of each adapter. Default 8.
    #[serde(default = "default_rank")]
    pub rank: usize,
    /// The adapter's scale numerator: its output is multiplied by `alpha / rank`.
    /// Default 16.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// The probability that an input of an adapter is zeroed during training.
    /// Default 0.05.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// The projections that get an adapter, by their Hugging Face names. Default: all
    /// seven.
    #[serde(default = "default_targets")]
    pub targets: Vec<Target>,
    /// The peak learning rate. Default 2e-4.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// The learning rate's course after the warm-up. Default cosine.
    #[serde(default)]
    pub schedule: Schedule,
    /// The share of the steps spent raising the learning rate linearly from zero.
    /// Default 0.1.
    #[serde(default = "default_warmup_ratio")]
    pub warmup_ratio: f64,
    /// AdamW's decoupled weight decay. Default 0.
    #[serde(default)]
    pub weight_decay: f64,
    /// AdamW's `beta1`. Default 0.9.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// AdamW's `beta2`. Default 0.999.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// AdamW's `epsilon`. Default 1e-8.
    #[serde(default = "default_epsilon")]
    pub epsilon: f64,
    /// The gradient's global norm is scaled down to this when above it; 0 turns
    /// clipping off. Default 1.
    #[serde(default = "default_max_grad_norm")]
    pub max_grad_norm: f64,
    /// Passes over the examples. Default 2.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Sequences run through the model at once. Default 4.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Micro-batches whose gradients make one optimizer step. Default 2.
    #[serde(default = "default_grad_accumulation")]
    pub grad_accumulation: usize,
    /// The most tokens of an example (prompt and answer); longer ones are skipped and
    /// counted. Default 2048.
    #[serde(default = "default_max_seq_len")]
    pub max_seq_len: usize,
    /// Seeds the adapters' initial values, the order of the examples and the dropout.
    /// Default 0.
    #[serde(default)]
    pub seed: u64,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            model: None,
            rank: default_rank(),
            alpha: default_alpha(),
            dropout: default_dropout(),
            targets: default_targets(),
            learning_rate: default_learning_rate(),
            schedule: Schedule::default(),
            warmup_ratio: default_warmup_ratio(),
            weight_decay: 0.0,
            beta1: default_beta1(),
            beta2: default_beta2(),
            epsilon: default_epsilon(),
            max_grad_norm: default_max_grad_norm(),
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            grad_accumulation: default_grad_accumulation(),
            max_seq_len: default_max_seq_len(),
            seed: 0,
        }
    }
}

impl LoraConfig {
    /// Checks that every option is in range.
    ///
    /// # Errors
    /// A message naming the first option out of range.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(format!("{name} must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive("rank", self.rank)?;
        positive("epochs", self.epochs)?;
        positive("batch_size", self.batch_size)?;
        positive("grad_accumulation", self.grad_accumulation)?;
        if self.max_seq_len < 2 {
            return Err("max_seq_len must be at least 2".into());
        }
        let finite = |name: &str, v: f64, ok: bool| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(format!("{name} = {v} is out of range"))
            }
        };
        finite("alpha", self.alpha, self.alpha > 0.0)?;
        finite("dropout", self.dropout, (0.0..1.0).contains(&self.dropout))?;
        finite(
            "learning_rate",
            self.learning_rate,
            self.learning_rate > 0.0,
        )?;
        finite(
            "warmup_ratio",
            self.warmup_ratio,
            (0.0..=1.0).contains(&self.warmup_ratio),
        )?;
        finite("weight_decay", self.weight_decay, self.weight_decay >= 0.0)?;
        finite("beta1", self.beta1, (0.0..1.0).contains(&self.beta1))?;
        finite("beta2", self.beta2, (0.0..1.0).contains(&self.beta2))?;
        finite("epsilon", self.epsilon, self.epsilon > 0.0)?;
        finite(
            "max_grad_norm",
            self.max_grad_norm,
            self.max_grad_norm >= 0.0,
        )?;
        if self.targets.is_empty() {
            return Err("targets must name at least one projection".into());
        }
        let mut seen = self.targets.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.targets.len() {
            return Err("targets names a projection twice".into());
        }
        Ok(())
    }

    /// The factor of an adapter's output, `alpha / rank`.
    // A rank is far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

fn default_rank() -> usize {
    8
}
fn default_alpha() -> f64 {
    16.0
}
fn default_dropout() -> f64 {
    0.05
}
fn default_targets() -> Vec<Target> {
    Target::ALL.to_vec()
}
fn default_learning_rate() -> f64 {
    2e-4
}
fn default_warmup_ratio() -> f64 {
    0.1
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_epsilon() -> f64 {
    1e-8
}
fn default_max_grad_norm() -> f64 {
    1.0
}
fn default_epochs() -> usize {
    2
}
fn default_batch_size() -> usize {
    4
}
fn default_grad_accumulation() -> usize {
    2
}
fn default_max_seq_len() -> usize {
    2048
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_options_are_checked() {
        let config = LoraConfig::default();
        assert!(config.validate().is_ok());
        assert!((config.scale() - 2.0).abs() < 1e-12);
        let parsed: LoraConfig =
            toml::from_str("rank = 4\ntargets = ['q_proj', 'v_proj']").unwrap();
        assert_eq!(parsed.targets, vec![Target::Q, Target::V]);
        assert!(toml::from_str::<LoraConfig>("rnak = 4").is_err());
        assert!(toml::from_str::<LoraConfig>("targets = ['qkv']").is_err());
        for bad in [
            LoraConfig {
                rank: 0,
                ..LoraConfig::default()
            },
            LoraConfig {
                dropout: 1.0,
                ..LoraConfig::default()
            },
            LoraConfig {
                learning_rate: f64::NAN,
                ..LoraConfig::default()
            },
            LoraConfig {
                targets: vec![],
                ..LoraConfig::default()
            },
            LoraConfig {
                targets: vec![Target::Q, Target::Q],
                ..LoraConfig::default()
            },
            LoraConfig {
                max_seq_len: 1,
                ..LoraConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
