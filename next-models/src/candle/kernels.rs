//! The small per-row steps of decoding, on plain slices.
//!
//! A decoding step multiplies a handful of rows by each matrix; between the matrices,
//! the normalizations, the rotary embedding, the softmax and the activation touch only
//! a few thousand numbers. As candle operations each would allocate a tensor and, for
//! some, wake the thread pool; here they are loops over the rows that write what the
//! next matrix takes (padded to its width) in one pass.

use candle_core::{Device, Storage, Tensor};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// Calls `f` with the numbers of `t` (an `f32` tensor on the CPU), in row-major order.
pub(crate) fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(candle_core::Error::Msg("decoding runs on the CPU".into()));
    };
    let data = cpu.as_slice::<f32>()?;
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("a strided tensor".into()))?;
    Ok(f(&data[start..end]))
}

/// A `(rows, width)` tensor of `data`.
pub(crate) fn tensor(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Tensor::from_vec(data, shape, &Device::Cpu)
}

/// The rows of `x` (each `weight.len()` wide) normalized by their root mean square and
/// scaled by `weight`.
// A row's width is far below the 2^23 that an `f32` holds exactly.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let width = weight.len();
    let mut out = vec![0.0; x.len()];
    for (row, dst) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let sum: f32 = row.iter().map(|v| v * v).sum();
        let rms = (sum / width as f32 + eps).sqrt();
        for ((d, s), w) in dst.iter_mut().zip(row).zip(weight) {
            *d = *s / rms * *w;
        }
    }
    out
}

/// `x += y`, element by element.
pub(crate) fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += *b;
    }
}

/// Rotates the consecutive pairs `(x[2i], x[2i+1])` of each head (`cos.len() * 2`
/// numbers) by the angles of `cos` and `sin`: the interleaved rotary embedding.
pub(crate) fn rope(x: &mut [f32], cos: &[f32], sin: &[f32]) {
    for head in x.chunks_exact_mut(cos.len() * 2) {
        for ((pair, c), s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
            let (a, b) = (pair[0], pair[1]);
            pair[0] = a * c - b * s;
            pair[1] = a * s + b * c;
        }
    }
}

/// `silu(gate) * up` for rows holding `[gate | up]` (each `width` wide).
pub(crate) fn silu_mul(gate_up: &[f32], width: usize) -> Vec<f32> {
    let mut out = vec![0.0; gate_up.len() / 2];
    for (row, dst) in gate_up
        .chunks_exact(2 * width)
        .zip(out.chunks_exact_mut(width))
    {
        let (gate, up) = row.split_at(width);
        for ((d, g), u) in dst.iter_mut().zip(gate).zip(up) {
            *d = *g / (1.0 + (-*g).exp()) * *u;
        }
    }
    out
}

/// The sizes of one decoding step's attention.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionShape {
    pub rows: usize,
    pub kv_heads: usize,
    /// Query heads per key/value head.
    pub groups: usize,
    pub head_dim: usize,
    /// Positions of the shared prompt.
    pub prompt: usize,
    /// Positions of each row's own tokens, the latest included.
    pub own: usize,
    /// Positions each row's cache holds room for.
    pub capacity: usize,
}

/// `a . b`, in eight lanes so that it vectorizes.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// `acc += p v`.
fn axpy(acc: &mut [f32], p: f32, v: &[f32]) {
    for (a, x) in acc.iter_mut().zip(v) {
        *a += p * *x;
    }
}

