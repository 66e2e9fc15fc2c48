//! AdamW with decoupled weight decay, the learning-rate schedule, and clipping of the
//! gradient's global norm, over the adapters' variables.
//!
//! The adapters are small (a few million numbers for SmolLM2 at rank 8), so the
//! optimizer's state lives in plain vectors and its update is a loop, the same on
//! every machine and thread count.

use candle_core::{Tensor, Var};

use super::config::{LoraConfig, Schedule};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// The learning rate of step `step` (from 0) of `total`, after `warmup` warm-up steps.
// Step counts are far below 2^52.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn learning_rate(config: &LoraConfig, step: usize, total: usize, warmup: usize) -> f64 {
    let peak = config.learning_rate;
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    match config.schedule {
        Schedule::Cosine => peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        Schedule::Linear => peak * (1.0 - progress),
        Schedule::Constant => peak,
    }
}

/// The warm-up steps of a training of `total` steps.
// Step counts are far below 2^52.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
pub(crate) fn warmup_steps(config: &LoraConfig, total: usize) -> usize {
    (config.warmup_ratio * total as f64).ceil() as usize
}

/// AdamW's state for a list of variables, and the gradients summed over the
/// micro-batches of the current step.
pub(crate) struct AdamW {
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    steps: i32,
}

impl AdamW {
    /// Zero state for variables of these sizes.
    pub fn new(sizes: &[usize]) -> Self {
        let zeros = || sizes.iter().map(|&n| vec![0.0; n]).collect::<Vec<_>>();
        Self {
            m: zeros(),
            v: zeros(),
            grads: zeros(),
            steps: 0,
        }
    }

    /// Adds the gradients of `vars` (in the order of [`AdamW::new`]) to the step's sum;
    /// a variable without a gradient adds nothing.
    #[cfg(test)]
    pub fn accumulate(
        &mut self, vars: &[&Var], grads: &candle_core::backprop::GradStore,
    ) -> Result<()> {
        for (sum, var) in self.grads.iter_mut().zip(vars) {
            if let Some(g) = grads.get(var.as_tensor()) {
                for (s, x) in sum.iter_mut().zip(g.flatten_all()?.to_vec1::<f32>()?) {
                    *s += x;
                }
            }
        }
        Ok(())
    }

    /// The step's summed gradients, in the order of [`AdamW::new`], for a pass that
    /// adds to them.
    pub fn grads_mut(&mut self) -> &mut [Vec<f32>] {
        &mut self.grads
    }

    /// The global norm of the summed gradients.
    pub fn grad_norm(&self) -> f64 {
        self.grads
            .iter()
            .flatten()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum::<f64>()
            .sqrt()
    }

    /// Takes one step with learning rate `lr` on the summed gradients (clipped to
    /// `max_grad_norm` when it is positive), and clears them. Returns the gradient's
    /// norm before clipping.
    // The optimizer computes in f32, as the variables are; its constants are narrowed.
    #[allow(clippy::cast_possible_truncation)]
    pub fn step(&mut self, vars: &[&Var], config: &LoraConfig, lr: f64) -> Result<f64> {
        let norm = self.grad_norm();
        let clip = if config.max_grad_norm > 0.0 && norm > config.max_grad_norm {
            (config.max_grad_norm / norm) as f32
        } else {
            1.0
        };
        self.steps += 1;
        let (b1, b2) = (config.beta1 as f32, config.beta2 as f32);
        let c1 = 1.0 - b1.powi(self.steps);
        let c2 = 1.0 - b2.powi(self.steps);
        let (lr, eps, decay) = (lr as f32, config.epsilon as f32, config.weight_decay as f32);
        for (i, var) in vars.iter().enumerate() {
            let mut w = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let (m, v, g) = (&mut self.m[i], &mut self.v[i], &mut self.grads[i]);
            for j in 0..w.len() {
                let grad = g[j] * clip;
                m[j] = b1 * m[j] + (1.0 - b1) * grad;
                v[j] = b2 * v[j] + (1.0 - b2) * grad * grad;
                let update = (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                w[j] -= lr * (update + decay * w[j]);
                g[j] = 0.0;
            }
            var.set(&Tensor::from_vec(w, var.shape(), var.device())?)?;
        }
        Ok(norm)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn the_schedule_warms_up_then_decays() {
        let config = LoraConfig {
            learning_rate: 1.0,
            ..LoraConfig::default()
        };
        let total = 20;
        let warmup = warmup_steps(&config, total);
        assert_eq!(warmup, 2);
        assert!((learning_rate(&config, 0, total, warmup) - 0.5).abs() < 1e-12);
        assert!((learning_rate(&config, 1, total, warmup) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&config, 2, total, warmup) - 1.0).abs() < 1e-12);
        let last = learning_rate(&config, total - 1, total, warmup);
        assert!(last > 0.0 && last < 0.01, "{last}");
        let linear = LoraConfig {
            schedule: Schedule::Linear,
            ..config.clone()
        };
        assert!((learning_rate(&linear, 11, total, warmup) - 0.5).abs() < 1e-12);
        let constant = LoraConfig {
            schedule: Schedule::Constant,
            ..config
        };
        assert!((learning_rate(&constant, 19, total, warmup) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn adamw_minimizes_a_quadratic_and_clips() {
        // f(w) = sum (w - 3)^2; AdamW walks w to 3.
        let w = Var::from_vec(vec![0.0f32, 10.0], 2, &Device::Cpu).unwrap();
        let config = LoraConfig {
            max_grad_norm: 0.0,
            ..LoraConfig::default()
        };
        let mut opt = AdamW::new(&[2]);
        for _ in 0..800 {
            let loss = (w.as_tensor() - 3.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            opt.accumulate(&[&w], &loss.backward().unwrap()).unwrap();
            opt.step(&[&w], &config, 0.05).unwrap();
        }
        let got = w.as_tensor().to_vec1::<f32>().unwrap();
        assert!(got.iter().all(|x| (x - 3.0).abs() < 0.05), "{got:?}");
        // Clipping: the first step of Adam moves each weight by about lr whatever the
        // gradient's size, so clipping shows in the norm it reports, and a clipped
        // step equals the unclipped one (Adam is invariant to the gradient's scale).
        let clipped = LoraConfig {
            max_grad_norm: 1.0,
            ..LoraConfig::default()
        };
        let w = Var::from_vec(vec![0.0f32], 1, &Device::Cpu).unwrap();
        let mut opt = AdamW::new(&[1]);
        let loss = (w.as_tensor() * 100.0).unwrap().sum_all().unwrap();
        opt.accumulate(&[&w], &loss.backward().unwrap()).unwrap();
        let norm = opt.step(&[&w], &clipped, 0.1).unwrap();
        assert!((norm - 100.0).abs() < 1e-3);
        assert!((w.as_tensor().to_vec1::<f32>().unwrap()[0] + 0.1).abs() < 1e-3);
        assert!(opt.grad_norm() < 1e-12, "the step clears the gradients");
    }
}
