//! The llama forward pass, written for one prompt shared by many samples.
//!
//! A prompt is run once ([`Llama::prefill`], in chunks) into a [`PromptCache`]. The
//! samples then decode as the rows of one batch ([`Llama::decode`]): each row keeps only
//! the keys and values of its own generated tokens ([`RowCache`]), and attends to the
//! prompt's through the one shared copy, so that `n` samples cost the prompt once, in
//! time and in memory. Rows that finish are dropped from the batch
//! ([`RowCache::retain`]).
//!
//! Every matrix goes through candle's [`QMatMul`]; see [`super::gguf`] for how weights
//! are converted at load and padded so that candle's fastest kernel applies.

// The forward pass keeps the usual one-letter tensor names (b rows, t prompt positions,
// s own positions, c chunk, q, k, v), and its sizes are far below the 2^23 that an `f32`
// holds exactly.
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_precision_loss
)]

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};

use super::error::CandleError;
use super::gguf::{self, GgufFile, Hparams, WeightFormat};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// Tokens of the prompt run through the model at once: bounds the attention scores'
/// memory (`heads x chunk x context` floats) while keeping the matrices wide.
pub(crate) const PREFILL_CHUNK: usize = 256;

/// A weight matrix and the width its input is padded to.
///
/// Invariant: `padded_k >= k`; the matrix's columns past `k` are zero.
struct Linear {
    weight: QMatMul,
    k: usize,
    padded_k: usize,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.weight.forward(&self.input(x)?)
    }

    /// `x` padded to this matrix's width: what [`Linear::apply`] takes, and what
    /// matrices of the same width can share.
    fn input(&self, x: &Tensor) -> Result<Tensor> {
        if self.padded_k == self.k {
            Ok(x.clone())
        } else {
            x.pad_with_zeros(D::Minus1, 0, self.padded_k - self.k)
        }
    }

    fn apply(&self, padded: &Tensor) -> Result<Tensor> {
        self.weight.forward(padded)
    }
}

