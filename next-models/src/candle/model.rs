//! The llama forward pass, written for one prompt shared by many samples.
//!
//! A prompt is run once ([`Llama::prefill`], in chunks of candle tensor operations)
//! into a [`PromptCache`]. The samples then decode as the rows of one batch
//! ([`Llama::decode`], in [`super::decode`]): each row keeps only the keys and values of
//! its own generated tokens ([`RowCache`]), and attends to the prompt's through the one
//! shared copy, so that `n` samples cost the prompt once, in time and in memory. Rows
//! that finish are dropped from the batch ([`RowCache::retain`]).
//!
//! [`RowCache`]: super::decode::RowCache
//! [`RowCache::retain`]: super::decode::RowCache::retain
//!
//! A layer holds four matrices: the query, key and value matrices stacked into one, the
//! attention's output matrix, the gate and up matrices stacked into one, and the down
//! matrix. [`super::linear`] says how they are stacked, converted at load (see also
//! [`super::gguf`]) and split so that candle's fastest kernel applies without padding.
//! Without `output.weight` the output head is the embedding matrix.

// The forward pass keeps the usual one-letter tensor names (b rows, t prompt positions,
// s own positions, c chunk, q, k, v), and its sizes are far below the 2^23 that an `f32`
// holds exactly.
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_precision_loss
)]

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::adapter::Adapter;
use super::error::CandleError;
use super::gguf::{GgufFile, Hparams, WeightFormat};
use super::kernels::{self, tensor, with_data};
use super::linear::{tiled_kernel_available, Fused, Linear};
use super::target::Target;

type Result<T> = std::result::Result<T, candle_core::Error>;

/// Tokens of the prompt run through the model at once: bounds the attention scores'
/// memory (`heads x chunk x context` floats) while keeping the matrices wide.
pub(crate) const PREFILL_CHUNK: usize = 256;

/// A layer's weights, its projections stored as `S` where they are stacked and as `P`
/// where they are not: quantized for the inference ([`Layer`]), in `f32` for the
/// training (`train::net::FrozenLayer`).
pub(crate) struct Block<S, P> {
    /// The attention's input norm, `n_embd` wide.
    pub attn_norm: Vec<f32>,
    /// The query, key and value matrices, stacked: `(heads + 2 kv_heads) x head_dim`
    /// outputs.
    pub qkv: S,
    /// The attention's output projection.
    pub wo: P,
    /// The feed-forward's input norm, `n_embd` wide.
    pub ffn_norm: Vec<f32>,
    /// The gate and up matrices, stacked: `2 ff` outputs (gate rows, then up rows).
    pub gate_up: S,
    /// The feed-forward's output projection.
    pub down: P,
    /// The width of the feed-forward's hidden layer.
    pub ff: usize,
}

/// A layer of the inference model.
pub(super) type Layer = Block<Fused, Linear>;

/// A loaded llama-family model.
///
/// Invariant: the shapes of every weight agree with `hp` (checked at load), and the
/// `RoPE` tables cover `context` positions.
pub(crate) struct Llama {
    pub hp: Hparams,
    /// The most positions a prompt and its samples may take.
    pub context: usize,
    pub vocab: usize,
    pub(super) embed: QTensor,
    pub(super) layers: Vec<Layer>,
    pub(super) norm: Vec<f32>,
    pub(super) output: Linear,
    /// `(context, head_dim / 2)`.
    pub(super) cos: Tensor,
    pub(super) sin: Tensor,
}

/// The keys and values of a prompt, per layer `(kv_heads, len, head_dim)`.
pub(crate) struct PromptCache {
    pub(super) k: Vec<Tensor>,
    pub(super) v: Vec<Tensor>,
    pub(super) len: usize,
}

