//! [`AdaptedLinear`]: a frozen base product and the LoRA pairs of its parts, as one
//! operation with its own backward pass, for the tests' reference forward
//! ([`super::reference`]).
//!
//! A layer's stacked products (query/key/value, gate/up) each carry up to three
//! adapters. Built from candle operations, each adapter takes two small products, a
//! scaling and an addition, and candle's backward pass adds a zero-filled gradient
//! buffer and an addition for every one of those nodes; here the whole projection is
//! one node. Its parts' `A` matrices are stacked into one variable `(parts x rank,
//! in)`, and their `B` matrices into one `(sum of the parts' widths, rank)`: part `i`
//! reads rank block `i` of `x A^T` and writes its own columns of the output.

// The usual one-letter names of the product: x, A, B, W, u, g.
#![allow(clippy::many_single_char_names, clippy::similar_names)]

use candle_core::backend::BackendStorage as _;
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

use super::ops::{frozen_product, slice};
use crate::candle::kernels::with_data;

type Result<T> = std::result::Result<T, candle_core::Error>;

/// `x W^T` plus, for each adapted part, `scale * (x' A_i^T) B_i^T` in its columns,
/// where `x'` is `x` times the dropout mask (or `x`).
///
/// Invariant: `parts` lie within `W`'s outputs, in order; `mask`, when set, has `x`'s
/// shape.
pub(crate) struct AdaptedLinear {
    /// The frozen matrix `(n, k)`, contiguous.
    pub w: Tensor,
    /// Each adapted part: its first output column and its width.
    pub parts: Vec<(usize, usize)>,
    pub rank: usize,
    pub scale: f64,
    /// The dropout mask of the adapters' input, already scaled by `1 / (1 - p)`.
    pub mask: Option<Tensor>,
}

impl AdaptedLinear {
    /// The adapters' input: `x` times the dropout mask.
    fn dropped(&self, x: &Tensor) -> Result<Tensor> {
        match &self.mask {
            Some(mask) => x * mask,
            None => Ok(x.clone()),
        }
    }
}

