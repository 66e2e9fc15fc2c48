//! The differentiable pieces of the tests' reference forward ([`super::reference`]).
//!
//! candle-nn's fused `rms_norm`, `softmax_last_dim` and `rope` have no backward pass.
//! This module writes each as a composition of candle operations that have one
//! (`rms_norm`, `softmax`, `log_softmax`, `rope_interleaved`): the definitions, which
//! the tests check against candle-nn's kernels and against finite differences. The
//! reference forward runs their fused equivalents ([`super::fused`], over the per-row
//! steps the training pass runs), which the tests hold to these compositions, forward
//! and backward; the inference forward keeps candle-nn's kernels, and the tests hold
//! the two forwards to the same logits.
//!
//! The one custom operation is [`frozen_linear`]: a product by a base matrix, which
//! training never changes. candle's backward pass of `matmul` computes the gradient of
//! both operands, so a product by a constant matrix would cost a second, wasted matrix
//! product per layer and per step (the weight's gradient, as large as the forward
//! product itself); [`FrozenLinear`]'s backward computes only the input's gradient.

use candle_core::backend::BackendStorage as _;
#[cfg(test)]
use candle_core::D;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// `x W^T` for a constant `W`, `(n, k)`: see the [module documentation](self).
///
/// Invariant: `w` is a contiguous `f32` matrix on the CPU.
pub(crate) struct FrozenLinear {
    w: Tensor,
}

impl FrozenLinear {
    /// Wraps `w`, `(n, k)`.
    pub fn new(w: &Tensor) -> Result<Self> {
        w.dims2()?;
        Ok(Self {
            w: w.to_dtype(DType::F32)?.contiguous()?,
        })
    }

    /// Its matrix.
    pub fn weight(&self) -> &Tensor {
        &self.w
    }
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let rows = layout.shape().dims2()?.0;
        let y = frozen_product(storage, layout, &self.w)?;
        Ok((CpuStorage::F32(y), Shape::from((rows, self.w.dim(0)?))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.w)?))
    }
}

/// The contiguous `f32` numbers of a CPU storage.
pub(crate) fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
        candle_core::Error::Msg("a fused operation takes a contiguous input".into())
    })?;
    Ok(&storage.as_slice::<f32>()?[start..end])
}

/// `x W^T`, `(rows, n)`, for `x`, `(rows, k)`, as stored, and `w`, `(n, k)`: the product
/// written straight into the vector returned, without copying `x` into a tensor or the
/// product out of one.
#[allow(clippy::many_single_char_names)]
pub(crate) fn frozen_product(x: &CpuStorage, layout: &Layout, w: &Tensor) -> Result<Vec<f32>> {
    let (rows, k) = layout.shape().dims2()?;
    let n = w.dim(0)?;
    let (storage, w_layout) = w.storage_and_layout();
    let Storage::Cpu(w_cpu) = &*storage else {
        return Err(candle_core::Error::Msg(
            "frozen weights live on the CPU".into(),
        ));
    };
    match x.matmul(w_cpu, (1, rows, n, k), layout, &w_layout.transpose(0, 1)?)? {
        CpuStorage::F32(y) => Ok(y),
        _ => Err(candle_core::Error::Msg(
            "an f32 product that is not f32".into(),
        )),
    }
}

/// `x W^T` for `x`, `(rows, k)`, through a [`FrozenLinear`] (shared, not copied).
pub(crate) fn frozen_linear(x: &Tensor, w: &std::sync::Arc<FrozenLinear>) -> Result<Tensor> {
    x.contiguous()?
        .apply_op1_arc(std::sync::Arc::new(Box::new(Shared(w.clone()))))
}

/// A [`FrozenLinear`] shared between the steps of a training.
struct Shared(std::sync::Arc<FrozenLinear>);

impl CustomOp1 for Shared {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        self.0.cpu_fwd(storage, layout)
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        self.0.bwd(arg, res, grad_res)
    }
}

/// The rows of `x`, `(rows, width)`, divided by their root mean square and scaled by
/// `weight`, `(width,)`: as the inference forward's kernel computes it.
#[cfg(test)]
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let rms = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?;
    x.broadcast_div(&rms)?.broadcast_mul(weight)
}

/// The softmax of `x` over its last dimension. The maximum subtracted for stability is
/// a constant to the gradient (the softmax does not depend on it), so it is detached.
#[cfg(test)]
pub(crate) fn softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}

/// The logarithm of the softmax of `x` over its last dimension.
#[cfg(test)]
pub(crate) fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// The interleaved rotary embedding of `x`, `(batch, heads, positions, head_dim)`:
/// each pair `(x[2i], x[2i+1])` rotated by the angle of `cos`/`sin`, `(positions,
/// head_dim / 2)`; what candle-nn's `rope_i` computes.
#[cfg(test)]
#[allow(clippy::many_single_char_names)]
pub(crate) fn rope_interleaved(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let (b, h, t, d) = x.dims4()?;
    let pairs = x.reshape((b, h, t, d / 2, 2))?;
    let x0 = pairs.narrow(4, 0, 1)?;
    let x1 = pairs.narrow(4, 1, 1)?;
    let cos = cos.reshape((1, 1, t, d / 2, 1))?;
    let sin = sin.reshape((1, 1, t, d / 2, 1))?;
    let r0 = (x0.broadcast_mul(&cos)? - x1.broadcast_mul(&sin)?)?;
    let r1 = (x0.broadcast_mul(&sin)? + x1.broadcast_mul(&cos)?)?;
    Tensor::cat(&[r0, r1], 4)?.reshape((b, h, t, d))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::type_complexity
)]
mod tests {
    use std::sync::Arc;

