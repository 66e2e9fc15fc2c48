//! The tests' reference for the training pass: the same forward built from candle
//! operations, each with a backward pass (the fused operations of [`super::fused`],
//! held to the compositions of [`super::ops`], and the adapted products of
//! [`super::adapted`]), so that candle's autograd gives the loss's gradient that
//! [`super::step`] computes by hand.

// The forward pass keeps the usual one-letter tensor names, and its sizes are far
// below the 2^23 that an `f32` holds exactly.
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_precision_loss
)]

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::data::Batch;
use super::fused::{CausalSoftmax, HeadCrossEntropy, RmsNorm, Rope, SwiGlu};
use super::lora::{Lora, Stack};
use super::mat::Matrix;
use super::net::Frozen;
use super::ops::{self, FrozenLinear};
use super::step::Dropout;

type Result<T> = std::result::Result<T, candle_core::Error>;

/// `m` as a frozen product.
fn linear(m: &Matrix) -> Result<Arc<FrozenLinear>> {
    let w = Tensor::from_slice(m.data(), (m.rows(), m.cols()), &Device::Cpu)?;
    Ok(Arc::new(FrozenLinear::new(&w)?))
}

impl Frozen {
    /// The hidden states after the final norm, `(batch * positions, width)`, of the
    /// token ids `ids`, `(batch, positions)`, with the adapters of `lora` (none: the
    /// base model). `dropout` draws the adapters' input masks.
    pub fn hidden(
        &self, ids: &Tensor, lora: Option<&Lora>, dropout: &mut Option<Dropout<'_>>,
    ) -> Result<Tensor> {
        let hp = &self.hp;
        let (b, t) = ids.dims2()?;
        if t > self.context {
            return Err(candle_core::Error::Msg(format!(
                "{t} positions, more than the {} of the rotary tables",
                self.context
            )));
        }
        let (nh, nkv, hd) = (hp.n_head, hp.n_head_kv, hp.head_dim);
        let groups = nh / nkv;
        let rows = b * t;
        let embed = Tensor::from_slice(
            self.embed.data(),
            (self.embed.rows(), self.embed.cols()),
            &Device::Cpu,
        )?;
        let mut x = embed.embedding(&ids.flatten_all()?)?;
        let half = hd / 2;
        let cos = self.cos[..t * half].to_vec();
        let sin = self.sin[..t * half].to_vec();
        let scale = 1.0 / (hd as f32).sqrt();
        let rope = |m: Tensor, n: usize| -> Result<Tensor> {
            m.reshape((b, t, n, hd))?
                .transpose(1, 2)?
                .contiguous()?
                .apply_op1(Rope {
                    cos: cos.clone(),
                    sin: sin.clone(),
                    positions: t,
                })
        };
        for (l, layer) in self.layers.iter().enumerate() {
            let mut project = |x: &Tensor, w: &Matrix, stack: Stack| {
                let w = linear(w)?;
                match lora {
                    Some(lora) => lora.project(x, &w, l, stack, dropout),
                    None => ops::frozen_linear(x, &w),
                }
            };
            let h = self.rms_norm(&x, &layer.attn_norm)?;
            let qkv = project(&h, &layer.qkv, Stack::Qkv)?;
            let q = rope(qkv.narrow(1, 0, nh * hd)?, nh)?;
            let k = rope(qkv.narrow(1, nh * hd, nkv * hd)?, nkv)?;
            let v = qkv
                .narrow(1, (nh + nkv) * hd, nkv * hd)?
                .reshape((b, t, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            // Heads h = kv * groups + j share key/value head kv.
            let q = q.reshape((b, nkv, groups * t, hd))?;
            let probs = q.matmul(&k.t()?)?.apply_op1(CausalSoftmax {
                positions: t,
                scale,
            })?;
            let attn = probs
                .matmul(&v)?
                .reshape((b, nh, t, hd))?
                .transpose(1, 2)?
                .reshape((rows, nh * hd))?;
            x = (x + project(&attn, &layer.wo, Stack::O)?)?;
            let h = self.rms_norm(&x, &layer.ffn_norm)?;
            let gate_up = project(&h, &layer.gate_up, Stack::GateUp)?;
            let act = gate_up.apply_op1(SwiGlu { width: layer.ff })?;
            x = (x + project(&act, &layer.down, Stack::Down)?)?;
        }
        self.rms_norm(&x, &self.norm)
    }

    /// The rows of `x` normalized and scaled by `weight` (the fused operation).
    fn rms_norm(&self, x: &Tensor, weight: &[f32]) -> Result<Tensor> {
        x.apply_op1(RmsNorm {
            weight: weight.to_vec(),
            eps: self.hp.rms_eps,
        })
    }

    /// The head as a tensor, `(vocab, width)`.
    fn head_tensor(&self) -> Result<Tensor> {
        let head = self.head();
        Tensor::from_slice(head.data(), (head.rows(), head.cols()), &Device::Cpu)
    }

    /// The summed negative log-likelihood of `targets` after hidden states
    /// `(rows, width)`, through the output head (fused, in chunks of rows).
    pub fn head_loss(&self, hidden: &Tensor, targets: Vec<u32>) -> Result<Tensor> {
        hidden.contiguous()?.apply_op1(HeadCrossEntropy {
            w: self.head_tensor()?,
            targets,
        })
    }

    /// The logits `(rows, vocab)` of hidden states `(rows, width)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        hidden.matmul(&self.head_tensor()?.t()?)
    }
}

/// The summed negative log-likelihood of a batch's targets under the model with
/// `lora`.
pub(crate) fn batch_nll(
    model: &Frozen, lora: &Lora, batch: &Batch, dropout: &mut Option<Dropout<'_>>,
) -> Result<Tensor> {
    let ids = Tensor::from_slice(&batch.ids, (batch.rows, batch.width), &Device::Cpu)?;
    let hidden = model.hidden(&ids, Some(lora), dropout)?;
    let positions = Tensor::from_slice(&batch.positions, batch.positions.len(), &Device::Cpu)?;
    model.head_loss(&hidden.index_select(&positions, 0)?, batch.targets.clone())
}
