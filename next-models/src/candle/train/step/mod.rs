//! One training micro-batch, forward and backward, written by hand: the loss of its
//! targets and the gradient of every adapter.
//!
//! A training step of candle's autograd allocates a tensor per operation and a
//! zero-filled gradient per node, copies every transposed or narrowed operand, and
//! computes the output head's logits twice; on two cores that cost as much as the
//! matrix products themselves. This pass runs the model's layers over buffers it keeps
//! from one micro-batch to the next ([`Workspace`]): the forward pass writes each
//! layer's activations that the backward pass reads, the loss and its gradient are
//! computed from the same logits in one pass over the head, and the backward pass walks
//! the layers back, computing the gradient of the inputs (never of the frozen
//! weights) and of the adapters. The products run on faer through strided views, the
//! per-row steps in [`super::rows`].
//!
//! Its reference is candle's autograd over the compositions of [`super::ops`] (the
//! tests' `reference` forward): the tests hold this pass to its loss and to every
//! adapter's gradient, with and without dropout.

// The usual one-letter names of the formulas (x, g, w, p, t, ...).
#![allow(clippy::many_single_char_names, clippy::similar_names)]

mod adapters;
mod attention;
mod head;

use super::data::Batch;
use super::mat::{product, sized, view, view_mut, Matrix, Out};
use super::net::{Frozen, FrozenLayer};
use super::rows::{rms_norm, rms_norm_back, rope, swiglu, swiglu_back};
use adapters::Scratch;
pub(crate) use adapters::{Adapted, Dropout, Keep};

/// The adapters of every layer's stacked products, indexed by layer then by
/// [`super::lora::Stack`] order (query/key/value, output, gate/up, down).
pub(crate) type Adapters = Vec<[Option<Adapted>; 4]>;

/// Index of the query/key/value product in a layer's [`Adapters`].
const QKV: usize = 0;
/// Index of the attention's output product.
const O: usize = 1;
/// Index of the gate/up product.
const GATE_UP: usize = 2;
/// Index of the down product.
const DOWN: usize = 3;

/// The sizes of a micro-batch in the model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dims {
    /// Sequences.
    b: usize,
    /// Positions of each.
    t: usize,
    /// `b * t`.
    rows: usize,
    /// The model's width, `nh * hd`.
    d: usize,
    nh: usize,
    nkv: usize,
    hd: usize,
    /// Query heads per key/value head.
    groups: usize,
    /// The width of the stacked query/key/value product.
    qkv: usize,
    /// The attention's `1 / sqrt(head_dim)`.
    scale: f32,
}

/// The activations of a layer that its backward pass reads.
#[derive(Debug, Default)]
struct Saved {
    /// The layer's input, `(rows, d)`.
    x: Vec<f32>,
    /// Its attention norm.
    h1: Vec<f32>,
    /// The query/key/value product, the queries and keys rotated.
    qkv: Vec<f32>,
    /// The attention's weights, `(b, heads, t, t)`.
    probs: Vec<f32>,
    /// The heads' outputs, `(rows, d)`.
    attn: Vec<f32>,
    /// The residual after the attention.
    mid: Vec<f32>,
    /// Its feed-forward norm.
    h2: Vec<f32>,
    /// The gate/up product, `(rows, 2 ff)`.
    gate_up: Vec<f32>,
    /// The activation, `(rows, ff)`.
    act: Vec<f32>,
    /// Each product's `x' A^T`.
    u: [Vec<f32>; 4],
    /// Each product's dropout, when it has adapters and dropout is on.
    keep: [Option<Keep>; 4],
}

/// The buffers of the pass, kept from one micro-batch to the next so that a step
/// neither allocates nor faults in its memory again.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    layers: Vec<Saved>,
    /// The last layer's output.
    last: Vec<f32>,
    /// The gradient of the residual stream, walking back.
    dx: Vec<f32>,
    /// The gradient of a norm's output, `(rows, d)`.
    d_norm: Vec<f32>,
    /// The gradient of the attention's heads, `(rows, d)`.
    d_attn: Vec<f32>,
    d_qkv: Vec<f32>,
    d_act: Vec<f32>,
    d_gate_up: Vec<f32>,
    /// The heads' scores' gradients and their shares of the key/value gradients.
    scores: Vec<f32>,
    adapters: Scratch,
    head: head::Buffers,
}

/// Why a micro-batch could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The batch does not fit the model.
    #[error("{0}")]
    Shape(String),
}

