//! The per-row steps of the training pass, forward and backward, on plain slices: the
//! RMS norm, the rotary embedding, the attention's causal softmax, the feed-forward's
//! activation and the log-sum-exp of the loss.
//!
//! Each is one pass over its rows, in parallel on rayon's pool, written into a buffer
//! the caller owns. Their definitions are the compositions of candle operations in
//! [`super::ops`]; the tests hold each to its composition, forward and backward
//! (through the operations of [`super::fused`], which wrap them).

// The usual one-letter names of the formulas (x, g, w, p, t, ...).
#![allow(clippy::many_single_char_names, clippy::similar_names)]

use rayon::prelude::*;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// `e^x`, without libm's slow path for results that underflow to 0 or overflow to
/// infinity (the masked and far-off scores, most of a vocabulary's logits), which took
/// ten times as long as the others.
fn exp(x: f32) -> f32 {
    if x < -87.5 {
        0.0
    } else if x > 88.5 {
        f32::INFINITY
    } else {
        x.exp()
    }
}

/// `1 / rms` of a row, with `eps` under the root.
// A row's width is far below 2^23.
#[allow(clippy::cast_precision_loss)]
fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let sum: f32 = row.iter().map(|v| v * v).sum();
    1.0 / (sum / row.len() as f32 + eps).sqrt()
}

/// `out` = the rows of `x` (each `weight.len()` wide) divided by their root mean
/// square and scaled by `weight`.
pub(crate) fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let w = weight.len();
    out.par_chunks_mut(w * ROWS_PER_TASK)
        .zip(x.par_chunks(w * ROWS_PER_TASK))
        .for_each(|(dst, src)| {
            for (d, x) in dst.chunks_exact_mut(w).zip(src.chunks_exact(w)) {
                let inv = inv_rms(x, eps);
                for ((d, x), w) in d.iter_mut().zip(x).zip(weight) {
                    *d = x * inv * w;
                }
            }
        });
}

/// `dx += ` the gradient of [`rms_norm`]'s input `x` for the gradient `g` of its output
/// (or `dx = ` when `add` is false).
// A row's width is far below 2^23.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn rms_norm_back(
    x: &[f32], weight: &[f32], eps: f32, g: &[f32], dx: &mut [f32], add: bool,
) {
    let w = weight.len();
    dx.par_chunks_mut(w * ROWS_PER_TASK)
        .zip(
            x.par_chunks(w * ROWS_PER_TASK)
                .zip(g.par_chunks(w * ROWS_PER_TASK)),
        )
        .for_each(|(dst, (x, g))| {
            let rows = dst
                .chunks_exact_mut(w)
                .zip(x.chunks_exact(w).zip(g.chunks_exact(w)));
            for (d, (x, g)) in rows {
                // y = x r w with r = 1 / rms(x): dx = r (g w - x r mean(g w x r)).
                let r = inv_rms(x, eps);
                let dot: f32 = g
                    .iter()
                    .zip(x)
                    .zip(weight)
                    .map(|((g, x), w)| g * w * x * r)
                    .sum::<f32>()
                    / w as f32;
                for (((d, x), g), wt) in d.iter_mut().zip(x).zip(g).zip(weight) {
                    let v = r * (g * wt - x * r * dot);
                    *d = if add { *d + v } else { v };
                }
            }
        });
}

/// The interleaved rotary embedding, in place: in each row of `x` (rows `width` wide,
/// row `i` at position `i % positions`), the first `rotated` numbers, heads of
/// `2 * half` numbers, have each pair `(h[2k], h[2k+1])` rotated by `sign` times the
/// angle whose cosine and sine are `cos[p * half + k]` and `sin[p * half + k]`. A
/// `sign` of -1 rotates back: the backward pass.
///
/// # Panics
/// When the tables hold fewer than `positions * half` angles, or `rotated` exceeds
/// `width`.
// The arguments are the layout of the rows; grouping them would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rope(
    x: &mut [f32], width: usize, rotated: usize, positions: usize, cos: &[f32], sin: &[f32],
    half: usize, sign: f32,
) {
    assert!(cos.len() >= positions * half && sin.len() >= positions * half && rotated <= width);
    x.par_chunks_mut(width * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| {
            for (k, row) in rows.chunks_exact_mut(width).enumerate() {
                let p = (task * ROWS_PER_TASK + k) % positions;
                let (cos, sin) = (&cos[p * half..][..half], &sin[p * half..][..half]);
                for head in row[..rotated].chunks_exact_mut(2 * half) {
                    for ((pair, c), s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
                        let s = sign * s;
                        let (a, b) = (pair[0], pair[1]);
                        pair[0] = a * c - b * s;
                        pair[1] = a * s + b * c;
                    }
                }
            }
        });
}

/// `softmax(scale * s)` in place over each row of `s`, rows of `positions` keys, row
/// `i` the query at position `i % positions`: keys after the query are masked out
/// (their probability is written 0). The attention's weights.
#[cfg(test)]
pub(crate) fn causal_softmax(s: &mut [f32], positions: usize, scale: f32) {
    let t = positions;
    s.par_chunks_mut(t * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| causal_softmax_rows(rows, t, scale, task * ROWS_PER_TASK));
}

