//! The tests' fused operations: the per-row steps of [`super::rows`] as candle
//! operations with their own backward pass, so that candle's autograd can run the
//! reference forward ([`super::reference`]). The tests hold each to its composition of
//! candle operations ([`super::ops`]), forward and backward, and thereby the kernels
//! the training pass runs.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::ops::slice;
use super::rows;
use crate::candle::kernels::{tensor, with_data};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// [`rows::causal_softmax`] over scores whose last dimension is the `positions` keys.
pub(crate) struct CausalSoftmax {
    pub positions: usize,
    pub scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut out = slice(storage, layout)?.to_vec();
        rows::causal_softmax(&mut out, self.positions, self.scale);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let mut g = grad_res.flatten_all()?.to_vec1::<f32>()?;
        with_data(res, |p| {
            rows::causal_softmax_back(p, &mut g, self.positions, self.scale);
        })?;
        Ok(Some(tensor(g, res.dims())?))
    }
}

/// [`rows::rms_norm`] of rows `(rows, width)`; the weight is a constant.
pub(crate) struct RmsNorm {
    pub weight: Vec<f32>,
    pub eps: f32,
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(storage, layout)?;
        let mut out = vec![0.0f32; x.len()];
        rows::rms_norm(x, &self.weight, self.eps, &mut out);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = with_data(arg, |x| {
            with_data(grad_res, |g| {
                let mut out = vec![0.0f32; x.len()];
                rows::rms_norm_back(x, &self.weight, self.eps, g, &mut out, false);
                out
            })
        })??;
        Ok(Some(tensor(grad, arg.dims())?))
    }
}

/// [`rows::rope`] of `x`, `(batch, heads, positions, head_dim)`, contiguous.
pub(crate) struct Rope {
    /// `(positions, head_dim / 2)`, row-major.
    pub cos: Vec<f32>,
    /// As `cos`.
    pub sin: Vec<f32>,
    pub positions: usize,
}

impl Rope {
    fn rotate(&self, x: &[f32], sign: f32) -> Vec<f32> {
        let half = self.cos.len() / self.positions.max(1);
        let mut out = x.to_vec();
        rows::rope(
            &mut out,
            2 * half,
            2 * half,
            self.positions,
            &self.cos,
            &self.sin,
            half,
            sign,
        );
        out
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, _, t, d) = layout.shape().dims4()?;
        if t != self.positions || d * self.positions != 2 * self.cos.len() {
            return Err(candle_core::Error::Msg(format!(
                "rope tables of {} positions for {t} positions of width {d}",
                self.positions
            )));
        }
        let x = slice(storage, layout)?;
        Ok((CpuStorage::F32(self.rotate(x, 1.0)), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = with_data(grad_res, |g| self.rotate(g, -1.0))?;
        Ok(Some(tensor(grad, res.dims())?))
    }
}

/// The summed negative log-likelihood of `targets` under the output head: the hidden
/// states `(rows, width)` times the head `W`, `(vocab, width)`, then a softmax over the
/// vocabulary, in chunks of [`HEAD_CHUNK`] rows (the backward pass computes its
/// chunk's logits again).
pub(crate) struct HeadCrossEntropy {
    /// The head `(vocab, width)`, contiguous.
    pub w: Tensor,
    pub targets: Vec<u32>,
}

/// Rows of hidden states whose logits [`HeadCrossEntropy`] computes at once.
pub(crate) const HEAD_CHUNK: usize = 32;

impl HeadCrossEntropy {
    /// The logits of `rows` hidden states `(rows, width)`, as one vector.
    fn logits(&self, hidden: &Tensor) -> Result<Vec<f32>> {
        hidden.matmul(&self.w.t()?)?.flatten_all()?.to_vec1::<f32>()
    }
}

impl CustomOp1 for HeadCrossEntropy {
    fn name(&self) -> &'static str {
        "head-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, width) = layout.shape().dims2()?;
        let vocab = self.w.dim(0)?;
        if self.targets.len() != rows || self.targets.iter().any(|&t| t as usize >= vocab) {
            return Err(candle_core::Error::Msg(format!(
                "{} targets below {vocab} for {rows} hidden states",
                self.targets.len()
            )));
        }
        let hidden = slice(storage, layout)?;
        let mut nll = 0.0f32;
        for (chunk, targets) in hidden
            .chunks(HEAD_CHUNK * width)
            .zip(self.targets.chunks(HEAD_CHUNK))
        {
            let h = Tensor::from_slice(chunk, (targets.len(), width), &candle_core::Device::Cpu)?;
            let logits = self.logits(&h)?;
            let per_row: Vec<f32> = logits
                .par_chunks(vocab)
                .zip(targets.par_iter())
                .map(|(row, &t)| rows::log_sum_exp(row) - row[t as usize])
                .collect();
            nll += per_row.iter().sum::<f32>();
        }
        Ok((CpuStorage::F32(vec![nll]), Shape::from(())))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (rows, width) = arg.dims2()?;
        let vocab = self.w.dim(0)?;
        let scale = grad_res.to_scalar::<f32>()?;
        let hidden = arg.detach();
        let mut grads = Vec::with_capacity(rows.div_ceil(HEAD_CHUNK));
        for (i, targets) in self.targets.chunks(HEAD_CHUNK).enumerate() {
            let h = hidden.narrow(0, i * HEAD_CHUNK, targets.len())?;
            let mut d = self.logits(&h)?;
            rows::cross_entropy_back(&mut d, vocab, targets, scale);
            grads.push(tensor(d, &[targets.len(), vocab])?.matmul(&self.w)?);
        }
        let grad = Tensor::cat(&grads, 0)?;
        debug_assert_eq!(grad.dims(), &[rows, width]);
        Ok(Some(grad))
    }
}

