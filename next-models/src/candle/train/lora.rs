//! [`Lora`]: the trained adapters of a training, as candle variables, one pair of
//! stacked variables per stacked product of a layer (see [`super::adapted`]).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};

use super::net::Frozen;
#[cfg(test)]
use super::step::Dropout;
use super::step::{Adapted, Adapters};
use crate::candle::adapter::{Adapter, AdapterSettings, BaseModel, Pair, FORMAT};
use crate::candle::kernels::with_data;
use crate::candle::target::Target;

type Result<T> = std::result::Result<T, candle_core::Error>;

/// A stacked product of a layer: the matrices that read the same input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Stack {
    /// Query, key and value.
    Qkv,
    /// The attention's output.
    O,
    /// Gate and up.
    GateUp,
    /// Down.
    Down,
}

impl Stack {
    const ALL: [Stack; 4] = [Stack::Qkv, Stack::O, Stack::GateUp, Stack::Down];

    /// Its projections, in the order of its outputs.
    fn targets(self) -> &'static [Target] {
        match self {
            Stack::Qkv => &[Target::Q, Target::K, Target::V],
            Stack::O => &[Target::O],
            Stack::GateUp => &[Target::Gate, Target::Up],
            Stack::Down => &[Target::Down],
        }
    }
}

/// The adapters of one stacked product: the adapted parts' `A` matrices stacked,
/// `(parts x rank, in)`, and their `B` matrices stacked, `(sum of widths, rank)`.
struct Stacked {
    a: Var,
    b: Var,
    /// Each adapted part: its projection, first output column and width.
    parts: Vec<(Target, usize, usize)>,
}

/// The trained LoRA pairs.
///
/// Invariant: every layer has the stacked variables of every product one of
/// `targets` belongs to, each adapted part of rank `rank`.
pub(crate) struct Lora {
    pub rank: usize,
    pub scale: f64,
    pub targets: Vec<Target>,
    stacks: HashMap<(usize, Stack), Stacked>,
}

impl Lora {
    /// Fresh pairs for `targets` of every layer of `model`: `A` uniform in
    /// `±1/sqrt(in)` (PEFT's Kaiming-uniform default), `B` zero, so that a fresh
    /// adapter leaves the model as it is.
    pub fn new(
        model: &Frozen, targets: &[Target], rank: usize, scale: f64, rng: &mut fastrand::Rng,
    ) -> Result<Self> {
        let mut stacks = HashMap::new();
        for layer in 0..model.hp.n_layer {
            for stack in Stack::ALL {
                let parts: Vec<(Target, usize, usize)> = stack
                    .targets()
                    .iter()
                    .filter(|t| targets.contains(t))
                    .map(|&t| (t, model.offset_of(t, layer), model.shape_of(t, layer).0))
                    .collect();
                let Some(&(first, _, _)) = parts.first() else {
                    continue;
                };
                let inp = model.shape_of(first, layer).1;
                #[allow(clippy::cast_precision_loss)]
                let bound = 1.0 / (inp as f32).sqrt();
                let a: Vec<f32> = (0..parts.len() * rank * inp)
                    .map(|_| (rng.f32() * 2.0 - 1.0) * bound)
                    .collect();
                let a = Var::from_vec(a, (parts.len() * rank, inp), &Device::Cpu)?;
                let rows = parts.iter().map(|p| p.2).sum::<usize>();
                let b = Var::zeros((rows, rank), DType::F32, &Device::Cpu)?;
                stacks.insert((layer, stack), Stacked { a, b, parts });
            }
        }
        Ok(Self {
            rank,
            scale,
            targets: targets.to_vec(),
            stacks,
        })
    }

    /// Every trained variable, in a fixed order (layer, product, `A` then `B`).
    pub fn vars(&self) -> Vec<&Var> {
        let mut keys: Vec<_> = self.stacks.keys().copied().collect();
        keys.sort_unstable();
        keys.iter()
            .filter_map(|k| self.stacks.get(k))
            .flat_map(|s| [&s.a, &s.b])
            .collect()
    }

