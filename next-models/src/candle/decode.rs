//! One decoding step of a batch of rows ([`Llama::decode`]), each row one sample of the
//! shared prompt, and the rows' own keys and values ([`RowCache`]).
//!
//! Between the matrix products the rows stay plain vectors: the normalizations, the
//! rotary embedding, the attention and the activation are the loops of
//! [`super::kernels`], which touch a few thousand numbers a row where a candle operation
//! would allocate a tensor (and some wake the thread pool) for each step. A step is
//! thus, per layer, four matrix products through candle (the stacked query/key/value
//! matrix, the output matrix, the stacked gate/up matrix, the down matrix; see
//! [`super::linear`]) and five loops. Every row is computed alone, in the same order
//! whatever the batch holds, so that a row's tokens do not depend on its batch.

#![allow(clippy::many_single_char_names, clippy::cast_precision_loss)]

use candle_core::{Device, Tensor};

use super::kernels::{self, tensor, with_data, AttentionShape};
use super::model::{Llama, PromptCache};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// The keys and values of each row's generated tokens, per layer
/// `(kv_heads, rows, capacity, head_dim)`, of which the first `len` positions are set.
pub(crate) struct RowCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    kv_heads: usize,
    head_dim: usize,
    rows: usize,
    len: usize,
    capacity: usize,
}

impl RowCache {
    /// Keeps the rows at `keep` (indices in increasing order), dropping the others.
    pub fn retain(&mut self, keep: &[usize]) {
        if keep.len() == self.rows {
            return;
        }
        let block = self.capacity * self.head_dim;
        for cache in self.k.iter_mut().chain(self.v.iter_mut()) {
            let mut kept = Vec::with_capacity(self.kv_heads * keep.len() * block);
            for kv in 0..self.kv_heads {
                for &r in keep {
                    let at = (kv * self.rows + r) * block;
                    kept.extend_from_slice(&cache[at..at + block]);
                }
            }
            *cache = kept;
        }
        self.rows = keep.len();
    }

    /// Doubles the capacity, keeping what it holds.
    fn grow(&mut self) {
        let (old, capacity) = (self.capacity * self.head_dim, self.capacity * 2);
        for cache in self.k.iter_mut().chain(self.v.iter_mut()) {
            let mut bigger = vec![0.0; self.kv_heads * self.rows * capacity * self.head_dim];
            for (dst, src) in bigger
                .chunks_exact_mut(capacity * self.head_dim)
                .zip(cache.chunks_exact(old))
            {
                dst[..old].copy_from_slice(src);
            }
            *cache = bigger;
        }
        self.capacity = capacity;
    }

    /// Stores the keys and values `(kv_heads, rows, head_dim)` of layer `l` at the next
    /// position.
    fn push(&mut self, l: usize, k: &[f32], v: &[f32]) {
        let hd = self.head_dim;
        for (i, (k, v)) in k.chunks_exact(hd).zip(v.chunks_exact(hd)).enumerate() {
            let at = (i * self.capacity + self.len) * hd;
            self.k[l][at..at + hd].copy_from_slice(k);
            self.v[l][at..at + hd].copy_from_slice(v);
        }
    }
}

impl Llama {
    /// An empty row cache for `rows` rows that will hold up to `max_len` tokens each.
    pub fn row_cache(&self, rows: usize, max_len: usize) -> RowCache {
        let capacity = max_len.clamp(1, 64);
        let (kv_heads, head_dim) = (self.hp.n_head_kv, self.hp.head_dim);
        let empty = || vec![0.0; kv_heads * rows * capacity * head_dim];
        RowCache {
            k: (0..self.hp.n_layer).map(|_| empty()).collect(),
            v: (0..self.hp.n_layer).map(|_| empty()).collect(),
            kv_heads,
            head_dim,
            rows,
            len: 0,
            capacity,
        }
    }

