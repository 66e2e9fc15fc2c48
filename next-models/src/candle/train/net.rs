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

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var};

use super::adapter::{Adapter, AdapterSettings, BaseModel, Pair, FORMAT};
use super::ops::{self, FrozenLinear};
use super::target::Target;
use crate::candle::error::CandleError;
use crate::candle::gguf::{GgufFile, Hparams};
use crate::candle::model::{causal_mask, check_rope, rope_tables};

type Result<T> = std::result::Result<T, candle_core::Error>;

struct FrozenLayer {
    attn_norm: Tensor,
    qkv: Arc<FrozenLinear>,
    wo: Arc<FrozenLinear>,
    ffn_norm: Tensor,
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
    norm: Tensor,
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
        let hp = Hparams::read(file)?;
        check_rope(file)?;
        if let Some(adapter) = start {
            adapter
                .check_base(hp.n_layer, hp.n_embd)
                .map_err(|message| CandleError::Adapter {
                    path: file.path.clone(),
                    message,
                })?;
        }
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
        let embed_q = file.tensor("token_embd.weight")?;
        let vocab = embed_q.shape().dims().first().copied().unwrap_or(0);
        file.check_dims("token_embd.weight", &embed_q, &[vocab, embd])?;
        let embed = embed_q
            .dequantize(&Device::Cpu)
            .map_err(wrap("token_embd.weight"))?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let ff = file
                .dims(&format!("blk.{i}.ffn_up.weight"))
                .first()
                .copied()
                .unwrap_or(0);
            let mut mat = |target: Target, rows: usize, cols: usize| {
                let name = format!("blk.{i}.{}.weight", target.gguf_name());
                let q = file.tensor(&name)?;
                file.check_dims(&name, &q, &[rows, cols])?;
                let mut w = q.dequantize(&Device::Cpu).map_err(wrap(&name))?;
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
                attn_norm: vector(file.floats(&format!("blk.{i}.attn_norm.weight"), embd)?)
                    .map_err(wrap(&name))?,
                qkv: stack(&[q, k, v])?,
                wo: stack(&[o])?,
                ffn_norm: vector(file.floats(&format!("blk.{i}.ffn_norm.weight"), embd)?)
                    .map_err(wrap(&name))?,
                gate_up: stack(&[gate, up])?,
                down: stack(&[down])?,
                ff,
            });
        }
        let norm = vector(file.floats("output_norm.weight", embd)?).map_err(wrap("output_norm"))?;
        let output = if file.has_tensor("output.weight") {
            let q = file.tensor("output.weight")?;
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
        let cos = self.cos.narrow(0, 0, t)?;
        let sin = self.sin.narrow(0, 0, t)?;
        let mask = causal_mask(t, 0)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            let h = ops::rms_norm(&x, &layer.attn_norm, f64::from(hp.rms_eps))?;
            let qkv = ops::frozen_linear(&h, &layer.qkv)?;
            let adapt = |out, target, input: &Tensor, dropout: &mut Option<Dropout<'_>>| {
                Lora::add_to(lora, l, target, out, input, dropout)
            };
            let q = adapt(qkv.narrow(1, 0, nh * hd)?, Target::Q, &h, dropout)?;
            let k = adapt(qkv.narrow(1, nh * hd, nkv * hd)?, Target::K, &h, dropout)?;
            let v = adapt(
                qkv.narrow(1, (nh + nkv) * hd, nkv * hd)?,
                Target::V,
                &h,
                dropout,
            )?;
            let heads = |m: Tensor, n: usize| -> Result<Tensor> {
                m.reshape((b, t, n, hd))?.transpose(1, 2)?.contiguous()
            };
            let q = ops::rope_interleaved(&heads(q, nh)?, &cos, &sin)?;
            let k = ops::rope_interleaved(&heads(k, nkv)?, &cos, &sin)?;
            let v = heads(v, nkv)?;
            // Heads h = kv * groups + j share key/value head kv.
            let q = q.reshape((b, nkv, groups * t, hd))?;
            let scores = (q.matmul(&k.t()?)? * scale)?
                .reshape((b, nkv, groups, t, t))?
                .broadcast_add(&mask)?;
            let probs = ops::softmax(&scores)?.reshape((b, nkv, groups * t, t))?;
            let attn = probs
                .matmul(&v)?
                .reshape((b, nh, t, hd))?
                .transpose(1, 2)?
                .reshape((rows, nh * hd))?;
            let o = adapt(
                ops::frozen_linear(&attn, &layer.wo)?,
                Target::O,
                &attn,
                dropout,
            )?;
            x = (x + o)?;
            let h = ops::rms_norm(&x, &layer.ffn_norm, f64::from(hp.rms_eps))?;
            let gate_up = ops::frozen_linear(&h, &layer.gate_up)?;
            let gate = adapt(gate_up.narrow(1, 0, layer.ff)?, Target::Gate, &h, dropout)?;
            let up = adapt(
                gate_up.narrow(1, layer.ff, layer.ff)?,
                Target::Up,
                &h,
                dropout,
            )?;
            let act = (gate.silu()? * up)?;
            let down = adapt(
                ops::frozen_linear(&act, &layer.down)?,
                Target::Down,
                &act,
                dropout,
            )?;
            x = (x + down)?;
        }
        ops::rms_norm(&x, &self.norm, f64::from(hp.rms_eps))
    }

    /// The logits `(rows, vocab)` of hidden states `(rows, width)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        ops::frozen_linear(hidden, &self.output)
    }
}