    use candle_core::{Device, Var};

    use super::super::testing::{self, close, data};
    use super::*;

    #[test]
    fn frozen_linear_gives_the_product_and_the_input_gradient_only() {
        let w = Tensor::from_vec(data(6 * 4, 1), (6, 4), &Device::Cpu).unwrap();
        let x = Var::from_vec(data(3 * 4, 2), (3, 4), &Device::Cpu).unwrap();
        let op = Arc::new(FrozenLinear::new(&w).unwrap());
        let y = frozen_linear(x.as_tensor(), &op).unwrap();
        let want = x.as_tensor().matmul(&w.t().unwrap()).unwrap();
        close(&y, &want, 1e-6);
        // The gradient of sum(y * c) with respect to x is c W.
        let c = Tensor::from_vec(data(3 * 6, 3), (3, 6), &Device::Cpu).unwrap();
        let grads = (y * &c).unwrap().sum_all().unwrap().backward().unwrap();
        close(
            grads.get(x.as_tensor()).unwrap(),
            &c.matmul(&w).unwrap(),
            1e-6,
        );
        // The weight is no variable and gets no gradient.
        assert!(grads.get(op.weight()).is_none());
    }

    #[test]
    fn compositions_match_candles_fused_kernels() {
        let x = Tensor::from_vec(data(2 * 3 * 5 * 8, 4), (2, 3, 5, 8), &Device::Cpu).unwrap();
        close(
            &softmax(&x).unwrap(),
            &candle_nn::ops::softmax_last_dim(&x).unwrap(),
            1e-6,
        );
        close(
            &log_softmax(&x).unwrap(),
            &candle_nn::ops::softmax_last_dim(&x).unwrap().log().unwrap(),
            1e-5,
        );
        let (cos, sin) = testing::rope_tables(data(5 * 4, 5), 5, 4);
        close(
            &rope_interleaved(&x, &cos, &sin).unwrap(),
            &candle_nn::rotary_emb::rope_i(&x, &cos, &sin).unwrap(),
            1e-6,
        );
        let rows = Tensor::from_vec(data(4 * 8, 6), (4, 8), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(data(8, 7), 8, &Device::Cpu).unwrap();
        close(
            &rms_norm(&rows, &w, 1e-5).unwrap(),
            &candle_nn::ops::rms_norm(&rows, &w, 1e-5).unwrap(),
            1e-5,
        );
    }

    #[test]
    fn compositions_have_the_gradients_of_finite_differences() {
        // d/dx of sum(f(x) * c), by central differences, against backward.
        let shape = (1, 2, 3, 4);
        let n = 2 * 3 * 4;
        let c = Tensor::from_vec(data(n, 9), shape, &Device::Cpu).unwrap();
        let (cos, sin) = testing::rope_tables(data(3 * 2, 5), 3, 2);
        let w = Tensor::from_vec(data(4, 8), 4, &Device::Cpu).unwrap();
        let fs: Vec<(&str, Box<dyn Fn(&Tensor) -> Tensor>)> = vec![
            ("softmax", Box::new(|x: &Tensor| softmax(x).unwrap())),
            (
                "log_softmax",
                Box::new(|x: &Tensor| log_softmax(x).unwrap()),
            ),
            (
                "rope",
                Box::new(|x: &Tensor| rope_interleaved(x, &cos, &sin).unwrap()),
            ),
            (
                "rms_norm",
                Box::new(|x: &Tensor| {
                    rms_norm(&x.reshape((6, 4)).unwrap(), &w, 1e-5)
                        .unwrap()
                        .reshape(shape)
                        .unwrap()
                }),
            ),
        ];
        for (name, f) in &fs {
            let x0 = data(n, 11);
            let x = Var::from_vec(x0.clone(), shape, &Device::Cpu).unwrap();
            let loss = |t: &Tensor| (f(t) * &c).unwrap().sum_all().unwrap();
            let grads = loss(x.as_tensor()).backward().unwrap();
            let grad = grads
                .get(x.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let eps = 1e-2f32;
            for i in 0..n {
                let at = |d: f32| {
                    let mut v = x0.clone();
                    v[i] += d;
                    let t = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
                    loss(&t).to_scalar::<f32>().unwrap()
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!(
                    (numeric - grad[i]).abs() < 2e-3,
                    "{name}: d/dx[{i}] = {} by backward, {numeric} by differences",
                    grad[i]
                );
            }
        }
    }
}