    /// Decodes one token for each row: `tokens[r]` is row `r`'s latest token. Returns the
    /// logits `(rows, vocab)`.
    pub fn decode(
        &self, tokens: &[u32], prompt: &PromptCache, rows: &mut RowCache,
    ) -> Result<Tensor> {
        let hp = &self.hp;
        let b = tokens.len();
        if b != rows.rows {
            return Err(candle_core::Error::Msg(format!(
                "{b} tokens for {} rows",
                rows.rows
            )));
        }
        let (t, s) = (prompt.len, rows.len);
        if rows.len == rows.capacity {
            rows.grow();
        }
        let shape = AttentionShape {
            rows: b,
            kv_heads: hp.n_head_kv,
            groups: hp.n_head / hp.n_head_kv,
            head_dim: hp.head_dim,
            prompt: t,
            own: s + 1,
            capacity: rows.capacity,
        };
        let ids = Tensor::new(tokens, &Device::Cpu)?;
        let mut x = with_data(&self.embed.embedding(&ids)?, <[f32]>::to_vec)?;
        let cos = with_data(&self.cos.narrow(0, t + s, 1)?, <[f32]>::to_vec)?;
        let sin = with_data(&self.sin.narrow(0, t + s, 1)?, <[f32]>::to_vec)?;
        let scale = 1.0 / (hp.head_dim as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            let h = kernels::rms_norm(&x, &layer.attn_norm, hp.rms_eps);
            let qkv = layer.qkv.forward_rows(&h)?;
            let (q, k, v) = split_heads(&qkv, shape, &cos, &sin);
            rows.push(l, &k, &v);
            let attn = with_data(&prompt.k[l], |pk| {
                with_data(&prompt.v[l], |pv| {
                    kernels::attention(&q, (pk, pv), (&rows.k[l], &rows.v[l]), shape, scale)
                })
            })??;
            kernels::add_assign(&mut x, &layer.wo.forward_rows(&attn)?);
            let h = kernels::rms_norm(&x, &layer.ffn_norm, hp.rms_eps);
            let act = kernels::silu_mul(&layer.gate_up.forward_rows(&h)?, layer.ff);
            kernels::add_assign(&mut x, &layer.down.forward_rows(&act)?);
        }
        rows.len = s + 1;
        let h = kernels::rms_norm(&x, &self.norm, hp.rms_eps);
        tensor(self.output.forward_rows(&h)?, &[b, self.vocab])
    }
}

/// Splits the rows of the stacked query/key/value product, `(rows, [q | k | v])`, into
/// the queries `(kv_heads, rows, groups, head_dim)` and the keys and values
/// `(kv_heads, rows, head_dim)`, queries and keys rotated by `cos` and `sin`.
fn split_heads(
    qkv: &[f32], shape: AttentionShape, cos: &[f32], sin: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let AttentionShape {
        rows: b,
        kv_heads: nkv,
        groups,
        head_dim: hd,
        ..
    } = shape;
    let group = groups * hd;
    let mut q = vec![0.0; b * nkv * group];
    let mut k = vec![0.0; b * nkv * hd];
    let mut v = vec![0.0; b * nkv * hd];
    for (r, row) in qkv.chunks_exact((groups + 2) * nkv * hd).enumerate() {
        let (row_q, rest) = row.split_at(nkv * group);
        let (row_k, row_v) = rest.split_at(nkv * hd);
        for kv in 0..nkv {
            let i = kv * b + r;
            let dst = &mut q[i * group..(i + 1) * group];
            dst.copy_from_slice(&row_q[kv * group..(kv + 1) * group]);
            kernels::rope(dst, cos, sin);
            let dst = &mut k[i * hd..(i + 1) * hd];
            dst.copy_from_slice(&row_k[kv * hd..(kv + 1) * hd]);
            kernels::rope(dst, cos, sin);
            v[i * hd..(i + 1) * hd].copy_from_slice(&row_v[kv * hd..(kv + 1) * hd]);
        }
    }
    (q, k, v)
}