/// [`causal_softmax`] on the calling thread, of rows whose first is row `first`.
pub(crate) fn causal_softmax_rows(s: &mut [f32], positions: usize, scale: f32, first: usize) {
    let t = positions;
    for (k, row) in s.chunks_exact_mut(t).enumerate() {
        let seen = (first + k) % t + 1;
        let (row, masked) = row.split_at_mut(seen);
        masked.fill(0.0);
        let max = row.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v)) * scale;
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = exp(*v * scale - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// The gradient of [`causal_softmax`]'s scores, in place: `g`, the gradient of its
/// probabilities `p`, becomes `scale * p * (g - <p, g>)` on each row (0 where masked).
#[cfg(test)]
pub(crate) fn causal_softmax_back(p: &[f32], g: &mut [f32], positions: usize, scale: f32) {
    let t = positions;
    g.par_chunks_mut(t * ROWS_PER_TASK)
        .zip(p.par_chunks(t * ROWS_PER_TASK))
        .enumerate()
        .for_each(|(task, (g, p))| {
            causal_softmax_back_rows(p, g, t, scale, task * ROWS_PER_TASK);
        });
}

/// [`causal_softmax_back`] on the calling thread, of rows whose first is row `first`.
pub(crate) fn causal_softmax_back_rows(
    p: &[f32], g: &mut [f32], positions: usize, scale: f32, first: usize,
) {
    let t = positions;
    for (k, (g, p)) in g.chunks_exact_mut(t).zip(p.chunks_exact(t)).enumerate() {
        let seen = (first + k) % t + 1;
        let (g, masked) = g.split_at_mut(seen);
        masked.fill(0.0);
        let p = &p[..seen];
        let dot: f32 = p.iter().zip(g.iter()).map(|(p, g)| p * g).sum();
        for (g, p) in g.iter_mut().zip(p) {
            *g = scale * p * (*g - dot);
        }
    }
}

/// `out = silu(gate) * up` for rows of `x` holding `[gate | up]`, each `width` wide:
/// the feed-forward's activation on the stacked gate/up product.
pub(crate) fn swiglu(x: &[f32], width: usize, out: &mut [f32]) {
    let w = width;
    out.par_chunks_mut(w * ROWS_PER_TASK)
        .zip(x.par_chunks(2 * w * ROWS_PER_TASK))
        .for_each(|(dst, src)| {
            for (d, row) in dst.chunks_exact_mut(w).zip(src.chunks_exact(2 * w)) {
                let (gate, up) = row.split_at(w);
                for ((d, g), u) in d.iter_mut().zip(gate).zip(up) {
                    *d = g / (1.0 + exp(-g)) * u;
                }
            }
        });
}

/// `dx` = the gradient of [`swiglu`]'s input rows `x` for the gradient `g` of its
/// output, whole rows `[d gate | d up]` at once.
pub(crate) fn swiglu_back(x: &[f32], width: usize, g: &[f32], dx: &mut [f32]) {
    let w = width;
    dx.par_chunks_mut(2 * w * ROWS_PER_TASK)
        .zip(
            x.par_chunks(2 * w * ROWS_PER_TASK)
                .zip(g.par_chunks(w * ROWS_PER_TASK)),
        )
        .for_each(|(dst, (x, g))| {
            let rows = dst
                .chunks_exact_mut(2 * w)
                .zip(x.chunks_exact(2 * w).zip(g.chunks_exact(w)));
            for (d, (row, g)) in rows {
                let (gate, up) = row.split_at(w);
                let (d_gate, d_up) = d.split_at_mut(w);
                for i in 0..w {
                    let s = 1.0 / (1.0 + exp(-gate[i]));
                    d_up[i] = g[i] * gate[i] * s;
                    d_gate[i] = g[i] * up[i] * s * (1.0 + gate[i] * (1.0 - s));
                }
            }
        });
}

/// `log(sum(exp(row)))`, stably.
pub(crate) fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let sum: f32 = row.iter().map(|v| exp(v - max)).sum();
    max + sum.ln()
}

/// The summed negative log-likelihood of `targets` over rows of logits (each `vocab`
/// wide, one per target), and, in place, the rows become the gradient of `scale` times
/// that sum: `scale * (softmax(row) - onehot(target))`.
///
/// # Panics
/// When a target is not below `vocab`, or the rows are fewer than the targets.
pub(crate) fn cross_entropy_back(
    logits: &mut [f32], vocab: usize, targets: &[u32], scale: f32,
) -> f32 {
    let per_row: Vec<f32> = logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| {
            let t = t as usize;
            let lse = log_sum_exp(row);
            let nll = lse - row[t];
            for v in row.iter_mut() {
                *v = scale * exp(*v - lse);
            }
            row[t] -= scale;
            nll
        })
        .collect();
    // Summed in order, so that the loss does not depend on how rayon split the rows.
    per_row.iter().sum()
}