struct Layer {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded llama-family model.
///
/// Invariant: the shapes of every weight agree with `hp` (checked at load), and the
/// `RoPE` tables cover `context` positions.
pub(crate) struct Llama {
    pub hp: Hparams,
    /// The most positions a prompt and its samples may take.
    pub context: usize,
    pub vocab: usize,
    embed: QTensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
}

/// The keys and values of a prompt, per layer `(kv_heads, len, head_dim)`.
pub(crate) struct PromptCache {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
    len: usize,
}

/// The keys and values of each row's generated tokens, per layer
/// `(rows, kv_heads, capacity, head_dim)`, of which the first `len` positions are set.
pub(crate) struct RowCache {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
    rows: usize,
    len: usize,
    capacity: usize,
}

impl RowCache {
    /// Keeps the rows at `keep` (indices in increasing order), dropping the others.
    pub fn retain(&mut self, keep: &[usize]) -> Result<()> {
        if keep.len() == self.rows {
            return Ok(());
        }
        let index = Tensor::from_vec(
            keep.iter()
                .map(|&i| u32::try_from(i).unwrap_or(u32::MAX))
                .collect::<Vec<u32>>(),
            keep.len(),
            &Device::Cpu,
        )?;
        for t in self.k.iter_mut().chain(self.v.iter_mut()) {
            *t = t.index_select(&index, 0)?;
        }
        self.rows = keep.len();
        Ok(())
    }
}

/// Whether candle's tiled int8 kernel (AVX-512 VNNI or AVX-VNNI, picked at run time)
/// serves `Q8_0` matrices whose inner width is a multiple of 256; when it does, narrower
/// matrices are padded to use it.
fn tiled_kernel_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vnni"))
            || (std::arch::is_x86_feature_detected!("avxvnni")
                && std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Re-quantizes `tensor` to `Q8_0` with its rows padded with zeros to `padded_k`.
fn padded_q8_0(tensor: &QTensor, padded_k: usize) -> Result<QMatMul> {
    let dense = tensor.dequantize(&Device::Cpu)?;
    let k = dense.dim(1)?;
    let dense = dense.pad_with_zeros(1, 0, padded_k - k)?;
    QMatMul::from_qtensor(QTensor::quantize(&dense, GgmlDType::Q8_0)?)
}

fn linear(tensor: QTensor, format: WeightFormat, pad: bool) -> Result<Linear> {
    let k = tensor.shape().dims()[1];
    let becomes_q8_0 = tensor.dtype() == GgmlDType::Q8_0
        || (format == WeightFormat::Q8_0
            && matches!(
                tensor.dtype(),
                GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1
            ));
    let padded_k = k.div_ceil(256) * 256;
    if pad && becomes_q8_0 && padded_k != k {
        return Ok(Linear {
            weight: padded_q8_0(&tensor, padded_k)?,
            k,
            padded_k,
        });
    }
    Ok(Linear {
        weight: gguf::to_matmul(tensor, format)?,
        k,
        padded_k: k,
    })
}

impl Llama {
    /// Loads the model of `file`.
    ///
    /// # Errors
    /// [`CandleError`] for a missing or misshapen tensor, or a rope scaling this
    /// forward pass does not implement.
    pub fn load(
        file: &mut GgufFile,
        format: WeightFormat,
        context: usize,
    ) -> std::result::Result<Self, CandleError> {
        let hp = Hparams::read(file)?;
        if let Ok(kind) = file.string("llama.rope.scaling.type") {
            if kind != "none" {
                return Err(file.unsupported(format!("rope scaling `{kind}` is not supported")));
            }
        }
        if file.has_tensor("rope_freqs.weight") {
            return Err(
                file.unsupported("per-frequency rope factors (rope_freqs) are not supported")
            );
        }
        let pad = format == WeightFormat::Q8_0 && tiled_kernel_available();
        let path = file.path.clone();
        let wrap = |name: &str, err: candle_core::Error| CandleError::Gguf {
            path: path.clone(),
            message: format!("converting `{name}`: {err}"),
        };
        let (embd, kv) = (hp.n_embd, hp.n_head_kv * hp.head_dim);
        let embed = file.tensor("token_embd.weight")?;
        let vocab = embed.shape().dims().first().copied().unwrap_or(0);
        file.check_dims("token_embd.weight", &embed, &[vocab, embd])?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let ff = file
                .dims(&format!("blk.{i}.ffn_up.weight"))
                .first()
                .copied()
                .unwrap_or(0);
            let mut mat = |part: &str,
                           rows: usize,
                           cols: usize|
             -> std::result::Result<Linear, CandleError> {
                let name = format!("blk.{i}.{part}.weight");
                let tensor = file.tensor(&name)?;
                file.check_dims(&name, &tensor, &[rows, cols])?;
                linear(tensor, format, pad).map_err(|err| wrap(&name, err))
            };
            let wq = mat("attn_q", embd, embd)?;
            let wk = mat("attn_k", kv, embd)?;
            let wv = mat("attn_v", kv, embd)?;
            let wo = mat("attn_output", embd, embd)?;
            let gate = mat("ffn_gate", ff, embd)?;
            let up = mat("ffn_up", ff, embd)?;
            let down = mat("ffn_down", embd, ff)?;
            layers.push(Layer {
                attn_norm: file.vector(&format!("blk.{i}.attn_norm.weight"), embd)?,
                wq,
                wk,
                wv,
                wo,
                ffn_norm: file.vector(&format!("blk.{i}.ffn_norm.weight"), embd)?,
                gate,
                up,
                down,
            });
        }
        let norm = file.vector("output_norm.weight", embd)?;
        // Tied embeddings: without `output.weight` the output head is the embedding.
        let output = if file.has_tensor("output.weight") {
            let tensor = file.tensor("output.weight")?;
            file.check_dims("output.weight", &tensor, &[vocab, embd])?;
            tensor
        } else {
            file.tensor("token_embd.weight")?
        };
        let output = linear(output, format, pad).map_err(|err| wrap("output", err))?;
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

    /// An empty row cache for `rows` rows that will hold up to `max_len` tokens each.
    pub fn row_cache(&self, rows: usize, max_len: usize) -> Result<RowCache> {
        let capacity = max_len.clamp(1, 64);
        let shape = (rows, self.hp.n_head_kv, capacity, self.hp.head_dim);
        let mut k = Vec::with_capacity(self.hp.n_layer);
        let mut v = Vec::with_capacity(self.hp.n_layer);
        for _ in 0..self.hp.n_layer {
            k.push(Tensor::zeros(shape, DType::F32, &Device::Cpu)?);
            v.push(Tensor::zeros(shape, DType::F32, &Device::Cpu)?);
        }
        Ok(RowCache {
            k,
            v,
            rows,
            len: 0,
            capacity,
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
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, hp.rms_eps)?;
            let h = layer.wq.input(&h)?;
            let q = layer
                .wq
                .apply(&h)?
                .reshape((1, c, nh, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let k = layer
                .wk
                .apply(&h)?
                .reshape((1, c, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = layer.wv.apply(&h)?.reshape((c, nkv, hd))?.transpose(0, 1)?;
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
        let last = candle_nn::ops::rms_norm(&last, &self.norm, hp.rms_eps)?;
        self.output.forward(&last)?.squeeze(0)
    }

    fn mlp(&self, layer: &Layer, x: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::rms_norm(x, &layer.ffn_norm, self.hp.rms_eps)?;
        let h = layer.gate.input(&h)?;
        let gate = candle_nn::ops::silu(&layer.gate.apply(&h)?)?;
        layer.down.forward(&(gate * layer.up.apply(&h)?)?)
    }

    /// Decodes one token for each row: `tokens[r]` is row `r`'s latest token. Returns the
    /// logits `(rows, vocab)`.
    pub fn decode(
        &self,
        tokens: &[u32],
        prompt: &PromptCache,
        rows: &mut RowCache,
    ) -> Result<Tensor> {
        let hp = &self.hp;
        let b = tokens.len();
        if b != rows.rows {
            return Err(candle_core::Error::Msg(format!(
                "{b} tokens for {} rows",
                rows.rows
            )));
        }
        let (nh, nkv, hd) = (hp.n_head, hp.n_head_kv, hp.head_dim);
        let groups = nh / nkv;
        let (t, s) = (prompt.len, rows.len);
        if rows.len == rows.capacity {
            grow(rows)?;
        }
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = self.embed.embedding(&ids)?;
        let cos = self.cos.narrow(0, t + s, 1)?;
        let sin = self.sin.narrow(0, t + s, 1)?;
        let scale = 1.0 / (hd as f64).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, hp.rms_eps)?;
            let h = layer.wq.input(&h)?;
            let q = layer.wq.apply(&h)?.reshape((b, nh, 1, hd))?;
            let k = layer.wk.apply(&h)?.reshape((b, nkv, 1, hd))?;
            let v = layer.wv.apply(&h)?.reshape((b, nkv, 1, hd))?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
            rows.k[l].slice_set(&k, 2, s)?;
            rows.v[l].slice_set(&v, 2, s)?;
            let own_k = rows.k[l].narrow(2, 0, s + 1)?;
            let own_v = rows.v[l].narrow(2, 0, s + 1)?;
            // Against the shared prompt: the rows' heads of one key/value head as one matrix.
            let q = q.reshape((b, nkv, groups, hd))?;
            let q_shared = q
                .transpose(0, 1)?
                .contiguous()?
                .reshape((nkv, b * groups, hd))?;
            let shared = q_shared
                .matmul(&prompt.k[l].t()?)?
                .reshape((nkv, b, groups, t))?
                .transpose(0, 1)?;
            let own = q.contiguous()?.matmul(&own_k.t()?)?;
            let scores = (Tensor::cat(&[&shared, &own], 3)? * scale)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let p_shared = probs
                .narrow(3, 0, t)?
                .transpose(0, 1)?
                .contiguous()?
                .reshape((nkv, b * groups, t))?;
            let from_prompt = p_shared
                .matmul(&prompt.v[l])?
                .reshape((nkv, b, groups, hd))?
                .transpose(0, 1)?;
            let p_own = probs.narrow(3, t, s + 1)?.contiguous()?;
            let from_own = p_own.matmul(&own_v.contiguous()?)?;
            let attn = (from_prompt + from_own)?.reshape((b, nh * hd))?;
            x = (x + layer.wo.forward(&attn)?)?;
            x = (&x + self.mlp(layer, &x)?)?;
        }
        rows.len = s + 1;
        let x = candle_nn::ops::rms_norm(&x, &self.norm, hp.rms_eps)?;
        self.output.forward(&x)
    }
}

/// Doubles the capacity of a row cache, keeping what it holds.
fn grow(rows: &mut RowCache) -> Result<()> {
    let capacity = rows.capacity * 2;
    for t in rows.k.iter_mut().chain(rows.v.iter_mut()) {
        let (b, h, _, d) = t.dims4()?;
        let bigger = Tensor::zeros((b, h, capacity, d), DType::F32, &Device::Cpu)?;
        bigger.slice_set(&*t, 2, 0)?;
        *t = bigger;
    }
    rows.capacity = capacity;
    Ok(())
}

/// `(chunk, past + chunk)`: 0 where query `i` (at position `past + i`) may see key `j`,
/// minus infinity where `j` lies in its future.
fn causal_mask(chunk: usize, past: usize) -> Result<Tensor> {
    let total = past + chunk;
    let mask: Vec<f32> = (0..chunk)
        .flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (chunk, total), &Device::Cpu)
}

/// The `RoPE` tables `(context, head_dim / 2)`: angle `pos * base^(-2i/head_dim)`.
fn rope_tables(hp: &Hparams, context: usize) -> Result<(Tensor, Tensor)> {
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