impl Llama {
    /// Loads the model of `file`.
    ///
    /// # Errors
    /// [`CandleError`] for a missing or misshapen tensor, or a rope scaling this
    /// forward pass does not implement.
    pub fn load(
        file: &mut GgufFile, adapter: Option<&Adapter>, format: WeightFormat, context: usize,
    ) -> std::result::Result<Self, CandleError> {
        let hp = model_hparams(file, adapter)?;
        let pad = format == WeightFormat::Q8_0 && tiled_kernel_available();
        let path = file.path.clone();
        let wrap = |name: &str, err: candle_core::Error| CandleError::Gguf {
            path: path.clone(),
            message: format!("converting `{name}`: {err}"),
        };
        let (embd, kv) = (hp.n_embd, hp.n_head_kv * hp.head_dim);
        let embed = file.embedding(embd)?;
        let vocab = embed.shape().dims().first().copied().unwrap_or(0);
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let ff = file.ffn_width(i);
            let mut mat = |target: Target,
                           rows: usize,
                           cols: usize|
             -> std::result::Result<QTensor, CandleError> {
                let name = format!("blk.{i}.{}.weight", target.gguf_name());
                let tensor = file.layer_matrix(i, target, rows, cols)?;
                match adapter.map(|a| a.delta(i, target)).transpose() {
                    Ok(Some(Some(delta))) => {
                        merge(&tensor, &delta, format).map_err(|err| wrap(&name, err))
                    }
                    Ok(_) => Ok(tensor),
                    Err(err) => Err(wrap(&name, err)),
                }
            };
            let qkv = vec![
                mat(Target::Q, embd, embd)?,
                mat(Target::K, kv, embd)?,
                mat(Target::V, kv, embd)?,
            ];
            let wo = mat(Target::O, embd, embd)?;
            let gate_up = vec![mat(Target::Gate, ff, embd)?, mat(Target::Up, ff, embd)?];
            let down = mat(Target::Down, embd, ff)?;
            let name = |part: &str| format!("blk.{i}.{part}");
            layers.push(Layer {
                attn_norm: file.floats(&format!("blk.{i}.attn_norm.weight"), embd)?,
                qkv: Fused::new(qkv, format, pad).map_err(|err| wrap(&name("attn_qkv"), err))?,
                wo: Linear::new(wo, format, pad).map_err(|err| wrap(&name("attn_output"), err))?,
                ffn_norm: file.floats(&format!("blk.{i}.ffn_norm.weight"), embd)?,
                gate_up: Fused::new(gate_up, format, pad)
                    .map_err(|err| wrap(&name("ffn_gate_up"), err))?,
                down: Linear::new(down, format, pad).map_err(|err| wrap(&name("ffn_down"), err))?,
                ff,
            });
        }
        let norm = file.floats("output_norm.weight", embd)?;
        // Tied embeddings: without `output.weight` the output head is the embedding.
        let output = if file.has_tensor("output.weight") {
            let tensor = file.tensor("output.weight")?;
            file.check_dims("output.weight", &tensor, &[vocab, embd])?;
            tensor
        } else {
            file.tensor("token_embd.weight")?
        };
        let output = Linear::new(output, format, pad).map_err(|err| wrap("output", err))?;
        let context = context.min(hp.context_length).max(1);
        let (cos, sin) = rope_tables(&hp, context).map_err(|err| wrap("rope tables", err))?;
        Ok(Self {
            hp,
            context,
            vocab,
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
        })
    }

    /// An empty prompt cache.
    pub fn prompt_cache(&self) -> Result<PromptCache> {
        let empty = || {
            Tensor::zeros(
                (self.hp.n_head_kv, 0, self.hp.head_dim),
                DType::F32,
                &Device::Cpu,
            )
        };
        let n = self.hp.n_layer;
        Ok(PromptCache {
            k: (0..n).map(|_| empty()).collect::<Result<_>>()?,
            v: (0..n).map(|_| empty()).collect::<Result<_>>()?,
            len: 0,
        })
    }

    /// Runs `tokens` through the model after what `cache` holds, and returns the logits
    /// of the last one, `(vocab,)`.
    pub fn prefill(&self, tokens: &[u32], cache: &mut PromptCache) -> Result<Tensor> {
        let mut logits = None;
        for chunk in tokens.chunks(PREFILL_CHUNK) {
            logits = Some(self.prefill_chunk(chunk, cache)?);
        }
        logits.ok_or_else(|| candle_core::Error::Msg("an empty prompt".into()))
    }

    fn prefill_chunk(&self, tokens: &[u32], cache: &mut PromptCache) -> Result<Tensor> {
        let hp = &self.hp;
        let (c, p0) = (tokens.len(), cache.len);
        let (nh, nkv, hd) = (hp.n_head, hp.n_head_kv, hp.head_dim);
        let groups = nh / nkv;
        let total = p0 + c;
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embed.embedding(&ids)?;
        let cos = self.cos.narrow(0, p0, c)?;
        let sin = self.sin.narrow(0, p0, c)?;
        let mask = causal_mask(c, p0)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for (layer, (ck, cv)) in self
            .layers
            .iter()
            .zip(cache.k.iter_mut().zip(cache.v.iter_mut()))
        {
            let h = self.rms_norm(&x, &layer.attn_norm)?;
            let qkv = layer.qkv.forward(&h)?;
            let q = qkv
                .narrow(1, 0, nh * hd)?
                .reshape((1, c, nh, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let k = qkv
                .narrow(1, nh * hd, nkv * hd)?
                .reshape((1, c, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = qkv
                .narrow(1, (nh + nkv) * hd, nkv * hd)?
                .reshape((c, nkv, hd))?
                .transpose(0, 1)?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?.squeeze(0)?;
            *ck = Tensor::cat(&[&*ck, &k], 1)?;
            *cv = Tensor::cat(&[&*cv, &v], 1)?.contiguous()?;
            // Heads h = kv * groups + j share key/value head kv.
            let q = q.reshape((nkv, groups * c, hd))?;
            let scores = (q.matmul(&ck.t()?)? * scale)?
                .reshape((nkv, groups, c, total))?
                .broadcast_add(&mask)?;
            let probs =
                candle_nn::ops::softmax_last_dim(&scores)?.reshape((nkv, groups * c, total))?;
            let attn = probs
                .matmul(&*cv)?
                .reshape((nh, c, hd))?
                .transpose(0, 1)?
                .reshape((c, nh * hd))?;
            x = (x + layer.wo.forward(&attn)?)?;
            x = (&x + self.mlp(layer, &x)?)?;
        }
        cache.len = total;
        let last = x.narrow(0, c - 1, 1)?;
        let last = self.rms_norm(&last, &self.norm)?;
        self.output.forward(&last)?.squeeze(0)
    }

    fn mlp(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let h = self.rms_norm(x, &layer.ffn_norm)?;
        let gate_up = layer.gate_up.forward(&h)?;
        let act = with_data(&gate_up, |g| kernels::silu_mul(g, layer.ff))?;
        layer.down.forward(&tensor(act, &[x.dim(0)?, layer.ff])?)
    }

    /// The rows of `x` normalized and scaled by `weight`.
    fn rms_norm(&self, x: &Tensor, weight: &[f32]) -> Result<Tensor> {
        let h = with_data(x, |x| kernels::rms_norm(x, weight, self.hp.rms_eps))?;
        tensor(h, x.dims())
    }
}

/// The hyper-parameters of the model of `file`, checked to be a model these forward
/// passes run and, when given, one that `adapter` fits.
///
/// # Errors
/// As [`Hparams::read`]; [`CandleError::Unsupported`] for rope scaling or
/// per-frequency factors; [`CandleError::Adapter`] for an adapter of another model.
pub(crate) fn model_hparams(
    file: &GgufFile, adapter: Option<&Adapter>,
) -> std::result::Result<Hparams, CandleError> {
    let hp = Hparams::read(file)?;
    check_rope(file)?;
    if let Some(adapter) = adapter {
        adapter
            .check_base(hp.n_layer, hp.n_embd)
            .map_err(|message| CandleError::Adapter {
                path: file.path.clone(),
                message,
            })?;
    }
    Ok(hp)
}

/// Refuses the rotary-embedding variants this forward pass does not implement.
fn check_rope(file: &GgufFile) -> std::result::Result<(), CandleError> {
    if let Ok(kind) = file.string("llama.rope.scaling.type") {
        if kind != "none" {
            return Err(file.unsupported(format!("rope scaling `{kind}` is not supported")));
        }
    }
    if file.has_tensor("rope_freqs.weight") {
        return Err(file.unsupported("per-frequency rope factors (rope_freqs) are not supported"));
    }
    Ok(())
}

/// `tensor` plus `delta`, in the type `format` makes of merged weights: `Q8_0` (a
/// step 17 times finer than `Q4_1`'s, so that a small update survives), `f32`, or the
/// stored type.
fn merge(tensor: &QTensor, delta: &Tensor, format: WeightFormat) -> Result<QTensor> {
    let merged = (tensor.dequantize(&Device::Cpu)? + delta)?;
    let dtype = match format {
        WeightFormat::Q8_0 => GgmlDType::Q8_0,
        WeightFormat::F32 => GgmlDType::F32,
        WeightFormat::AsStored => tensor.dtype(),
    };
    QTensor::quantize(&merged, dtype)
}

/// `(chunk, past + chunk)`: 0 where query `i` (at position `past + i`) may see key `j`,
/// minus infinity where `j` lies in its future.
pub(crate) fn causal_mask(chunk: usize, past: usize) -> Result<Tensor> {
    let total = past + chunk;
    let mask: Vec<f32> = (0..chunk)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (chunk, total), &Device::Cpu)
}

/// The `RoPE` tables `(context, head_dim / 2)`: angle `pos * base^(-2i/head_dim)`.
pub(crate) fn rope_tables(hp: &Hparams, context: usize) -> Result<(Tensor, Tensor)> {
    let half = hp.head_dim / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / hp.rope_freq_base.powf((2 * i) as f32 / hp.head_dim as f32))
        .collect();
    let inv = Tensor::from_vec(inv, (1, half), &Device::Cpu)?;
    let positions: Vec<f32> = (0..context).map(|p| p as f32).collect();
    let positions = Tensor::from_vec(positions, (context, 1), &Device::Cpu)?;
    let angles = positions.broadcast_mul(&inv)?;
    Ok((angles.cos()?, angles.sin()?))
}
