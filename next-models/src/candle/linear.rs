//! The model's matrices, each one or two candle [`QMatMul`]s converted at load (see
//! [`super::gguf`]), and the stacking of matrices that read the same input.
//!
//! candle's fastest kernel for `Q8_0` (tiled int8, AVX-512 VNNI or AVX-VNNI, picked at
//! run time) needs an inner width that is a multiple of 256. Decoding reads every
//! weight once a step, so it is bound by memory traffic, and padding a `576`-wide
//! matrix with zeros to `768` would make it read a third more. Instead a matrix of
//! width `k = 256 j + r` is split in two: its first `256 j` columns, and its last `r`
//! columns *folded*: with `f = 256 / slot` (`slot`, the smallest of 32, 64, 128 that
//! holds `r`), output rows `g n/f + i` (`g < f`) are laid side by side in row `i` of an
//! `(n / f, 256)` matrix, each in its own slot, and the input's last `r` numbers go into
//! `f` rows, row `g` holding them in slot `g` and zeros elsewhere. That product's
//! `(f, n / f)` output, read in order, is the `n` outputs of the last columns; no
//! weight is padded beyond its slot, and the activations of each 256 block quantize as
//! they would padded. Matrices too narrow or of other shapes are padded whole.
//!
//! Matrices of one input (a layer's query, key and value matrices; its gate and up
//! matrices) are stacked into one before the conversion, their rows concatenated as
//! stored: one product then quantizes the input once and wakes the thread pool once,
//! and each output is the same as that of its matrix alone.

use candle_core::quantized::{ggml_file, GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use super::gguf::{self, WeightFormat};
use super::kernels::{tensor, with_data};

type Result<T> = std::result::Result<T, candle_core::Error>;

/// The inner widths that candle's tiled kernel takes.
const TILE_K: usize = 256;
/// The output rows of one tile of that kernel.
const TILE_N: usize = 16;

/// A weight matrix `(n, k)`.
///
/// Invariant: `main` reads the first `main_k` numbers of an input row, padded with
/// zeros to `main_padded`; `rest`, when present, the others (`k - main_k`), folded.
pub(crate) struct Linear {
    main: QMatMul,
    main_k: usize,
    main_padded: usize,
    rest: Option<Folded>,
    n: usize,
    k: usize,
}

/// The last columns of a matrix, folded (see the [module documentation](self)).
///
/// Invariant: `weight` is `(n / fold, 256)` with `fold * slot = 256`.
struct Folded {
    weight: QMatMul,
    fold: usize,
    slot: usize,
}

impl Linear {
    /// Converts `tensor`, `(n, k)`, as `format` says, split or padded for the tiled
    /// kernel when `tiled` says it serves this machine and the matrix becomes `Q8_0`.
    pub fn new(tensor: QTensor, format: WeightFormat, tiled: bool) -> Result<Self> {
        let (n, k) = tensor.shape().dims2()?;
        let becomes_q8_0 = tensor.dtype() == GgmlDType::Q8_0
            || (format == WeightFormat::Q8_0
                && matches!(
                    tensor.dtype(),
                    GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1
                ));
        if !tiled || !becomes_q8_0 || k % TILE_K == 0 {
            return Ok(Self {
                main: gguf::to_matmul(tensor, format)?,
                main_k: k,
                main_padded: k,
                rest: None,
                n,
                k,
            });
        }
        let dense = tensor.dequantize(&Device::Cpu)?;
        let q8_0 = |t: &Tensor| QMatMul::from_qtensor(QTensor::quantize(t, GgmlDType::Q8_0)?);
        let (main_k, r) = (k / TILE_K * TILE_K, k % TILE_K);
        let slot = [32, 64, 128]
            .into_iter()
            .find(|&s| r <= s)
            .unwrap_or(TILE_K);
        let fold = TILE_K / slot;
        if main_k == 0 || fold == 1 || n % (fold * TILE_N) != 0 {
            let padded = k.div_ceil(TILE_K) * TILE_K;
            return Ok(Self {
                main: q8_0(&dense.pad_with_zeros(1, 0, padded - k)?)?,
                main_k: k,
                main_padded: padded,
                rest: None,
                n,
                k,
            });
        }
        let folded = dense
            .narrow(1, main_k, r)?
            .pad_with_zeros(1, 0, slot - r)?
            .reshape((fold, n / fold, slot))?
            .transpose(0, 1)?
            .reshape((n / fold, TILE_K))?;
        Ok(Self {
            main: q8_0(&dense.narrow(1, 0, main_k)?.contiguous()?)?,
            main_k,
            main_padded: main_k,
            rest: Some(Folded {
                weight: q8_0(&folded)?,
                fold,
                slot,
            }),
            n,
            k,
        })
    }

    /// `x W^T` for the rows of `x`, `(rows, k)` in row-major order: `(rows, n)`.
    pub fn forward_rows(&self, x: &[f32]) -> Result<Vec<f32>> {
        let rows = x.len() / self.k;
        let main_in = if self.main_k == self.main_padded && self.main_k == self.k {
            x.to_vec()
        } else {
            let mut input = vec![0.0; rows * self.main_padded];
            for (dst, src) in input
                .chunks_exact_mut(self.main_padded)
                .zip(x.chunks_exact(self.k))
            {
                dst[..self.main_k].copy_from_slice(&src[..self.main_k]);
            }
            input
        };
        let main = self
            .main
            .forward(&tensor(main_in, &[rows, self.main_padded])?)?;
        let Some(rest) = &self.rest else {
            return with_data(&main, <[f32]>::to_vec);
        };
        let r = self.k - self.main_k;
        let mut input = vec![0.0; rows * rest.fold * TILE_K];
        for (dst, src) in input
            .chunks_exact_mut(rest.fold * TILE_K)
            .zip(x.chunks_exact(self.k))
        {
            for g in 0..rest.fold {
                let at = g * TILE_K + g * rest.slot;
                dst[at..at + r].copy_from_slice(&src[self.main_k..]);
            }
        }
        let folded = rest
            .weight
            .forward(&tensor(input, &[rows * rest.fold, TILE_K])?)?;
        with_data(&main, |main| {
            with_data(&folded, |folded| {
                main.iter().zip(folded).map(|(a, b)| a + b).collect()
            })
        })?
    }

    /// `x W^T` for `x`, `(rows, k)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let y = with_data(x, |x| self.forward_rows(x))??;
        tensor(y, &[rows, self.n])
    }
}

