//! Fused operations of the training forward, each with its own backward pass: the
//! attention's causal softmax, the RMS norm, the rotary embedding, the feed-forward's
//! activation and the output head with the cross-entropy loss.
//!
//! Built from candle operations (see [`super::ops`]), each of these takes six to ten
//! passes over its tensor forward and as many backward, each pass allocating a tensor
//! of its size: for the attention's `heads x positions^2` scores and the loss's
//! `targets x vocab` logits, most of a training step's time outside the matrix
//! products went to those passes and to the page faults of their allocations. Here
//! each is one pass forward and one backward, rows in parallel on rayon's pool. The
//! compositions stay as their reference: the tests hold each fused operation to its
//! composition, forward and backward, and to finite differences.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::candle::kernels::{tensor, with_data};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

use super::ops::slice;

/// `softmax(scale * s)` over each row of scores `s`, whose last dimension is the
/// `positions` keys and whose rows are queries at positions `row % positions`, keys
/// after the query masked out (their probability is 0): the attention's weights.
pub(crate) struct CausalSoftmax {
    pub positions: usize,
    pub scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let s = slice(storage, layout)?;
        let t = self.positions;
        let mut out = vec![0.0f32; s.len()];
        out.par_chunks_mut(t * ROWS_PER_TASK)
            .zip(s.par_chunks(t * ROWS_PER_TASK))
            .enumerate()
            .for_each(|(task, (dst, src))| {
                for (k, (d, x)) in dst.chunks_exact_mut(t).zip(src.chunks_exact(t)).enumerate() {
                    let seen = (task * ROWS_PER_TASK + k) % t + 1;
                    let (d, x) = (&mut d[..seen], &x[..seen]);
                    let max = x.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v)) * self.scale;
                    let mut sum = 0.0;
                    for (d, x) in d.iter_mut().zip(x) {
                        *d = (x * self.scale - max).exp();
                        sum += *d;
                    }
                    let inv = 1.0 / sum;
                    for d in d.iter_mut() {
                        *d *= inv;
                    }
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let t = self.positions;
        let grad = with_data(res, |p| {
            with_data(grad_res, |g| {
                let mut out = vec![0.0f32; p.len()];
                out.par_chunks_mut(t * ROWS_PER_TASK)
                    .zip(
                        p.par_chunks(t * ROWS_PER_TASK)
                            .zip(g.par_chunks(t * ROWS_PER_TASK)),
                    )
                    .enumerate()
                    .for_each(|(task, (dst, (p, g)))| {
                        let rows = dst
                            .chunks_exact_mut(t)
                            .zip(p.chunks_exact(t).zip(g.chunks_exact(t)));
                        for (k, (d, (p, g))) in rows.enumerate() {
                            let seen = (task * ROWS_PER_TASK + k) % t + 1;
                            let dot: f32 =
                                p[..seen].iter().zip(&g[..seen]).map(|(p, g)| p * g).sum();
                            for ((d, p), g) in d[..seen].iter_mut().zip(&p[..seen]).zip(&g[..seen])
                            {
                                *d = self.scale * p * (g - dot);
                            }
                        }
                    });
                out
            })
        })??;
        Ok(Some(tensor(grad, res.dims())?))
    }
}

/// The rows of `x`, `(rows, width)`, divided by their root mean square and scaled by
/// `weight`; the weight is a constant and takes no gradient.
pub(crate) struct RmsNorm {
    pub weight: Vec<f32>,
    pub eps: f32,
}

impl RmsNorm {
    /// `1 / rms` of a row.
    // A row's width is far below 2^23.
    #[allow(clippy::cast_precision_loss)]
    fn inv_rms(&self, row: &[f32]) -> f32 {
        let sum: f32 = row.iter().map(|v| v * v).sum();
        1.0 / (sum / row.len() as f32 + self.eps).sqrt()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(storage, layout)?;
        let w = self.weight.len();
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(w * ROWS_PER_TASK)
            .zip(x.par_chunks(w * ROWS_PER_TASK))
            .for_each(|(dst, src)| {
                for (d, x) in dst.chunks_exact_mut(w).zip(src.chunks_exact(w)) {
                    let inv = self.inv_rms(x);
                    for ((d, x), w) in d.iter_mut().zip(x).zip(&self.weight) {
                        *d = x * inv * w;
                    }
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    // A row's width is far below 2^23.
    #[allow(clippy::cast_precision_loss)]
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let w = self.weight.len();
        let grad = with_data(arg, |x| {
            with_data(grad_res, |g| {
                let mut out = vec![0.0f32; x.len()];
                out.par_chunks_mut(w * ROWS_PER_TASK)
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
                            let r = self.inv_rms(x);
                            let dot: f32 = g
                                .iter()
                                .zip(x)
                                .zip(&self.weight)
                                .map(|((g, x), w)| g * w * x * r)
                                .sum::<f32>()
                                / w as f32;
                            for (((d, x), g), wt) in d.iter_mut().zip(x).zip(g).zip(&self.weight) {
                                *d = r * (g * wt - x * r * dot);
                            }
                        }
                    });
                out
            })
        })??;
        Ok(Some(tensor(grad, arg.dims())?))
    }
}

