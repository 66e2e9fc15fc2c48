//! One training: the epochs, micro-batches and optimizer steps over encoded examples,
//! reported step by step, stoppable between micro-batches.

use std::time::Instant;

use next_core::train::TrainUpdate;
use serde::Serialize;

use super::config::LoraConfig;
use super::data::{epoch_batches, Batch, Encoded};
use super::lora::Lora;
use super::net::Frozen;
use super::optim::{learning_rate, warmup_steps, AdamW};
use super::step::Dropout;
use super::step::{self, StepError, Workspace};
use crate::candle::error::CandleError;

/// Why a training ended without adapters.
#[derive(Debug)]
pub(crate) enum FitError {
    /// A tensor operation failed.
    Candle(candle_core::Error),
    /// A micro-batch did not fit the model.
    Step(StepError),
    /// The caller asked it to stop.
    Stopped,
}

impl From<candle_core::Error> for FitError {
    fn from(err: candle_core::Error) -> Self {
        FitError::Candle(err)
    }
}

impl From<StepError> for FitError {
    fn from(err: StepError) -> Self {
        FitError::Step(err)
    }
}

impl From<FitError> for CandleError {
    fn from(err: FitError) -> Self {
        match err {
            FitError::Stopped => CandleError::Worker("the training was stopped".into()),
            FitError::Candle(err) => CandleError::inference("training")(err),
            FitError::Step(err) => {
                CandleError::inference("training")(candle_core::Error::Msg(err.to_string()))
            }
        }
    }
}

/// What a training measured, written into the adapter's settings.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Stats {
    /// Examples trained on.
    pub examples: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Tokens read, over every epoch.
    pub tokens: usize,
    /// Seconds spent.
    pub seconds: f64,
    /// The loss of the first step.
    pub first_loss: f64,
    /// The loss of the last step.
    pub last_loss: f64,
}

/// The micro-batches of every epoch, in order, grouped into optimizer steps.
pub(crate) fn plan(
    examples: &[Encoded], config: &LoraConfig, rng: &mut fastrand::Rng,
) -> Vec<Vec<Vec<usize>>> {
    let mut steps = Vec::new();
    for _ in 0..config.epochs {
        let batches = epoch_batches(examples, config.batch_size, rng);
        steps.extend(
            batches
                .chunks(config.grad_accumulation)
                .map(<[Vec<usize>]>::to_vec),
        );
    }
    steps
}

/// Trains fresh adapters on `examples`; see the trainer's documentation.
///
/// # Errors
/// [`FitError::Stopped`] when `stop` says so between micro-batches;
/// [`FitError::Candle`] when a tensor operation fails.
// Token counts are far below 2^52.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn fit(
    model: &Frozen, examples: &[Encoded], config: &LoraConfig, report: &mut dyn FnMut(TrainUpdate),
    stop: &dyn Fn() -> bool,
) -> Result<(Lora, Stats), FitError> {
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let lora = Lora::new(
        model,
        &config.targets,
        config.rank,
        config.scale(),
        &mut rng,
    )?;
    let mut dropout_rng = fastrand::Rng::with_seed(config.seed ^ 0x5eed_d40f);
    let vars = lora.vars();
    let sizes: Vec<usize> = vars.iter().map(|v| v.elem_count()).collect();
    let mut opt = AdamW::new(&sizes);
    let steps = plan(examples, config, &mut rng);
    let total = steps.len();
    let warmup = warmup_steps(config, total);
    let mut stats = Stats {
        examples: examples.len(),
        ..Stats::default()
    };
    #[allow(clippy::cast_possible_truncation)]
    let p = config.dropout as f32;
    let mut workspace = Workspace::default();
    for (step, micro_batches) in steps.iter().enumerate() {
        let step_started = Instant::now();
        let targets: usize = micro_batches
            .iter()
            .flatten()
            .map(|&i| examples[i].targets())
            .sum();
        let mut loss_sum = 0.0;
        let mut tokens = 0;
        let adapters = lora.snapshot(model.hp.n_layer)?;
        #[allow(clippy::cast_possible_truncation)]
        let scale = (1.0 / targets.max(1) as f64) as f32;
        for indices in micro_batches {
            if stop() {
                return Err(FitError::Stopped);
            }
            let batch = Batch::new(examples, indices);
            tokens += batch.tokens;
            // No dropout, no masks to draw.
            let mut dropout = (p > 0.0).then_some(Dropout {
                p,
                rng: &mut dropout_rng,
            });
            let grads = opt.grads_mut();
            let nll = step::run(
                model,
                &adapters,
                &batch,
                &mut dropout,
                scale,
                &mut workspace,
                grads,
            )?;
            loss_sum += f64::from(nll);
        }
        let lr = learning_rate(config, step, total, warmup);
        opt.step(&vars, config, lr)?;
        let loss = loss_sum / targets.max(1) as f64;
        if step == 0 {
            stats.first_loss = loss;
        }
        stats.last_loss = loss;
        stats.steps = step + 1;
        stats.tokens += tokens;
        let seconds = step_started.elapsed().as_secs_f64().max(1e-9);
        report(TrainUpdate::Step {
            step: (step + 1) as u64,
            steps: total as u64,
            loss,
            learning_rate: lr,
            tokens: tokens as u64,
            tokens_per_sec: tokens as f64 / seconds,
        });
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok((lora, stats))
}