/// Matrices that read the same input, as one: the product is their outputs side by side.
pub(crate) enum Fused {
    /// Stacked into one matrix.
    One(Linear),
    /// Stored in different types, so kept apart.
    Parts(Vec<Linear>),
}

impl Fused {
    /// Stacks `parts` (each `(n_i, k)`, of one `k`), converted as [`Linear::new`] says.
    pub fn new(parts: Vec<QTensor>, format: WeightFormat, tiled: bool) -> Result<Self> {
        let dtype = parts.first().map(QTensor::dtype);
        if parts.iter().any(|p| Some(p.dtype()) != dtype) {
            return Ok(Self::Parts(
                parts
                    .into_iter()
                    .map(|p| Linear::new(p, format, tiled))
                    .collect::<Result<_>>()?,
            ));
        }
        let (Some(dtype), Some(first)) = (dtype, parts.first()) else {
            return Err(candle_core::Error::Msg("no matrices to stack".into()));
        };
        let k = first.shape().dims2()?.1;
        let mut n = 0;
        let mut bytes = Vec::new();
        for part in &parts {
            n += part.shape().dims2()?.0;
            bytes.extend_from_slice(&part.data()?);
        }
        let stacked = ggml_file::qtensor_from_ggml(dtype, &bytes, vec![n, k], &Device::Cpu)?;
        Ok(Self::One(Linear::new(stacked, format, tiled)?))
    }

