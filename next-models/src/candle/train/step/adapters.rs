//! The LoRA pairs of a stacked product, forward and backward, on plain slices.
//!
//! A stacked product `y = x W^T` (query/key/value, gate/up) carries one pair per
//! adapted part. Their `A` matrices are stacked, `(parts x rank, in)`, so that one
//! product `u = x' A^T` serves every part; part `i` adds `scale * u_i B_i^T` to its own
//! columns of `y`, where `x'` is `x` with the dropout mask applied.

// The usual one-letter names of the product: x, u, y, g, A, B.
#![allow(clippy::many_single_char_names, clippy::similar_names)]

use super::super::mat::{product, sized, view, view_mut, Out};

/// The adapters of one stacked product as the step reads them: a copy of the trained
/// values, taken once per optimizer step.
///
/// Invariant: `a` is `(parts.len() * rank, inp)` and `b` `(sum of widths, rank)`,
/// row-major; the parts lie within the product's outputs, in order.
#[derive(Debug, Clone)]
pub(crate) struct Adapted {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    /// Each adapted part: its first output column and its width.
    pub parts: Vec<(usize, usize)>,
    pub rank: usize,
    /// The product's input width.
    pub inp: usize,
    /// `alpha / rank`.
    pub scale: f32,
    /// Where its gradients go: `A`'s at this index of the optimizer's list, `B`'s at
    /// the next.
    pub grad: usize,
}

/// The dropout of an adapter's input: which inputs it keeps, one bit each, and the
/// factor `1 / (1 - p)` of those it keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keep {
    pub bits: Vec<u64>,
    pub scale: f32,
}

impl Keep {
    /// Whether input `i` is kept.
    fn kept(&self, i: usize) -> bool {
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }

    /// `out = x` masked: kept inputs times the factor, the others 0.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        for (i, (o, x)) in out.iter_mut().zip(x).enumerate() {
            *o = if self.kept(i) { x * self.scale } else { 0.0 };
        }
    }

    /// `out += y` masked.
    fn add_masked(&self, y: &[f32], out: &mut [f32]) {
        for (i, (o, y)) in out.iter_mut().zip(y).enumerate() {
            if self.kept(i) {
                *o += y * self.scale;
            }
        }
    }
}

/// Draws the dropout masks of the adapters' inputs (made only when `p > 0`).
pub(crate) struct Dropout<'a> {
    /// The probability of zeroing an input.
    pub p: f32,
    /// The generator, seeded by the trainer.
    pub rng: &'a mut fastrand::Rng,
}

impl Dropout<'_> {
    /// The inputs kept of `len`: each dropped with probability `p`, the kept ones
    /// scaled by `1 / (1 - p)`.
    pub fn keep(&mut self, len: usize) -> Keep {
        let keep = 1.0 - self.p;
        let mut bits = vec![0u64; len.div_ceil(64)];
        for i in 0..len {
            if self.rng.f32() < keep {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        Keep {
            bits,
            scale: 1.0 / keep,
        }
    }

    /// The mask of [`Dropout::keep`] as a tensor of `shape`: the same draws.
    #[cfg(test)]
    pub fn mask(&mut self, shape: &[usize]) -> candle_core::Result<candle_core::Tensor> {
        let n = shape.iter().product();
        let keep = self.keep(n);
        let mask: Vec<f32> = (0..n)
            .map(|i| if keep.kept(i) { keep.scale } else { 0.0 })
            .collect();
        candle_core::Tensor::from_vec(mask, shape, &candle_core::Device::Cpu)
    }
}

/// The buffers an adapter's passes reuse.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    masked: Vec<f32>,
    du: Vec<f32>,
}

/// The adapters' input: `x` itself, or its masked copy in `masked` under dropout.
fn input<'a>(x: &'a [f32], keep: Option<&Keep>, masked: &'a mut Vec<f32>) -> &'a [f32] {
    match keep {
        None => x,
        Some(keep) => {
            let out = sized(masked, x.len());
            keep.apply(x, out);
            out
        }
    }
}

impl Adapted {
    /// Adds the adapters' update to `y`, `(rows, n)`, for input `x`, `(rows, inp)`;
    /// writes `u = x' A^T`, which the backward pass reads.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self, x: &[f32], rows: usize, keep: Option<&Keep>, u: &mut Vec<f32>, y: &mut [f32],
        n: usize, scratch: &mut Scratch,
    ) {
        let (r, pr) = (self.rank, self.parts.len() * self.rank);
        let xd = input(x, keep, &mut scratch.masked);
        let u = sized(u, rows * pr);
        let a = view(&self.a, 0, pr, self.inp, self.inp);
        product(
            view_mut(u, 0, rows, pr, pr),
            Out::Set,
            view(xd, 0, rows, self.inp, self.inp),
            a.transpose(),
            1.0,
        );
        let mut b_at = 0;
        for (i, &(at, width)) in self.parts.iter().enumerate() {
            product(
                view_mut(y, at, rows, width, n),
                Out::Add,
                view(u, i * r, rows, r, pr),
                view(&self.b, b_at * r, width, r, r).transpose(),
                self.scale,
            );
            b_at += width;
        }
    }

    /// The backward pass for the gradient `g`, `(rows, n)`, of the output: adds the
    /// gradient of `A` to `da`, that of `B` to `db`, and the gradient through the
    /// adapters of the input to `dx`, `(rows, inp)`. `x`, `keep` and `u` are the
    /// forward pass's.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self, x: &[f32], rows: usize, keep: Option<&Keep>, u: &[f32], g: &[f32], n: usize,
        dx: &mut [f32], (da, db): (&mut [f32], &mut [f32]), scratch: &mut Scratch,
    ) {
        let (r, pr, k) = (self.rank, self.parts.len() * self.rank, self.inp);
        let du = sized(&mut scratch.du, rows * pr);
        let mut b_at = 0;
        for (i, &(at, width)) in self.parts.iter().enumerate() {
            let gi = view(g, at, rows, width, n);
            // dB_i += scale g_i^T u_i; du_i = scale g_i B_i.
            product(
                view_mut(db, b_at * r, width, r, r),
                Out::Add,
                gi.transpose(),
                view(u, i * r, rows, r, pr),
                self.scale,
            );
            product(
                view_mut(du, i * r, rows, r, pr),
                Out::Set,
                gi,
                view(&self.b, b_at * r, width, r, r),
                self.scale,
            );
            b_at += width;
        }
        let du = view(du, 0, rows, pr, pr);
        let a = view(&self.a, 0, pr, k, k);
        // dA += du^T x'.
        let xd = input(x, keep, &mut scratch.masked);
        product(
            view_mut(da, 0, pr, k, k),
            Out::Add,
            du.transpose(),
            view(xd, 0, rows, k, k),
            1.0,
        );
        // dx += (du A) masked.
        match keep {
            None => product(view_mut(dx, 0, rows, k, k), Out::Add, du, a, 1.0),
            Some(keep) => {
                let through = sized(&mut scratch.masked, rows * k);
                product(view_mut(through, 0, rows, k, k), Out::Set, du, a, 1.0);
                keep.add_masked(through, dx);
            }
        }
    }
}