    /// The adapters as the training pass reads them: a copy of their values, each
    /// pointing at its gradients' place in the order of [`Lora::vars`].
    ///
    /// # Errors
    /// When a variable's values cannot be read.
    // The scale is narrowed to the f32 the pass computes in.
    #[allow(clippy::cast_possible_truncation)]
    pub fn snapshot(&self, layers: usize) -> Result<Adapters> {
        let mut out: Adapters = (0..layers).map(|_| Default::default()).collect();
        let mut keys: Vec<_> = self.stacks.keys().copied().collect();
        keys.sort_unstable();
        for (i, key) in keys.iter().enumerate() {
            let (Some(stacked), Some(slot)) = (self.stacks.get(key), out.get_mut(key.0)) else {
                continue;
            };
            let a = with_data(stacked.a.as_tensor(), <[f32]>::to_vec)?;
            let b = with_data(stacked.b.as_tensor(), <[f32]>::to_vec)?;
            slot[key.1 as usize] = Some(Adapted {
                a,
                b,
                parts: stacked.parts.iter().map(|&(_, at, w)| (at, w)).collect(),
                rank: self.rank,
                inp: stacked.a.dim(1)?,
                scale: self.scale as f32,
                grad: 2 * i,
            });
        }
        Ok(out)
    }

    /// The product of `x` by the frozen matrix `w` of `stack` in `layer`, with its
    /// adapters (one fused operation) when it has some: the reference forward's.
    #[cfg(test)]
    pub fn project(
        &self, x: &Tensor, w: &std::sync::Arc<super::ops::FrozenLinear>, layer: usize,
        stack: Stack, dropout: &mut Option<Dropout<'_>>,
    ) -> Result<Tensor> {
        let Some(stacked) = self.stacks.get(&(layer, stack)) else {
            return super::ops::frozen_linear(x, w);
        };
        let mask = dropout.as_mut().map(|d| d.mask(x.dims())).transpose()?;
        let op = super::adapted::AdaptedLinear {
            w: w.weight().clone(),
            parts: stacked
                .parts
                .iter()
                .map(|&(_, at, width)| (at, width))
                .collect(),
            rank: self.rank,
            scale: self.scale,
            mask,
        };
        x.contiguous()?
            .apply_op3(stacked.a.as_tensor(), stacked.b.as_tensor(), op)
    }

    /// Sets every `B` to small values drawn from `rng`, so that the adapters change the
    /// model and every gradient is non-zero.
    #[cfg(test)]
    pub fn perturb(&self, rng: &mut fastrand::Rng) -> Result<()> {
        for stacked in self.stacks.values() {
            let n = stacked.b.elem_count();
            let b: Vec<f32> = (0..n).map(|_| (rng.f32() - 0.5) * 0.02).collect();
            stacked
                .b
                .set(&Tensor::from_vec(b, stacked.b.shape(), &Device::Cpu)?)?;
        }
        Ok(())
    }

    /// The pairs as an [`Adapter`] of `model`, with the settings' `training` note.
    pub fn to_adapter(
        &self, model: &Frozen, training: serde_json::Value,
    ) -> std::result::Result<Adapter, String> {
        let failed = |e: candle_core::Error| e.to_string();
        let mut pairs = HashMap::new();
        for (&(layer, _), stacked) in &self.stacks {
            let mut b_at = 0;
            for (i, &(target, _, width)) in stacked.parts.iter().enumerate() {
                let a = stacked.a.as_tensor().narrow(0, i * self.rank, self.rank);
                let b = stacked.b.as_tensor().narrow(0, b_at, width);
                let copy = |t: candle_core::Result<Tensor>| {
                    t.and_then(|t| t.contiguous()?.copy()).map(|t| t.detach())
                };
                pairs.insert(
                    (layer, target),
                    Pair {
                        a: copy(a).map_err(failed)?,
                        b: copy(b).map_err(failed)?,
                    },
                );
                b_at += width;
            }
        }
        let settings = AdapterSettings {
            format: FORMAT.into(),
            rank: self.rank,
            scale: self.scale,
            targets: self.targets.clone(),
            base: BaseModel {
                file: model.file.clone(),
                layers: model.hp.n_layer,
                embedding: model.hp.n_embd,
            },
            training,
        };
        Adapter::new(settings, pairs)
    }
}