    /// The outputs of the matrices for the rows of `x`, side by side: `(rows, sum n_i)`.
    pub fn forward_rows(&self, x: &[f32]) -> Result<Vec<f32>> {
        match self {
            Self::One(linear) => linear.forward_rows(x),
            Self::Parts(parts) => {
                let outs = parts
                    .iter()
                    .map(|p| Ok((p.n, p.forward_rows(x)?)))
                    .collect::<Result<Vec<_>>>()?;
                let rows = outs.first().map_or(0, |(n, y)| y.len() / n.max(&1));
                let mut y = Vec::with_capacity(outs.iter().map(|(_, y)| y.len()).sum());
                for r in 0..rows {
                    for (n, out) in &outs {
                        y.extend_from_slice(&out[r * n..(r + 1) * n]);
                    }
                }
                Ok(y)
            }
        }
    }

    /// The outputs of the matrices for `x`, `(rows, k)`, side by side.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let y = with_data(x, |x| self.forward_rows(x))??;
        let n = y.len() / rows.max(1);
        tensor(y, &[rows, n])
    }
}

/// Whether candle's tiled int8 kernel serves `Q8_0` matrices whose inner width is a
/// multiple of 256 on this machine.
pub(crate) fn tiled_kernel_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vnni"))
            || (std::arch::is_x86_feature_detected!("avxvnni")
                && std::arch::is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `(n, k)` `Q8_0` matrix of small varied numbers.
    fn matrix(n: usize, k: usize, seed: usize) -> QTensor {
        #[allow(clippy::cast_precision_loss)]
        let data: Vec<f32> = (0..n * k)
            .map(|i| ((i * 37 + seed * 11) % 97) as f32 / 97.0 - 0.5)
            .collect();
        let dense = Tensor::from_vec(data, (n, k), &Device::Cpu).unwrap();
        QTensor::quantize(&dense, GgmlDType::Q8_0).unwrap()
    }

    fn input(rows: usize, k: usize) -> Vec<f32> {
        #[allow(clippy::cast_precision_loss)]
        (0..rows * k)
            .map(|i| ((i * 13) % 29) as f32 / 29.0 - 0.3)
            .collect()
    }

    fn assert_close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "{x} != {y}");
        }
    }

    #[test]
    fn a_split_matrix_multiplies_as_the_whole() {
        // 576 = 2 x 256 + 64: the last 64 columns fold four ways.
        let (n, k) = (128, 576);
        let split = Linear::new(matrix(n, k, 1), WeightFormat::Q8_0, true).unwrap();
        assert!(split.rest.as_ref().is_some_and(|r| r.fold == 4));
        let whole = Linear::new(matrix(n, k, 1), WeightFormat::Q8_0, false).unwrap();
        assert!(whole.rest.is_none());
        let x = input(3, k);
        assert_close(
            &split.forward_rows(&x).unwrap(),
            &whole.forward_rows(&x).unwrap(),
        );
        // Rows that a fold cannot tile are padded whole instead.
        let padded = Linear::new(matrix(40, k, 2), WeightFormat::Q8_0, true).unwrap();
        assert!(padded.rest.is_none() && padded.main_padded == 768);
        let whole = Linear::new(matrix(40, k, 2), WeightFormat::Q8_0, false).unwrap();
        assert_close(
            &padded.forward_rows(&x).unwrap(),
            &whole.forward_rows(&x).unwrap(),
        );
    }

    #[test]
    fn stacked_matrices_give_each_output_side_by_side() {
        let k = 576;
        let parts = || vec![matrix(64, k, 3), matrix(32, k, 4)];
        let alone: Vec<Linear> = parts()
            .into_iter()
            .map(|p| Linear::new(p, WeightFormat::Q8_0, true).unwrap())
            .collect();
        let x = input(2, k);
        let (a, b) = (
            alone[0].forward_rows(&x).unwrap(),
            alone[1].forward_rows(&x).unwrap(),
        );
        let want: Vec<f32> = (0..2)
            .flat_map(|r| {
                a[r * 64..(r + 1) * 64]
                    .iter()
                    .chain(&b[r * 32..(r + 1) * 32])
                    .copied()
            })
            .collect();
        let stacked = Fused::new(parts(), WeightFormat::Q8_0, true).unwrap();
        assert!(matches!(stacked, Fused::One(_)));
        assert_close(&stacked.forward_rows(&x).unwrap(), &want);
        let kept_apart = Fused::Parts(alone);
        assert_close(&kept_apart.forward_rows(&x).unwrap(), &want);
    }
}