/// Runs `batch` forward and backward with `adapters` (drawing their dropout from
/// `dropout`): returns the summed negative log-likelihood of its targets and adds
/// `scale` times the gradient of that sum for every adapter to `grads` (indexed as
/// [`Adapted::grad`] says).
///
/// # Errors
/// [`StepError::Shape`] when the batch is longer than the model's rotary tables, has a
/// token or target outside the vocabulary, or `grads` does not match `adapters`.
pub(crate) fn run(
    model: &Frozen, adapters: &Adapters, batch: &Batch, dropout: &mut Option<Dropout<'_>>,
    scale: f32, ws: &mut Workspace, grads: &mut [Vec<f32>],
) -> Result<f32, StepError> {
    let dims = check(model, adapters, batch, grads)?;
    if ws.layers.len() != model.layers.len() {
        ws.layers.resize_with(model.layers.len(), Saved::default);
    }
    let first = sized(&mut ws.layers[0].x, dims.rows * dims.d);
    for (row, &id) in first.chunks_exact_mut(dims.d).zip(&batch.ids) {
        row.copy_from_slice(model.embed.row(id as usize));
    }
    for (l, (layer, adapted)) in model.layers.iter().zip(adapters).enumerate() {
        let (this, rest) = ws.layers[l..]
            .split_first_mut()
            .ok_or_else(|| StepError::Shape("a layer without its activations".into()))?;
        let out = match rest.first_mut() {
            Some(next) => &mut next.x,
            None => &mut ws.last,
        };
        forward(
            model,
            layer,
            adapted,
            &dims,
            this,
            out,
            dropout,
            &mut ws.adapters,
        );
    }
    let nll = head::loss_and_back(model, &dims, batch, scale, ws);
    for ((layer, adapted), saved) in model.layers.iter().zip(adapters).zip(&ws.layers).rev() {
        backward(
            model,
            layer,
            adapted,
            &dims,
            saved,
            Back {
                dx: &mut ws.dx,
                d_norm: &mut ws.d_norm,
                d_attn: &mut ws.d_attn,
                d_qkv: &mut ws.d_qkv,
                d_act: &mut ws.d_act,
                d_gate_up: &mut ws.d_gate_up,
                scores: &mut ws.scores,
                adapters: &mut ws.adapters,
            },
            grads,
        );
    }
    Ok(nll)
}

