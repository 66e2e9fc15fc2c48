//! The causal self-attention of a layer, forward and backward, read from and written
//! into the rows of the stacked query/key/value product.
//!
//! Row `i` of the product holds position `i % t` of sequence `i / t`: the query heads,
//! then the key heads, then the value heads, `head_dim` numbers each. A head's
//! matrices are strided views of those rows, so nothing is transposed or copied into a
//! head-major layout; query heads `j * groups ..` share key/value head `j`. The heads
//! run in parallel, each on one thread: their products are too small to share.

// The usual one-letter names of the formulas (x, g, w, p, t, ...).
#![allow(clippy::many_single_char_names, clippy::similar_names)]

use faer::MatMut;
use rayon::prelude::*;

use super::super::mat::{product_here, sized, view, view_mut, Out};
use super::super::rows::{causal_softmax_back_rows, causal_softmax_rows};
use super::Dims;

/// The offsets in a row of `dims`' product of query head `h`, and of the key and
/// value heads it reads.
fn columns(dims: &Dims, h: usize) -> (usize, usize, usize) {
    let j = h / dims.groups;
    let q = h * dims.hd;
    let k = (dims.nh + j) * dims.hd;
    let v = (dims.nh + dims.nkv + j) * dims.hd;
    (q, k, v)
}

/// The `t x head_dim` blocks of the first `heads x head_dim` columns of `m`, one per
/// sequence and head, in that order.
fn head_blocks<'a>(m: MatMut<'a, f32>, dims: &Dims) -> Vec<MatMut<'a, f32>> {
    let mut blocks = Vec::with_capacity(dims.b * dims.nh);
    let mut rest = m;
    for _ in 0..dims.b {
        let (mut sequence, after) = rest.split_at_row_mut(dims.t);
        rest = after;
        for _ in 0..dims.nh {
            let (head, right) = sequence.split_at_col_mut(dims.hd);
            blocks.push(head);
            sequence = right;
        }
    }
    blocks
}

/// Writes each head's weights into `probs`, `(batch, heads, t, t)`, and the heads'
/// outputs into `attn`, `(rows, heads x head_dim)`, for the rotated product `qkv`.
pub(super) fn forward(dims: &Dims, qkv: &[f32], probs: &mut [f32], attn: &mut [f32]) {
    let (t, hd, qw) = (dims.t, dims.hd, dims.qkv);
    let outputs = head_blocks(view_mut(attn, 0, dims.rows, dims.d, dims.d), dims);
    probs
        .par_chunks_mut(t * t)
        .zip(outputs)
        .enumerate()
        .for_each(|(i, (p, out))| {
            let (rows, h) = ((i / dims.nh) * t * qw, i % dims.nh);
            let (qc, kc, vc) = columns(dims, h);
            product_here(
                view_mut(p, 0, t, t, t),
                Out::Set,
                view(qkv, rows + qc, t, hd, qw),
                view(qkv, rows + kc, t, hd, qw).transpose(),
                1.0,
            );
            causal_softmax_rows(p, t, dims.scale, 0);
            product_here(
                out,
                Out::Set,
                view(p, 0, t, t, t),
                view(qkv, rows + vc, t, hd, qw),
                1.0,
            );
        });
}

/// Writes into `d_qkv`, `(rows, qkv width)`, the gradient of the (rotated) product
/// for the gradient `d_attn` of the heads' outputs. `scratch` holds each head's scores'
/// gradient and its share of its key and value heads' gradients, summed at the end.
pub(super) fn backward(
    dims: &Dims, qkv: &[f32], probs: &[f32], d_attn: &[f32], d_qkv: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let (t, hd, qw, d) = (dims.t, dims.hd, dims.qkv, dims.d);
    let per_head = t * t + 2 * t * hd;
    let scratch = sized(scratch, dims.b * dims.nh * per_head);
    let d_queries = head_blocks(view_mut(d_qkv, 0, dims.rows, qw, qw), dims);
    scratch
        .par_chunks_mut(per_head)
        .zip(d_queries)
        .enumerate()
        .for_each(|(i, (own, d_q))| {
            let (s, h) = (i / dims.nh, i % dims.nh);
            let rows = s * t * qw;
            let (qc, kc, vc) = columns(dims, h);
            let (scores, kv) = own.split_at_mut(t * t);
            let (d_k, d_v) = kv.split_at_mut(t * hd);
            let p = &probs[i * t * t..][..t * t];
            let d_o = view(d_attn, s * t * d + h * hd, t, hd, d);
            // dV_h = P^T dO.
            product_here(
                view_mut(d_v, 0, t, hd, hd),
                Out::Set,
                view(p, 0, t, t, t).transpose(),
                d_o,
                1.0,
            );
            // dP = dO V^T, then the scores' gradient dS in its place.
            product_here(
                view_mut(scores, 0, t, t, t),
                Out::Set,
                d_o,
                view(qkv, rows + vc, t, hd, qw).transpose(),
                1.0,
            );
            causal_softmax_back_rows(p, scores, t, dims.scale, 0);
            let ds = view(scores, 0, t, t, t);
            // dQ = dS K; dK_h = dS^T Q.
            product_here(d_q, Out::Set, ds, view(qkv, rows + kc, t, hd, qw), 1.0);
            product_here(
                view_mut(d_k, 0, t, hd, hd),
                Out::Set,
                ds.transpose(),
                view(qkv, rows + qc, t, hd, qw),
                1.0,
            );
        });
    // Each key/value head's gradient: the sum of its query heads' shares.
    let scratch: &[f32] = scratch;
    for s in 0..dims.b {
        for (r, row) in d_qkv[s * t * qw..][..t * qw]
            .chunks_exact_mut(qw)
            .enumerate()
        {
            let (_, kv) = row.split_at_mut(dims.nh * hd);
            let (keys, values) = kv.split_at_mut(dims.nkv * hd);
            for (j, (key, value)) in keys
                .chunks_exact_mut(hd)
                .zip(values.chunks_exact_mut(hd))
                .enumerate()
            {
                key.fill(0.0);
                value.fill(0.0);
                for h in j * dims.groups..(j + 1) * dims.groups {
                    let own = &scratch[(s * dims.nh + h) * per_head + t * t..];
                    let (d_k, d_v) = own.split_at(t * hd);
                    for (a, b) in key.iter_mut().zip(&d_k[r * hd..][..hd]) {
                        *a += b;
                    }
                    for (a, b) in value.iter_mut().zip(&d_v[r * hd..][..hd]) {
                        *a += b;
                    }
                }
            }
        }
    }
}