/// The attention of one decoding step: for each row and query head, the softmax of its
/// scaled scores against the prompt's keys and its row's own keys, applied to the
/// matching values. `q` is `(kv_heads, rows, groups, head_dim)`, the prompt's keys and
/// values `(kv_heads, prompt, head_dim)`, the rows' `(kv_heads, rows, capacity,
/// head_dim)` (of which the first `own` positions are read); the result is the rows
/// `(rows, kv_heads x groups x head_dim)`, heads in order. Each row is computed alone,
/// in the same order whatever the number of rows.
pub(crate) fn attention(
    q: &[f32], (prompt_k, prompt_v): (&[f32], &[f32]), (own_k, own_v): (&[f32], &[f32]),
    shape: AttentionShape, scale: f32,
) -> Vec<f32> {
    let AttentionShape {
        rows,
        kv_heads,
        groups,
        head_dim: hd,
        prompt,
        own,
        capacity,
    } = shape;
    let width = kv_heads * groups * hd;
    let mut out = vec![0.0; rows * width];
    let mut scores = vec![0.0; prompt + own];
    for kv in 0..kv_heads {
        let pk = &prompt_k[kv * prompt * hd..(kv + 1) * prompt * hd];
        let pv = &prompt_v[kv * prompt * hd..(kv + 1) * prompt * hd];
        for r in 0..rows {
            let at = (kv * rows + r) * capacity * hd;
            let ok = &own_k[at..at + own * hd];
            let ov = &own_v[at..at + own * hd];
            for j in 0..groups {
                let head = kv * groups + j;
                let qh = &q[((kv * rows + r) * groups + j) * hd..][..hd];
                for (s, k) in scores
                    .iter_mut()
                    .zip(pk.chunks_exact(hd).chain(ok.chunks_exact(hd)))
                {
                    *s = dot(qh, k) * scale;
                }
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut sum = 0.0;
                for s in &mut scores {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                let dst = &mut out[r * width + head * hd..][..hd];
                for (p, v) in scores
                    .iter()
                    .zip(pv.chunks_exact(hd).chain(ov.chunks_exact(hd)))
                {
                    axpy(dst, *p / sum, v);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_scales() {
        let out = rms_norm(&[3.0, 4.0], &[1.0, 2.0], 0.0);
        let rms = (12.5f32).sqrt();
        assert_eq!(out, vec![3.0 / rms, 4.0 / rms * 2.0]);
    }

    #[test]
    fn attention_weighs_the_prompt_and_the_row_s_own_values() {
        // One key/value head, two rows, one query head, head_dim 2; a prompt of one
        // position and, per row, one own position in a cache of capacity 2.
        let shape = AttentionShape {
            rows: 2,
            kv_heads: 1,
            groups: 1,
            head_dim: 2,
            prompt: 1,
            own: 1,
            capacity: 2,
        };
        let q = [1.0, 0.0, 0.0, 1.0];
        let (pk, pv) = ([1.0, 0.0], [10.0, 20.0]);
        let own_k = [0.0, 0.0, 9.0, 9.0, 0.0, 2.0, 9.0, 9.0];
        let own_v = [1.0, 2.0, 9.0, 9.0, 3.0, 4.0, 9.0, 9.0];
        let out = attention(&q, (&pk, &pv), (&own_k, &own_v), shape, 1.0);
        // Row 0: scores (1, 0); row 1: scores (0, 2).
        let mix = |s0: f32, s1: f32, v0: [f32; 2], v1: [f32; 2]| {
            let (e0, e1) = (s0.exp(), s1.exp());
            [
                (e0 * v0[0] + e1 * v1[0]) / (e0 + e1),
                (e0 * v0[1] + e1 * v1[1]) / (e0 + e1),
            ]
        };
        let want: Vec<f32> = mix(1.0, 0.0, [10.0, 20.0], [1.0, 2.0])
            .into_iter()
            .chain(mix(0.0, 2.0, [10.0, 20.0], [3.0, 4.0]))
            .collect();
        for (got, want) in out.iter().zip(&want) {
            assert!((got - want).abs() < 1e-4, "{out:?} != {want:?}");
        }
    }

    #[test]
    fn rope_rotates_pairs() {
        let mut x = vec![1.0, 0.0, 0.0, 1.0];
        rope(&mut x, &[0.0], &[1.0]);
        assert_eq!(x, vec![0.0, 1.0, -1.0, 0.0]);
    }

    #[test]
    fn silu_mul_gates() {
        let out = silu_mul(&[0.0, 2.0, 1.0, 3.0], 1);
        assert_eq!(out, vec![0.0, 3.0 / (1.0 + (-1.0f32).exp())]);
    }
}