/// Draws the dropout masks of the adapters' inputs.
pub(crate) struct Dropout<'a> {
    /// The probability of zeroing an input.
    pub p: f32,
    /// The generator, seeded by the trainer.
    pub rng: &'a mut fastrand::Rng,
}

impl Dropout<'_> {
    /// `x` with each element zeroed with probability `p` and the others scaled by
    /// `1 / (1 - p)`.
    fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let n = x.elem_count();
        let mask: Vec<f32> = (0..n)
            .map(|_| if self.rng.f32() < keep { scale } else { 0.0 })
            .collect();
        x * Tensor::from_vec(mask, x.shape(), &Device::Cpu)?
    }
}

/// The trained LoRA pairs.
///
/// Invariant: every layer has a pair for every target, `a` `(rank, in)` and `b`
/// `(out, rank)` of the projection's widths.
pub(crate) struct Lora {
    pub rank: usize,
    pub scale: f64,
    pub targets: Vec<Target>,
    pairs: HashMap<(usize, Target), (Var, Var)>,
}

impl Lora {
    /// Fresh pairs for `targets` of every layer of `model`: `A` uniform in
    /// `±1/sqrt(in)` (PEFT's Kaiming-uniform default), `B` zero, so that a fresh
    /// adapter leaves the model as it is.
    pub fn new(
        model: &Frozen,
        targets: &[Target],
        rank: usize,
        scale: f64,
        rng: &mut fastrand::Rng,
    ) -> Result<Self> {
        let mut pairs = HashMap::new();
        for layer in 0..model.hp.n_layer {
            for &target in targets {
                let (out, inp) = model.shape_of(target, layer);
                let bound = 1.0 / (inp as f32).sqrt();
                let a: Vec<f32> = (0..rank * inp)
                    .map(|_| (rng.f32() * 2.0 - 1.0) * bound)
                    .collect();
                let a = Var::from_vec(a, (rank, inp), &Device::Cpu)?;
                let b = Var::zeros((out, rank), DType::F32, &Device::Cpu)?;
                pairs.insert((layer, target), (a, b));
            }
        }
        Ok(Self {
            rank,
            scale,
            targets: targets.to_vec(),
            pairs,
        })
    }

    /// Every trained variable, in a fixed order (layer, target, `A` then `B`).
    pub fn vars(&self) -> Vec<&Var> {
        let mut keys: Vec<_> = self.pairs.keys().copied().collect();
        keys.sort_unstable();
        keys.iter()
            .filter_map(|k| self.pairs.get(k))
            .flat_map(|(a, b)| [a, b])
            .collect()
    }

    /// `out` plus the update of `target`'s pair in `layer` for `input`, when `lora`
    /// has one.
    fn add_to(
        lora: Option<&Self>,
        layer: usize,
        target: Target,
        out: Tensor,
        input: &Tensor,
        dropout: &mut Option<Dropout<'_>>,
    ) -> Result<Tensor> {
        let Some((lora, (a, b))) = lora.and_then(|l| Some((l, l.pairs.get(&(layer, target))?)))
        else {
            return Ok(out);
        };
        let input = match dropout {
            Some(d) if d.p > 0.0 => d.apply(input)?,
            _ => input.clone(),
        };
        let update = input
            .matmul(&a.as_tensor().t()?)?
            .matmul(&b.as_tensor().t()?)?;
        out + (update * lora.scale)?
    }

    /// The pairs as an [`Adapter`] of `model`, with the settings' `training` note.
    pub fn to_adapter(
        &self,
        model: &Frozen,
        training: serde_json::Value,
    ) -> std::result::Result<Adapter, String> {
        let mut pairs = HashMap::new();
        for (key, (a, b)) in &self.pairs {
            let copy = |v: &Var| v.as_tensor().copy().map(|t| t.detach());
            pairs.insert(
                *key,
                Pair {
                    a: copy(a).map_err(|e| e.to_string())?,
                    b: copy(b).map_err(|e| e.to_string())?,
                },
            );
        }
        let settings = AdapterSettings {
            format: FORMAT.into(),
            rank: self.rank,
            scale: self.scale,
            targets: self.targets.clone(),
            base: BaseModel {
                file: model.file.clone(),
                layers: model.hp.n_layer,
                embedding: model.hp.n_embd,
            },
            training,
        };
        Adapter::new(settings, pairs)
    }
}

/// The last part of `path`, for people.
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn vector(v: Vec<f32>) -> Result<Tensor> {
    let n = v.len();
    Tensor::from_vec(v, n, &Device::Cpu)
}