impl CustomOp3 for AdaptedLinear {
    fn name(&self) -> &'static str {
        "adapted-linear"
    }

    fn cpu_fwd(
        &self, x: &CpuStorage, x_layout: &Layout, a: &CpuStorage, a_layout: &Layout,
        b: &CpuStorage, b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, k) = x_layout.shape().dims2()?;
        let r = self.rank;
        let mut y = frozen_product(x, x_layout, &self.w)?;
        let n = self.w.dim(0)?;
        // The adapters' input, masked: a copy only when there is a mask.
        let masked;
        let (xd, xd_layout) = match &self.mask {
            None => (x, x_layout),
            Some(mask) => {
                let x = slice(x, x_layout)?;
                let data = with_data(mask, |m| x.iter().zip(m).map(|(x, m)| x * m).collect())?;
                masked = CpuStorage::F32(data);
                (&masked, &Layout::contiguous((rows, k)))
            }
        };
        let parts = self.parts.len();
        let u = xd.matmul(
            a,
            (1, rows, parts * r, k),
            xd_layout,
            &a_layout.transpose(0, 1)?,
        )?;
        let u_layout = Layout::contiguous((rows, parts * r));
        #[allow(clippy::cast_possible_truncation)]
        let scale = self.scale as f32;
        let mut b_at = 0;
        for (i, &(at, width)) in self.parts.iter().enumerate() {
            let delta = u.matmul(
                b,
                (1, rows, width, r),
                &u_layout.narrow(1, i * r, r)?,
                &b_layout.narrow(0, b_at, width)?.transpose(0, 1)?,
            )?;
            let delta = delta.as_slice::<f32>()?;
            for (dst, src) in y.chunks_exact_mut(n).zip(delta.chunks_exact(width)) {
                for (d, s) in dst[at..at + width].iter_mut().zip(src) {
                    *d += scale * s;
                }
            }
            b_at += width;
        }
        Ok((CpuStorage::F32(y), Shape::from((rows, n))))
    }

    fn bwd(
        &self, x: &Tensor, a: &Tensor, b: &Tensor, _res: &Tensor, grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (x, a, b, g) = (x.detach(), a.detach(), b.detach(), grad.detach());
        let xd = self.dropped(&x)?;
        let u = xd.matmul(&a.t()?)?;
        let mut du = Vec::with_capacity(self.parts.len());
        let mut db = Vec::with_capacity(self.parts.len());
        let mut b_at = 0;
        for (i, &(at, width)) in self.parts.iter().enumerate() {
            let gi = g.narrow(1, at, width)?;
            let bi = b.narrow(0, b_at, width)?;
            let ui = u.narrow(1, i * self.rank, self.rank)?;
            du.push((gi.matmul(&bi)? * self.scale)?);
            db.push((gi.t()?.matmul(&ui)? * self.scale)?);
            b_at += width;
        }
        let du = Tensor::cat(&du, 1)?;
        let da = du.t()?.matmul(&xd)?;
        let through_adapters = self.dropped(&du.matmul(&a)?)?;
        let dx = (g.matmul(&self.w)? + through_adapters)?;
        Ok((Some(dx), Some(da), Some(Tensor::cat(&db, 0)?)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_precision_loss)]
mod tests {
    use candle_core::{Device, Var};

    use super::super::testing::{close, data};
    use super::*;

    #[test]
    fn an_adapted_product_is_its_composition_forward_and_backward() {
        // W (9, 4) with adapted parts [0, 3) and [5, 9) of rank 2; columns 3..5 frozen.
        let (rows, k, n, r) = (3, 4, 9, 2);
        let w = Tensor::from_vec(data(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec(
            (0..rows * k)
                .map(|i| if i % 3 == 0 { 0.0 } else { 1.25 })
                .collect::<Vec<f32>>(),
            (rows, k),
            &Device::Cpu,
        )
        .unwrap();
        let x = Var::from_vec(data(rows * k, 2), (rows, k), &Device::Cpu).unwrap();
        let a = Var::from_vec(data(2 * r * k, 3), (2 * r, k), &Device::Cpu).unwrap();
        let b = Var::from_vec(data(7 * r, 4), (7, r), &Device::Cpu).unwrap();
        let c = Tensor::from_vec(data(rows * n, 5), (rows, n), &Device::Cpu).unwrap();
        let scale = 1.5;

        let op = AdaptedLinear {
            w: w.clone(),
            parts: vec![(0, 3), (5, 4)],
            rank: r,
            scale,
            mask: Some(mask.clone()),
        };
        let fused = x
            .as_tensor()
            .apply_op3(a.as_tensor(), b.as_tensor(), op)
            .unwrap();
        let fused_grads = (&fused * &c)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();

        let xd = (x.as_tensor() * &mask).unwrap();
        let part = |i: usize, b_at: usize, width: usize| {
            let u = xd
                .matmul(&a.as_tensor().narrow(0, i * r, r).unwrap().t().unwrap())
                .unwrap();
            (u.matmul(&b.as_tensor().narrow(0, b_at, width).unwrap().t().unwrap())
                .unwrap()
                * scale)
                .unwrap()
        };
        let zeros = Tensor::zeros((rows, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        let delta = Tensor::cat(&[part(0, 0, 3), zeros, part(1, 3, 4)], 1).unwrap();
        let composed = (x.as_tensor().matmul(&w.t().unwrap()).unwrap() + delta).unwrap();
        let grads = (&composed * &c)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();

        close(&fused, &composed, 1e-5);
        for var in [&x, &a, &b] {
            close(
                fused_grads.get(var.as_tensor()).unwrap(),
                grads.get(var.as_tensor()).unwrap(),
                1e-5,
            );
        }
    }
}
