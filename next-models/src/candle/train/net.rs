//! The training forward pass: the llama model of the inference forward, in `f32`, with
//! a LoRA pair beside each adapted projection, built from differentiable operations.
//!
//! [`Frozen`] holds the base weights, dequantized (and, to start from an earlier
//! adapter, with its update merged in); they never change during a training and take
//! no gradient (see [`super::ops::FrozenLinear`]). [`Lora`] holds the trained pairs as
//! candle `Var`s. As in the inference forward, the query, key and value matrices are
//! stacked into one product, as are the gate and up matrices; each adapter adds its
//! update to its own slice of the product.

// The forward pass keeps the usual one-letter tensor names, and its sizes are far
// below the 2^23 that an `f32` holds exactly.
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_precision_loss
)]

use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::adapter::Adapter;
use super::fused::{CausalSoftmax, HeadCrossEntropy, RmsNorm, Rope, SwiGlu};
use super::lora::{Dropout, Lora, Stack};
use super::ops::{self, FrozenLinear};
use super::target::Target;
use crate::candle::error::CandleError;
use crate::candle::gguf::{GgufFile, Hparams};
use crate::candle::model::{model_hparams, rope_tables};

type Result<T> = std::result::Result<T, candle_core::Error>;

struct FrozenLayer {
    attn_norm: Vec<f32>,
    qkv: Arc<FrozenLinear>,
    wo: Arc<FrozenLinear>,
    ffn_norm: Vec<f32>,
    gate_up: Arc<FrozenLinear>,
    down: Arc<FrozenLinear>,
    ff: usize,
}

/// The base model in `f32`, for training.
///
/// Invariant: the shapes agree with `hp` (checked at load); the rotary tables cover
/// `context` positions.
pub(crate) struct Frozen {
    pub hp: Hparams,
    pub context: usize,
    pub file: String,
    embed: Tensor,
    layers: Vec<FrozenLayer>,
    norm: Vec<f32>,
    output: Arc<FrozenLinear>,
    cos: Tensor,
    sin: Tensor,
}

