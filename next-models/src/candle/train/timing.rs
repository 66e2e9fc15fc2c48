//! [`time_steps`]: the cost of training steps on a model, measured on random tokens,
//! for the training benchmark and for sizing a training before running it.

use std::path::Path;

use next_core::train::TrainUpdate;

use super::config::LoraConfig;
use super::data::Encoded;
use super::fit;
use super::net::Frozen;
use crate::candle::error::CandleError;
use crate::candle::gguf::GgufFile;

/// What [`time_steps`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTimes {
    /// Seconds of each timed step (forward, backward and optimizer update).
    pub seconds: Vec<f64>,
    /// The loss of each timed step.
    pub losses: Vec<f64>,
    /// Tokens a step reads.
    pub tokens_per_step: usize,
}

impl StepTimes {
    /// The median of [`StepTimes::seconds`].
    pub fn median(&self) -> f64 {
        let mut s = self.seconds.clone();
        s.sort_by(f64::total_cmp);
        match s.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => s[n / 2],
            n => f64::midpoint(s[n / 2 - 1], s[n / 2]),
        }
    }
}

/// Runs `warmup + steps` optimizer steps of LoRA training (as `config` sets it:
/// rank, targets, dropout; its batch and epoch options are replaced) on `batch`
/// sequences of `seq_len` random token ids drawn from `seed`, the first half of each a
/// prompt that takes no loss, and times the last `steps`.
///
/// # Errors
/// [`CandleError`] when the model cannot be loaded or a step fails.
pub fn time_steps(
    gguf: &Path, config: &LoraConfig, batch: usize, seq_len: usize, warmup: usize, steps: usize,
    seed: u64,
) -> Result<StepTimes, CandleError> {
    let config = LoraConfig {
        epochs: warmup + steps,
        batch_size: batch,
        grad_accumulation: 1,
        max_seq_len: seq_len,
        ..config.clone()
    };
    config.validate().map_err(CandleError::Config)?;
    let model = Frozen::load(&mut GgufFile::open(gguf)?, None, seq_len)?;
    let vocab = u32::try_from(model.vocab()).unwrap_or(u32::MAX);
    let mut rng = fastrand::Rng::with_seed(seed);
    let examples: Vec<Encoded> = (0..batch)
        .map(|_| Encoded {
            tokens: (0..seq_len).map(|_| rng.u32(..vocab)).collect(),
            prompt: seq_len / 2,
        })
        .collect();
    let mut times = StepTimes {
        seconds: Vec::new(),
        losses: Vec::new(),
        tokens_per_step: batch * seq_len,
    };
    let mut report = |update: TrainUpdate| {
        if let TrainUpdate::Step {
            step,
            loss,
            tokens,
            tokens_per_sec,
            ..
        } = update
        {
            if step > warmup as u64 {
                #[allow(clippy::cast_precision_loss)]
                times.seconds.push(tokens as f64 / tokens_per_sec);
                times.losses.push(loss);
            }
        }
    };
    fit::fit(&model, &examples, &config, &mut report, &|| false)?;
    Ok(times)
}