/// [`rows::swiglu`] for rows holding `[gate | up]`, each `width` wide.
pub(crate) struct SwiGlu {
    pub width: usize,
}

impl CustomOp1 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, cols) = layout.shape().dims2()?;
        let w = self.width;
        if cols != 2 * w {
            return Err(candle_core::Error::Msg(format!(
                "rows of {cols} for a gate and an up of {w}"
            )));
        }
        let x = slice(storage, layout)?;
        let mut out = vec![0.0f32; n * w];
        rows::swiglu(x, w, &mut out);
        Ok((CpuStorage::F32(out), Shape::from((n, w))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = with_data(arg, |x| {
            with_data(grad_res, |g| {
                let mut out = vec![0.0f32; x.len()];
                rows::swiglu_back(x, self.width, g, &mut out);
                out
            })
        })??;
        Ok(Some(tensor(grad, arg.dims())?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_precision_loss)]
mod tests {
    use candle_core::{Device, Var, D};

    use super::super::ops;
    use super::super::testing::{self, close};
    use super::*;

    /// The inputs of these tests: wider than [`testing::data`]'s, for the activations.
    fn data(n: usize, seed: usize) -> Vec<f32> {
        testing::spread(n, seed, 30.0, 1.4)
    }

    /// The value and the input's gradient of `sum(f(x) * c)`.
    fn value_and_grad(
        x: &[f32], shape: &[usize], c: &Tensor, f: &dyn Fn(&Tensor) -> Tensor,
    ) -> (Tensor, Tensor) {
        let x = Var::from_vec(x.to_vec(), shape, &Device::Cpu).unwrap();
        let y = f(x.as_tensor());
        let grads = y
            .broadcast_mul(c)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        (y, grads.get(x.as_tensor()).unwrap().clone())
    }

    #[test]
    fn causal_softmax_is_the_masked_composition_forward_and_backward() {
        // (batch 1, 2 kv heads, 3 groups x 5 positions, 5 keys).
        let (t, shape) = (5, [1, 2, 15, 5]);
        let n = shape.iter().product();
        let x = data(n, 1);
        let c = Tensor::from_vec(data(n, 2), &shape, &Device::Cpu).unwrap();
        let scale = 0.37;
        let mask = crate::candle::model::causal_mask(t, 0).unwrap();
        let composed = |s: &Tensor| {
            ops::softmax(
                &(s * f64::from(scale))
                    .unwrap()
                    .reshape((1, 2, 3, t, t))
                    .unwrap()
                    .broadcast_add(&mask)
                    .unwrap(),
            )
            .unwrap()
            .reshape(&shape)
            .unwrap()
        };
        let fused = |s: &Tensor| {
            s.apply_op1(CausalSoftmax {
                positions: t,
                scale,
            })
            .unwrap()
        };
        let (y0, g0) = value_and_grad(&x, &shape, &c, &composed);
        let (y1, g1) = value_and_grad(&x, &shape, &c, &fused);
        close(&y1, &y0, 1e-6);
        close(&g1, &g0, 1e-5);
    }

    #[test]
    fn rms_norm_is_the_composition_forward_and_backward() {
        let shape = [6, 8];
        let x = data(48, 3);
        let c = Tensor::from_vec(data(48, 4), &shape, &Device::Cpu).unwrap();
        let weight = data(8, 5);
        let w = Tensor::from_vec(weight.clone(), 8, &Device::Cpu).unwrap();
        let composed = |x: &Tensor| ops::rms_norm(x, &w, 1e-5).unwrap();
        let fused = |x: &Tensor| {
            x.apply_op1(RmsNorm {
                weight: weight.clone(),
                eps: 1e-5,
            })
            .unwrap()
        };
        let (y0, g0) = value_and_grad(&x, &shape, &c, &composed);
        let (y1, g1) = value_and_grad(&x, &shape, &c, &fused);
        close(&y1, &y0, 1e-5);
        close(&g1, &g0, 1e-4);
    }

    #[test]
    fn the_chunked_head_loss_is_the_product_then_the_loss() {
        // 70 rows: two whole chunks and a part.
        let (rows, width, vocab) = (70, 6, 13);
        let x = data(rows * width, 10);
        let w = Tensor::from_vec(data(vocab * width, 11), (vocab, width), &Device::Cpu).unwrap();
        let targets: Vec<u32> = (0..rows)
            .map(|i| u32::try_from(i * 7 % vocab).unwrap())
            .collect();
        let one = Tensor::new(1f32, &Device::Cpu).unwrap();
        let t = Tensor::from_vec(targets.clone(), (rows, 1), &Device::Cpu).unwrap();
        let composed = |h: &Tensor| {
            let logits = h.matmul(&w.t().unwrap()).unwrap();
            ops::log_softmax(&logits)
                .unwrap()
                .gather(&t, D::Minus1)
                .unwrap()
                .sum_all()
                .unwrap()
                .neg()
                .unwrap()
        };
        let fused = |h: &Tensor| {
            h.apply_op1(HeadCrossEntropy {
                w: w.clone(),
                targets: targets.clone(),
            })
            .unwrap()
        };
        let (y0, g0) = value_and_grad(&x, &[rows, width], &one, &composed);
        let (y1, g1) = value_and_grad(&x, &[rows, width], &one, &fused);
        close(&y1, &y0, 1e-5);
        close(&g1, &g0, 1e-5);
        let outside = Tensor::from_vec(x, (rows, width), &Device::Cpu)
            .unwrap()
            .apply_op1(HeadCrossEntropy {
                w: w.clone(),
                targets: vec![13; rows],
            });
        assert!(outside.is_err(), "a target outside the vocabulary");
    }

    #[test]
    fn swiglu_is_the_composition_forward_and_backward() {
        let (rows, w) = (37, 5);
        let x = data(rows * 2 * w, 12);
        let c = Tensor::from_vec(data(rows * w, 13), (rows, w), &Device::Cpu).unwrap();
        let composed = |x: &Tensor| {
            (x.narrow(1, 0, w).unwrap().silu().unwrap() * x.narrow(1, w, w).unwrap()).unwrap()
        };
        let fused = |x: &Tensor| x.apply_op1(SwiGlu { width: w }).unwrap();
        let (y0, g0) = value_and_grad(&x, &[rows, 2 * w], &c, &composed);
        let (y1, g1) = value_and_grad(&x, &[rows, 2 * w], &c, &fused);
        close(&y1, &y0, 1e-6);
        close(&g1, &g0, 1e-5);
    }

    #[test]
    fn rope_is_the_composition_forward_and_backward() {
        let shape = [2, 3, 5, 8];
        let n = 2 * 3 * 5 * 8;
        let x = data(n, 7);
        let c = Tensor::from_vec(data(n, 8), &shape, &Device::Cpu).unwrap();
        let (cos, sin) = testing::rope_tables(data(5 * 4, 9), 5, 4);
        let composed = |x: &Tensor| ops::rope_interleaved(x, &cos, &sin).unwrap();
        let op = || Rope {
            cos: cos.flatten_all().unwrap().to_vec1().unwrap(),
            sin: sin.flatten_all().unwrap().to_vec1().unwrap(),
            positions: 5,
        };
        let fused = |x: &Tensor| x.apply_op1(op()).unwrap();
        let (y0, g0) = value_and_grad(&x, &shape, &c, &composed);
        let (y1, g1) = value_and_grad(&x, &shape, &c, &fused);
        close(&y1, &y0, 1e-6);
        close(&g1, &g0, 1e-5);
        let wrong = Tensor::from_vec(x, &shape, &Device::Cpu)
            .unwrap()
            .apply_op1(Rope {
                positions: 4,
                ..op()
            });
        assert!(wrong.is_err());
    }
}
