//! What the unit tests of the training's operations share: inputs that are the same on
//! every run, and the comparison of two tensors.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use candle_core::{Device, Tensor};

/// `n` numbers in `[-0.5, 0.5)`, in a different order for each `seed`.
pub(super) fn data(n: usize, seed: usize) -> Vec<f32> {
    spread(n, seed, 89.0, 0.5)
}

/// `n` numbers `v / scale - shift`, `v` taking the values `0..89` in a different order
/// for each `seed`.
pub(super) fn spread(n: usize, seed: usize, scale: f32, shift: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 + seed * 101) % 89) as f32 / scale - shift)
        .collect()
}

/// Asserts that `a` and `b` hold as many numbers, each within `tol` of the other relative
/// to `1 + |b|`.
pub(super) fn close(a: &Tensor, b: &Tensor, tol: f32) {
    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "[{i}] {x} != {y}");
    }
}

/// The cosines and sines of `angles`, `(positions, half)` tables of a rotary embedding.
pub(super) fn rope_tables(angles: Vec<f32>, positions: usize, half: usize) -> (Tensor, Tensor) {
    let angles = Tensor::from_vec(angles, (positions, half), &Device::Cpu).unwrap();
    (angles.cos().unwrap(), angles.sin().unwrap())
}
