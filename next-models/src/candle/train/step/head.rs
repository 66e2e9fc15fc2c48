//! The final norm, the output head and the loss, with the gradient of the loss in the
//! same pass: each chunk of target rows has its logits computed once, turned into the
//! loss's gradient in place and multiplied back through the head.

use super::super::data::Batch;
use super::super::mat::{product, sized, view, view_mut, Out};
use super::super::net::Frozen;
use super::super::rows::{cross_entropy_back, rms_norm, rms_norm_back};
use super::{Dims, Workspace};

/// Target rows whose logits are held at once: `CHUNK x vocab` numbers (48 MiB for
/// SmolLM2's vocabulary).
const CHUNK: usize = 256;

/// The head's buffers.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    /// The final norm's output, `(rows, d)`, then its gradient.
    norm: Vec<f32>,
    /// The normed rows of the targets, `(targets, d)`.
    picked: Vec<f32>,
    /// Their gradient.
    d_picked: Vec<f32>,
    /// A chunk's logits, then their gradient.
    logits: Vec<f32>,
}

/// The summed negative log-likelihood of `batch`'s targets after the last layer's
/// output `ws.last`; writes into `ws.dx` the gradient of `scale` times that sum with
/// respect to `ws.last`.
pub(super) fn loss_and_back(
    model: &Frozen, dims: &Dims, batch: &Batch, scale: f32, ws: &mut Workspace,
) -> f32 {
    let (rows, d) = (dims.rows, dims.d);
    let head = model.head();
    let vocab = head.rows();
    let eps = model.hp.rms_eps;
    let b = &mut ws.head;
    let norm = sized(&mut b.norm, rows * d);
    rms_norm(&ws.last, &model.norm, eps, norm);
    let n = batch.positions.len();
    let picked = sized(&mut b.picked, n * d);
    for (dst, &p) in picked.chunks_exact_mut(d).zip(&batch.positions) {
        dst.copy_from_slice(&norm[p as usize * d..][..d]);
    }
    let d_picked = sized(&mut b.d_picked, n * d);
    let mut nll = 0.0;
    for start in (0..n).step_by(CHUNK) {
        let m = CHUNK.min(n - start);
        let logits = sized(&mut b.logits, m * vocab);
        product(
            view_mut(logits, 0, m, vocab, vocab),
            Out::Set,
            view(picked, start * d, m, d, d),
            head.view().transpose(),
            1.0,
        );
        nll += cross_entropy_back(logits, vocab, &batch.targets[start..start + m], scale);
        product(
            view_mut(d_picked, start * d, m, d, d),
            Out::Set,
            view(logits, 0, m, vocab, vocab),
            head.view(),
            1.0,
        );
    }
    // The gradient of the norm's output: the targets' rows, 0 elsewhere.
    norm.fill(0.0);
    for (src, &p) in d_picked.chunks_exact(d).zip(&batch.positions) {
        norm[p as usize * d..][..d].copy_from_slice(src);
    }
    let dx = sized(&mut ws.dx, rows * d);
    rms_norm_back(&ws.last, &model.norm, eps, norm, dx, false);
    nll
}