impl Frozen {
    /// Loads the model of `file` in `f32`, the update of `start` (an adapter to
    /// continue from) merged in, with rotary tables for `context` positions.
    ///
    /// # Errors
    /// [`CandleError`] for a file the inference forward would refuse, or an adapter
    /// that does not fit it.
    pub fn load(
        file: &mut GgufFile,
        start: Option<&Adapter>,
        context: usize,
    ) -> std::result::Result<Self, CandleError> {
        let hp = model_hparams(file, start)?;
        let path = file.path.clone();
        let wrap = |name: &str| {
            let path = path.clone();
            let name = name.to_owned();
            move |err: candle_core::Error| CandleError::Gguf {
                path,
                message: format!("dequantizing `{name}`: {err}"),
            }
        };
        let (embd, kv) = (hp.n_embd, hp.n_head_kv * hp.head_dim);
        let embed = file
            .embedding(embd)?
            .dequantize(&Device::Cpu)
            .map_err(wrap("token_embd.weight"))?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let ff = file.ffn_width(i);
            let mut mat = |target: Target, rows: usize, cols: usize| {
                let name = format!("blk.{i}.{}.weight", target.gguf_name());
                let mut w = file
                    .layer_matrix(i, target, rows, cols)?
                    .dequantize(&Device::Cpu)
                    .map_err(wrap(&name))?;
                if let Some(delta) = start
                    .map(|a| a.delta(i, target))
                    .transpose()
                    .map_err(wrap(&name))?
                    .flatten()
                {
                    w = (w + delta).map_err(wrap(&name))?;
                }
                Ok::<_, CandleError>(w)
            };
            let q = mat(Target::Q, embd, embd)?;
            let k = mat(Target::K, kv, embd)?;
            let v = mat(Target::V, kv, embd)?;
            let o = mat(Target::O, embd, embd)?;
            let gate = mat(Target::Gate, ff, embd)?;
            let up = mat(Target::Up, ff, embd)?;
            let down = mat(Target::Down, embd, ff)?;
            let name = format!("blk.{i}");
            let stack = |parts: &[Tensor]| -> std::result::Result<Arc<FrozenLinear>, CandleError> {
                let w = Tensor::cat(parts, 0).map_err(wrap(&name))?;
                Ok(Arc::new(FrozenLinear::new(&w).map_err(wrap(&name))?))
            };
            layers.push(FrozenLayer {
                attn_norm: file.floats(&format!("blk.{i}.attn_norm.weight"), embd)?,
                qkv: stack(&[q, k, v])?,
                wo: stack(&[o])?,
                ffn_norm: file.floats(&format!("blk.{i}.ffn_norm.weight"), embd)?,
                gate_up: stack(&[gate, up])?,
                down: stack(&[down])?,
                ff,
            });
        }
        let norm = file.floats("output_norm.weight", embd)?;
        let output = if file.has_tensor("output.weight") {
            let q = file.tensor("output.weight")?;
            let vocab = embed.dims().first().copied().unwrap_or(0);
            file.check_dims("output.weight", &q, &[vocab, embd])?;
            q.dequantize(&Device::Cpu).map_err(wrap("output.weight"))?
        } else {
            embed.clone()
        };
        let output = Arc::new(FrozenLinear::new(&output).map_err(wrap("output.weight"))?);
        let context = context.min(hp.context_length).max(1);
        let (cos, sin) = rope_tables(&hp, context).map_err(wrap("rope tables"))?;
        Ok(Self {
            hp,
            context,
            file: file_name(&file.path),
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
        })
    }

    /// The number of tokens of its vocabulary.
    pub fn vocab(&self) -> usize {
        self.embed.dims().first().copied().unwrap_or(0)
    }

    /// The widths `(out, in)` of projection `target`.
    pub fn shape_of(&self, target: Target, layer: usize) -> (usize, usize) {
        let hp = &self.hp;
        let kv = hp.n_head_kv * hp.head_dim;
        let ff = self.layers.get(layer).map_or(0, |l| l.ff);
        match target {
            Target::Q | Target::O => (hp.n_embd, hp.n_embd),
            Target::K | Target::V => (kv, hp.n_embd),
            Target::Gate | Target::Up => (ff, hp.n_embd),
            Target::Down => (hp.n_embd, ff),
        }
    }

    /// The first output column of `target` in its stacked product.
    pub fn offset_of(&self, target: Target, layer: usize) -> usize {
        let hp = &self.hp;
        let ff = self.layers.get(layer).map_or(0, |l| l.ff);
        match target {
            Target::Q | Target::O | Target::Gate | Target::Down => 0,
            Target::K => hp.n_embd,
            Target::V => hp.n_embd + hp.n_head_kv * hp.head_dim,
            Target::Up => ff,
        }
    }

    /// The hidden states after the final norm, `(batch * positions, width)`, of the
    /// token ids `ids`, `(batch, positions)`, with the adapters of `lora` (none: the
    /// base model). `dropout` draws the adapters' input masks during training.
    pub fn hidden(
        &self,
        ids: &Tensor,
        lora: Option<&Lora>,
        dropout: &mut Option<Dropout<'_>>,
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
        let mut x = self.embed.embedding(&ids.flatten_all()?)?;
        let cos = self.cos.narrow(0, 0, t)?.flatten_all()?.to_vec1::<f32>()?;
        let sin = self.sin.narrow(0, 0, t)?.flatten_all()?.to_vec1::<f32>()?;
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
            let mut project = |x: &Tensor, w: &Arc<FrozenLinear>, stack: Stack| match lora {
                Some(lora) => lora.project(x, w, l, stack, dropout),
                None => ops::frozen_linear(x, w),
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

    /// The summed negative log-likelihood of `targets` after hidden states
    /// `(rows, width)`, through the output head (fused, in chunks of rows).
    pub fn head_loss(&self, hidden: &Tensor, targets: Vec<u32>) -> Result<Tensor> {
        hidden.contiguous()?.apply_op1(HeadCrossEntropy {
            w: self.output.weight().clone(),
            targets,
        })
    }

    /// The logits `(rows, vocab)` of hidden states `(rows, width)`.
    #[cfg(test)]
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        ops::frozen_linear(hidden, &self.output)
    }
}

/// The last part of `path`, for people.
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
