//! Row-major matrices on plain vectors, and the matrix products of the training step
//! (faer's), written into buffers the step reuses.
//!
//! A product reads and writes through strided views: a head's columns of the stacked
//! query/key/value product, a transposed weight, a part's columns of a stacked product.
//! No operand is copied to make it contiguous, and no product allocates its output.

use faer::{Accum, MatMut, MatRef, Par};

/// A row-major `rows x cols` matrix.
///
/// Invariant: `data.len() == rows * cols`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matrix {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Matrix {
    /// The matrix of `data`, `rows x cols`, or `None` when the sizes disagree.
    pub fn new(data: Vec<f32>, rows: usize, cols: usize) -> Option<Self> {
        (rows.checked_mul(cols) == Some(data.len())).then_some(Self { data, rows, cols })
    }

    /// The matrices of `parts`, each as wide as the first, one under the other, or
    /// `None` when their widths differ.
    pub fn stack(parts: Vec<Matrix>) -> Option<Self> {
        let cols = parts.first()?.cols;
        if parts.iter().any(|p| p.cols != cols) {
            return None;
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        let mut data = Vec::with_capacity(rows * cols);
        for part in parts {
            data.extend(part.data);
        }
        Some(Self { data, rows, cols })
    }

    /// Its rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Its columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Its numbers, row after row.
    #[cfg(test)]
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Row `i`.
    ///
    /// # Panics
    /// When `i` is not below [`Matrix::rows`].
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..][..self.cols]
    }

    /// The whole matrix as a view.
    pub fn view(&self) -> MatRef<'_, f32> {
        MatRef::from_row_major_slice(&self.data, self.rows, self.cols)
    }
}

/// The `rows x cols` view of `data` whose rows are `stride` apart, from `offset`.
///
/// # Panics
/// When the view does not lie within `data` (a bug of the caller's sizes).
pub(crate) fn view(
    data: &[f32], offset: usize, rows: usize, cols: usize, stride: usize,
) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice_with_stride(&data[offset..], rows, cols, stride)
}

/// As [`view`], writable.
///
/// Built as the transpose of a column-major view: faer 0.24.4's
/// `from_row_major_slice_with_stride_mut` gives its rows a stride of 1 and its columns
/// the row stride (a column-major view), so products through it wrote outside their
/// rows; `strided_products_replace_or_add` checks the layout.
///
/// # Panics
/// As [`view`].
pub(crate) fn view_mut(
    data: &mut [f32], offset: usize, rows: usize, cols: usize, stride: usize,
) -> MatMut<'_, f32> {
    MatMut::from_column_major_slice_with_stride_mut(&mut data[offset..], cols, rows, stride)
        .transpose_mut()
}

/// Whether a product replaces its output or adds to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out {
    /// `out = alpha * lhs * rhs`.
    Set,
    /// `out += alpha * lhs * rhs`.
    Add,
}

/// Products smaller than this many multiply-adds run on one thread.
const SPLIT_AT: usize = 1 << 20;

/// `out = alpha * lhs * rhs` (or `+=`), on every thread of rayon's pool.
///
/// The output is cut into one block per thread (along its longer side), each block a
/// product on one thread, joined on rayon's pool. faer's own parallel products run on
/// a pool of their own whose threads spin while they wait: beside the per-row steps on
/// rayon's pool, they took the cores from them (measured: a step 3.4 times slower).
///
/// # Panics
/// When the shapes do not agree (a bug of the caller's sizes).
pub(crate) fn product(
    out: MatMut<'_, f32>, mode: Out, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32,
) {
    split(out, mode, lhs, rhs, alpha, rayon::current_num_threads());
}

/// [`product`] over `ways` threads.
fn split(
    out: MatMut<'_, f32>, mode: Out, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32,
    ways: usize,
) {
    let (m, n, k) = (out.nrows(), out.ncols(), lhs.ncols());
    if ways <= 1 || m.saturating_mul(n).saturating_mul(k) < SPLIT_AT || m.max(n) < 32 {
        return product_here(out, mode, lhs, rhs, alpha);
    }
    let first = ways / 2;
    // Blocks of whole 16s, as the kernels tile them.
    let cut = |len: usize| (len * first / ways).div_ceil(16) * 16;
    if m >= n {
        let at = cut(m).min(m);
        let (top, bottom) = out.split_at_row_mut(at);
        let (lhs_top, lhs_bottom) = lhs.split_at_row(at);
        rayon::join(
            || split(top, mode, lhs_top, rhs, alpha, first),
            || split(bottom, mode, lhs_bottom, rhs, alpha, ways - first),
        );
    } else {
        let at = cut(n).min(n);
        let (left, right) = out.split_at_col_mut(at);
        let (rhs_left, rhs_right) = rhs.split_at_col(at);
        rayon::join(
            || split(left, mode, lhs, rhs_left, alpha, first),
            || split(right, mode, lhs, rhs_right, alpha, ways - first),
        );
    }
}

