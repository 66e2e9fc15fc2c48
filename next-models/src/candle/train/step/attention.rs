//! The causal self-attention of a layer, forward and backward, read from and written
//! into the rows of the stacked query/key/value product.
//!
//! Row `i` of the product holds position `i % t` of sequence `i / t`: the query heads,
//! then the key heads, then the value heads, `head_dim` numbers each. A head's
//! matrices are strided views of those rows, so nothing is transposed or copied into a
//! head-major layout; query heads `j * groups ..` share key/value head `j`.

use super::super::mat::{product, view, view_mut, Out};
use super::super::rows::{causal_softmax, causal_softmax_back};
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

/// Writes each head's weights into `probs`, `(batch, heads, t, t)`, and the heads'
/// outputs into `attn`, `(rows, heads x head_dim)`, for the rotated product `qkv`.
pub(super) fn forward(dims: &Dims, qkv: &[f32], probs: &mut [f32], attn: &mut [f32]) {
    let (t, hd, qw, d) = (dims.t, dims.hd, dims.qkv, dims.d);
    for s in 0..dims.b {
        let rows = s * t * qw;
        for h in 0..dims.nh {
            let (qc, kc, vc) = columns(dims, h);
            let p = &mut probs[(s * dims.nh + h) * t * t..][..t * t];
            product(
                view_mut(p, 0, t, t, t),
                Out::Set,
                view(qkv, rows + qc, t, hd, qw),
                view(qkv, rows + kc, t, hd, qw).transpose(),
                1.0,
            );
            causal_softmax(p, t, dims.scale);
            product(
                view_mut(attn, s * t * d + h * hd, t, hd, d),
                Out::Set,
                view(p, 0, t, t, t),
                view(qkv, rows + vc, t, hd, qw),
                1.0,
            );
        }
    }
}

/// Writes into `d_qkv`, `(rows, qkv width)`, the gradient of the (rotated) product
/// for the gradient `d_attn` of the heads' outputs; `scores` is a `t x t` buffer.
pub(super) fn backward(
    dims: &Dims,
    qkv: &[f32],
    probs: &[f32],
    d_attn: &[f32],
    d_qkv: &mut [f32],
    scores: &mut [f32],
) {
    let (t, hd, qw, d) = (dims.t, dims.hd, dims.qkv, dims.d);
    for s in 0..dims.b {
        let rows = s * t * qw;
        for h in 0..dims.nh {
            let (qc, kc, vc) = columns(dims, h);
            // The first query head of a group writes its key/value heads' gradient;
            // the others add to it.
            let kv_out = if h % dims.groups == 0 {
                Out::Set
            } else {
                Out::Add
            };
            let p = &probs[(s * dims.nh + h) * t * t..][..t * t];
            let d_o = view(d_attn, s * t * d + h * hd, t, hd, d);
            // dV += P^T dO.
            product(
                view_mut(d_qkv, rows + vc, t, hd, qw),
                kv_out,
                view(p, 0, t, t, t).transpose(),
                d_o,
                1.0,
            );
            // dP = dO V^T, then the scores' gradient dS in its place.
            product(
                view_mut(scores, 0, t, t, t),
                Out::Set,
                d_o,
                view(qkv, rows + vc, t, hd, qw).transpose(),
                1.0,
            );
            causal_softmax_back(p, scores, t, dims.scale);
            let ds = view(scores, 0, t, t, t);
            // dQ = dS K; dK += dS^T Q.
            product(
                view_mut(d_qkv, rows + qc, t, hd, qw),
                Out::Set,
                ds,
                view(qkv, rows + kc, t, hd, qw),
                1.0,
            );
            product(
                view_mut(d_qkv, rows + kc, t, hd, qw),
                kv_out,
                ds.transpose(),
                view(qkv, rows + qc, t, hd, qw),
                1.0,
            );
        }
    }
}