/// `log(sum(exp(row)))`, stably.
fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
    max + sum.ln()
}

/// The interleaved rotary embedding of `x`, `(batch, heads, positions, head_dim)`,
/// contiguous: each pair `(x[2i], x[2i+1])` of a row at position `p` rotated by the
/// angle whose cosine and sine are `cos[p][i]` and `sin[p][i]`. Its backward pass
/// rotates the gradient back.
pub(crate) struct Rope {
    /// `(positions, head_dim / 2)`, row-major.
    pub cos: Vec<f32>,
    /// As `cos`.
    pub sin: Vec<f32>,
    pub positions: usize,
}

impl Rope {
    /// Rotates every row of `x` (rows of `2 * half`) by `sign` times its angles.
    fn rotate(&self, x: &[f32], sign: f32) -> Vec<f32> {
        let half = self.cos.len() / self.positions.max(1);
        let width = 2 * half;
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(width * ROWS_PER_TASK)
            .zip(x.par_chunks(width * ROWS_PER_TASK))
            .enumerate()
            .for_each(|(task, (dst, src))| {
                let rows = dst.chunks_exact_mut(width).zip(src.chunks_exact(width));
                for (k, (d, x)) in rows.enumerate() {
                    let p = (task * ROWS_PER_TASK + k) % self.positions;
                    let angles = self.cos[p * half..][..half]
                        .iter()
                        .zip(&self.sin[p * half..][..half]);
                    for ((d, x), (c, s)) in d.chunks_exact_mut(2).zip(x.chunks_exact(2)).zip(angles)
                    {
                        let s = sign * s;
                        d[0] = x[0] * c - x[1] * s;
                        d[1] = x[0] * s + x[1] * c;
                    }
                }
            });
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
/// vocabulary, in chunks of [`HEAD_CHUNK`] rows, so that the `rows x vocab` logits are
/// never held at once (the backward pass computes its chunk's logits again).
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
                .map(|(row, &t)| log_sum_exp(row) - row[t as usize])
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
            d.par_chunks_mut(vocab)
                .zip(targets.par_iter())
                .for_each(|(row, &t)| {
                    let lse = log_sum_exp(row);
                    for x in row.iter_mut() {
                        *x = scale * (*x - lse).exp();
                    }
                    row[t as usize] -= scale;
                });
            grads.push(tensor(d, &[targets.len(), vocab])?.matmul(&self.w)?);
        }
        let grad = Tensor::cat(&grads, 0)?;
        debug_assert_eq!(grad.dims(), &[rows, width]);
        Ok(Some(grad))
    }
}

/// `silu(gate) * up` for rows holding `[gate | up]`, each `width` wide: the
/// feed-forward's activation on the stacked gate/up product, whose backward pass gives
/// the gradient of the whole row at once (two slices of it would each come back as a
/// zero-padded tensor of the row's size).
pub(crate) struct SwiGlu {
    pub width: usize,
}

impl CustomOp1 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (rows, cols) = layout.shape().dims2()?;
        let w = self.width;
        if cols != 2 * w {
            return Err(candle_core::Error::Msg(format!(
                "rows of {cols} for a gate and an up of {w}"
            )));
        }
        let x = slice(storage, layout)?;
        let mut out = vec![0.0f32; rows * w];
        out.par_chunks_mut(w * ROWS_PER_TASK)
            .zip(x.par_chunks(2 * w * ROWS_PER_TASK))
            .for_each(|(dst, src)| {
                for (d, row) in dst.chunks_exact_mut(w).zip(src.chunks_exact(2 * w)) {
                    let (gate, up) = row.split_at(w);
                    for ((d, g), u) in d.iter_mut().zip(gate).zip(up) {
                        *d = g / (1.0 + (-g).exp()) * u;
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((rows, w))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let w = self.width;
        let grad = with_data(arg, |x| {
            with_data(grad_res, |g| {
                let mut out = vec![0.0f32; x.len()];
                out.par_chunks_mut(2 * w * ROWS_PER_TASK)
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
                                let s = 1.0 / (1.0 + (-gate[i]).exp());
                                d_up[i] = g[i] * gate[i] * s;
                                d_gate[i] = g[i] * up[i] * s * (1.0 + gate[i] * (1.0 - s));
                            }
                        }
                    });
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
    use super::*;

    fn data(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 + seed * 101) % 89) as f32 / 30.0 - 1.4)
            .collect()
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "[{i}] {x} != {y}");
        }
    }

    /// The value and the input's gradient of `sum(f(x) * c)`.
    fn value_and_grad(
        x: &[f32],
        shape: &[usize],
        c: &Tensor,
        f: &dyn Fn(&Tensor) -> Tensor,
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
        let cos = Tensor::from_vec(data(5 * 4, 9), (5, 4), &Device::Cpu)
            .unwrap()
            .cos()
            .unwrap();
        let sin = Tensor::from_vec(data(5 * 4, 9), (5, 4), &Device::Cpu)
            .unwrap()
            .sin()
            .unwrap();
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