/// As [`product`], on the calling thread only: for the small products that run in
/// parallel with each other.
pub(crate) fn product_here(
    out: MatMut<'_, f32>, mode: Out, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32,
) {
    let accum = match mode {
        Out::Set => Accum::Replace,
        Out::Add => Accum::Add,
    };
    faer::linalg::matmul::matmul(out, accum, lhs, rhs, alpha, Par::Seq);
}

/// Makes `buffer` hold `len` numbers, keeping its allocation; the numbers it already
/// held are left as they are (each user overwrites what it reads).
pub(crate) fn sized(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() != len {
        buffer.resize(len, 0.0);
    }
    buffer
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_precision_loss, clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_replace_or_add() {
        // lhs: columns 1..3 of a 2x4 matrix; rhs: the transpose of a 2x2 matrix.
        let a = [0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0];
        let b = Matrix::new(vec![1.0, 2.0, 3.0, 4.0], 2, 2).unwrap();
        let mut out = vec![1.0; 4];
        product(
            view_mut(&mut out, 0, 2, 2, 2),
            Out::Set,
            view(&a, 1, 2, 2, 4),
            b.view().transpose(),
            1.0,
        );
        // [1 2; 3 4] x [1 3; 2 4] = [5 11; 11 25]
        assert_eq!(out, [5.0, 11.0, 11.0, 25.0]);
        product_here(
            view_mut(&mut out, 0, 2, 2, 2),
            Out::Add,
            view(&a, 1, 2, 2, 4),
            b.view().transpose(),
            -2.0,
        );
        assert_eq!(out, [-5.0, -11.0, -11.0, -25.0]);
        // Into columns 1..3 of a 2x4 matrix, rows 4 apart: the rest untouched.
        let mut wide = vec![7.0; 8];
        product(
            view_mut(&mut wide, 1, 2, 2, 4),
            Out::Set,
            view(&a, 1, 2, 2, 4),
            b.view(),
            1.0,
        );
        // [1 2; 3 4] x [1 2; 3 4] = [7 10; 15 22]
        assert_eq!(wide, [7.0, 7.0, 10.0, 7.0, 7.0, 15.0, 22.0, 7.0]);
    }

    /// `lhs * rhs` the plain way.
    fn naive(lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>) -> Vec<f32> {
        let (m, k, n) = (lhs.nrows(), lhs.ncols(), rhs.ncols());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| lhs[(i, l)] * rhs[(l, j)]).sum();
            }
        }
        out
    }

    #[test]
    fn a_product_split_over_threads_is_the_whole_product() {
        // Above SPLIT_AT: cut by rows (tall) and by columns (wide), into a strided
        // output, added to what it holds.
        for (m, k, n) in [(301, 97, 45), (45, 97, 301)] {
            let lhs: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let rhs: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let (lhs, rhs) = (
                Matrix::new(lhs, m, k).unwrap(),
                Matrix::new(rhs, n, k).unwrap(),
            );
            assert!(m * n * k >= SPLIT_AT);
            let stride = n + 3;
            let mut out = vec![1.0; m * stride];
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            pool.install(|| {
                product(
                    view_mut(&mut out, 0, m, n, stride),
                    Out::Add,
                    lhs.view(),
                    rhs.view().transpose(),
                    0.5,
                );
            });
            let want = naive(lhs.view(), rhs.view().transpose());
            for i in 0..m {
                for j in 0..stride {
                    let got = out[i * stride + j];
                    let expected = if j < n {
                        1.0 + 0.5 * want[i * n + j]
                    } else {
                        1.0
                    };
                    assert_eq!(got, expected, "({m}, {k}, {n}) at ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn a_matrix_holds_its_shape() {
        assert!(Matrix::new(vec![0.0; 5], 2, 3).is_none());
        let m = Matrix::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
        assert_eq!(m.row(1), [4.0, 5.0, 6.0]);
        let s = Matrix::stack(vec![m.clone(), m.clone()]).unwrap();
        assert_eq!((s.rows(), s.cols()), (4, 3));
        assert_eq!(s.row(3), [4.0, 5.0, 6.0]);
        let narrow = Matrix::new(vec![1.0, 2.0], 1, 2).unwrap();
        assert!(Matrix::stack(vec![m, narrow]).is_none());
    }
}