/// The sizes of `batch` in `model`, once checked.
fn check(
    model: &Frozen, adapters: &Adapters, batch: &Batch, grads: &[Vec<f32>],
) -> Result<Dims, StepError> {
    let hp = &model.hp;
    let (b, t) = (batch.rows, batch.width);
    if t == 0 || b == 0 || t > model.context {
        return Err(StepError::Shape(format!(
            "a batch of {b} x {t} positions for rotary tables of {}",
            model.context
        )));
    }
    let vocab = model.embed.rows();
    if batch.ids.len() != b * t
        || batch
            .ids
            .iter()
            .chain(&batch.targets)
            .any(|&id| id as usize >= vocab)
        || batch.positions.len() != batch.targets.len()
        || batch.positions.iter().any(|&p| p as usize >= b * t)
    {
        return Err(StepError::Shape(format!(
            "a batch whose tokens, targets or positions do not fit {b} x {t} positions \
             and a vocabulary of {vocab}"
        )));
    }
    if adapters.len() != model.layers.len() {
        return Err(StepError::Shape(format!(
            "adapters for {} layers in a model of {}",
            adapters.len(),
            model.layers.len()
        )));
    }
    for adapted in adapters.iter().flatten().flatten() {
        let fits = |i: usize, len: usize| grads.get(i).is_some_and(|g| g.len() == len);
        if !fits(adapted.grad, adapted.a.len()) || !fits(adapted.grad + 1, adapted.b.len()) {
            return Err(StepError::Shape(
                "gradients that do not match the adapters".into(),
            ));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let scale = 1.0 / (hp.head_dim as f32).sqrt();
    Ok(Dims {
        b,
        t,
        rows: b * t,
        d: hp.n_embd,
        nh: hp.n_head,
        nkv: hp.n_head_kv,
        hd: hp.head_dim,
        groups: hp.n_head / hp.n_head_kv.max(1),
        qkv: (hp.n_head + 2 * hp.n_head_kv) * hp.head_dim,
        scale,
    })
}

/// Draws the dropout of an adapted product's input of `len` numbers.
fn draw(adapted: Option<&Adapted>, dropout: &mut Option<Dropout<'_>>, len: usize) -> Option<Keep> {
    adapted?;
    dropout.as_mut().map(|d| d.keep(len))
}

/// One layer forward: reads `saved.x`, writes the rest of `saved` and the layer's
/// output into `out`.
#[allow(clippy::too_many_arguments)]
fn forward(
    model: &Frozen, layer: &FrozenLayer, adapters: &[Option<Adapted>; 4], dims: &Dims,
    saved: &mut Saved, out: &mut Vec<f32>, dropout: &mut Option<Dropout<'_>>,
    scratch: &mut Scratch,
) {
    let (rows, d, ff) = (dims.rows, dims.d, layer.ff);
    let eps = model.hp.rms_eps;
    let Saved {
        x,
        h1,
        qkv,
        probs,
        attn,
        mid,
        h2,
        gate_up,
        act,
        u,
        keep,
    } = saved;
    // Each product: its adapters' dropout drawn (in the order the reference draws it),
    // then `y = x W^T` (or `y +=`, onto the residual) with the adapters' update.
    let mut project = |stack: usize, w: &Matrix, x: &[f32], y: &mut [f32], into: Out| {
        let adapted = adapters[stack].as_ref();
        keep[stack] = draw(adapted, dropout, x.len());
        let (n, k) = (w.rows(), w.cols());
        product(
            view_mut(y, 0, rows, n, n),
            into,
            view(x, 0, rows, k, k),
            w.view().transpose(),
            1.0,
        );
        if let Some(adapted) = adapted {
            adapted.forward(x, rows, keep[stack].as_ref(), &mut u[stack], y, n, scratch);
        }
    };
    let h1 = sized(h1, rows * d);
    rms_norm(x, &layer.attn_norm, eps, h1);
    let qkv = sized(qkv, rows * dims.qkv);
    project(QKV, &layer.qkv, h1, qkv, Out::Set);
    let half = dims.hd / 2;
    let rotated = (dims.nh + dims.nkv) * dims.hd;
    rope(
        qkv, dims.qkv, rotated, dims.t, &model.cos, &model.sin, half, 1.0,
    );
    let probs = sized(probs, dims.b * dims.nh * dims.t * dims.t);
    let attn = sized(attn, rows * d);
    attention::forward(dims, qkv, probs, attn);
    let mid = sized(mid, rows * d);
    mid.copy_from_slice(x);
    project(O, &layer.wo, attn, mid, Out::Add);
    let h2 = sized(h2, rows * d);
    rms_norm(mid, &layer.ffn_norm, eps, h2);
    let gate_up = sized(gate_up, rows * 2 * ff);
    project(GATE_UP, &layer.gate_up, h2, gate_up, Out::Set);
    let act = sized(act, rows * ff);
    swiglu(gate_up, ff, act);
    let out = sized(out, rows * d);
    out.copy_from_slice(mid);
    project(DOWN, &layer.down, act, out, Out::Add);
}

/// The buffers of a layer's backward pass; `dx` holds the gradient of the layer's
/// output on the way in and of its input on the way out.
struct Back<'a> {
    dx: &'a mut Vec<f32>,
    d_norm: &'a mut Vec<f32>,
    d_attn: &'a mut Vec<f32>,
    d_qkv: &'a mut Vec<f32>,
    d_act: &'a mut Vec<f32>,
    d_gate_up: &'a mut Vec<f32>,
    scores: &'a mut Vec<f32>,
    adapters: &'a mut Scratch,
}

/// One layer backward: `back.dx` goes from the gradient of the layer's output to that
/// of its input; the adapters' gradients are added to `grads`.
fn backward(
    model: &Frozen, layer: &FrozenLayer, adapters: &[Option<Adapted>; 4], dims: &Dims,
    saved: &Saved, back: Back<'_>, grads: &mut [Vec<f32>],
) {
    let (rows, d, ff) = (dims.rows, dims.d, layer.ff);
    let eps = model.hp.rms_eps;
    let Back {
        dx,
        d_norm,
        d_attn,
        d_qkv,
        d_act,
        d_gate_up,
        scores,
        adapters: scratch,
    } = back;
    // Each product: the gradient `dx` of its input `x` for the gradient `g` of its
    // output, and its adapters' gradients added to `grads`.
    let mut back = |stack: usize, w: &Matrix, x: &[f32], g: &[f32], dx: &mut [f32]| {
        let (n, k) = (w.rows(), w.cols());
        product(
            view_mut(dx, 0, rows, k, k),
            Out::Set,
            view(g, 0, rows, n, n),
            w.view(),
            1.0,
        );
        if let Some(adapted) = adapters[stack].as_ref() {
            let (before, after) = grads.split_at_mut(adapted.grad + 1);
            let keep = saved.keep[stack].as_ref();
            let pair = (&mut before[adapted.grad][..], &mut after[0][..]);
            adapted.backward(x, rows, keep, &saved.u[stack], g, n, dx, pair, scratch);
        }
    };
    // The feed-forward: out = mid + down(swiglu(gate_up(norm(mid)))).
    let d_act = sized(d_act, rows * ff);
    back(DOWN, &layer.down, &saved.act, dx, d_act);
    let d_gate_up = sized(d_gate_up, rows * 2 * ff);
    swiglu_back(&saved.gate_up, ff, d_act, d_gate_up);
    let d_norm = sized(d_norm, rows * d);
    back(GATE_UP, &layer.gate_up, &saved.h2, d_gate_up, d_norm);
    rms_norm_back(&saved.mid, &layer.ffn_norm, eps, d_norm, dx, true);
    // The attention: mid = x + o(attention(rope(qkv(norm(x))))).
    let d_attn = sized(d_attn, rows * d);
    back(O, &layer.wo, &saved.attn, dx, d_attn);
    let d_qkv = sized(d_qkv, rows * dims.qkv);
    attention::backward(dims, &saved.qkv, &saved.probs, d_attn, d_qkv, scores);
    let rotated = (dims.nh + dims.nkv) * dims.hd;
    let half = dims.hd / 2;
    rope(
        d_qkv, dims.qkv, rotated, dims.t, &model.cos, &model.sin, half, -1.0,
    );
    back(QKV, &layer.qkv, &saved.h1, d_qkv, d_norm);
    rms_norm_back(&saved.x, &layer.attn_norm, eps, d_norm, dx, true);
}
