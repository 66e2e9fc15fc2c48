//! [`CandleConfig`]: the options of the `candle` sampler.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::gguf::WeightFormat;

/// The options of the local candle sampler (`[sampler] kind = "candle"`). Every key is
/// optional:
///
/// ```toml
/// [sampler]
/// kind = "candle"
/// model = "/models/SmolLM2-135M-Instruct.Q4_1.gguf"  # default: the cached default model
/// weights = "q8_0"          # what Q4_1/Q5_0/Q5_1 weights become at load: q8_0, as_stored, or f32 (every weight, exact)
/// context_length = 8192     # the most positions of a prompt and a sample together
/// max_batch = 16            # samples decoded at once; more run in further batches
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandleConfig {
    /// The GGUF of the base checkpoint. Default: the default model
    /// ([`SMOLLM2`](crate::artifact::SMOLLM2)) in the cache directory, which
    /// `next model fetch` puts there.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// What weights without a fast CPU kernel become at load. Default `q8_0`.
    #[serde(default)]
    pub weights: WeightFormat,
    /// The context window, capped by the model's own. Default 8192, SmolLM2's own: a
    /// 3-shot prompt with traces can pass 4,096 tokens. The rotary tables are sized by
    /// it; the caches grow with what is decoded.
    #[serde(default = "default_context_length")]
    pub context_length: usize,
    /// The most samples decoded as one batch. Default 16.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}

impl Default for CandleConfig {
    fn default() -> Self {
        Self {
            model: None,
            weights: WeightFormat::default(),
            context_length: default_context_length(),
            max_batch: default_max_batch(),
        }
    }
}

fn default_context_length() -> usize {
    8192
}

fn default_max_batch() -> usize {
    16
}
