//! The base model in `f32` for training: [`Frozen`], its weights dequantized once
//! into plain row-major matrices that the hand-written training pass
//! ([`super::step`]) reads.
//!
//! The base weights never change during a training and take no gradient. As in the
//! inference forward, the query, key and value matrices are stacked into one matrix,
//! as are the gate and up matrices, so that each is one product; the adapters add
//! their update to their own columns of it.

use candle_core::{Device, Tensor};

use super::mat::Matrix;
use crate::candle::adapter::Adapter;
use crate::candle::error::CandleError;
use crate::candle::gguf::{GgufFile, Hparams};
use crate::candle::model::{model_hparams, rope_tables, Block};
use crate::candle::target::Target;

/// A layer's weights in `f32`.
///
/// Invariant: `qkv` is `(n_embd + 2 kv, n_embd)`, `wo` `(n_embd, n_embd)`, `gate_up`
/// `(2 ff, n_embd)` (gate rows, then up rows), `down` `(n_embd, ff)`; the norms are
/// `n_embd` wide.
pub(crate) type FrozenLayer = Block<Matrix, Matrix>;

/// The base model in `f32`, for training.
///
/// Invariant: the shapes agree with `hp` (checked at load); the rotary tables `cos`
/// and `sin` hold `context x head_dim / 2` angles, row-major.
pub(crate) struct Frozen {
    pub hp: Hparams,
    pub context: usize,
    /// The rotary tables' cosines for the `context` positions.
    pub cos: Vec<f32>,
    /// The rotary tables' sines for the `context` positions.
    pub sin: Vec<f32>,
    pub file: String,
    /// `(vocab, n_embd)`.
    pub embed: Matrix,
    pub layers: Vec<FrozenLayer>,
    pub norm: Vec<f32>,
    /// The output head, `(vocab, n_embd)`; `None` when it is the embedding.
    output: Option<Matrix>,
}

/// The numbers of a `(rows, cols)` tensor as a [`Matrix`].
fn matrix(t: &Tensor) -> candle_core::Result<Matrix> {
    let (rows, cols) = t.dims2()?;
    let data = t.flatten_all()?.to_vec1::<f32>()?;
    Matrix::new(data, rows, cols)
        .ok_or_else(|| candle_core::Error::Msg("a matrix of the wrong size".into()))
}

impl Frozen {
    /// Loads the model of `file` in `f32`, the update of `start` (an adapter to
    /// continue from) merged in, with rotary tables for `context` positions.
    ///
    /// # Errors
    /// [`CandleError`] for a file the inference forward would refuse, or an adapter
    /// that does not fit it.
    pub fn load(
        file: &mut GgufFile, start: Option<&Adapter>, context: usize,
    ) -> std::result::Result<Self, CandleError> {
        let hp = model_hparams(file, start)?;
        let path = file.path.clone();
        let wrap = |name: &str| {
            let path = path.clone();
            let name = name.to_owned();
            move |err: candle_core::Error| CandleError::Gguf {
                path,
                message: format!("dequantizing `{name}`: {err}"),
            }
        };
        let (width, kv) = (hp.n_embd, hp.n_head_kv * hp.head_dim);
        let embed = file
            .embedding(width)?
            .dequantize(&Device::Cpu)
            .and_then(|t| matrix(&t))
            .map_err(wrap("token_embd.weight"))?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let ff = file.ffn_width(i);
            let mut mat = |target: Target, rows: usize, cols: usize| {
                let name = format!("blk.{i}.{}.weight", target.gguf_name());
                let mut w = file
                    .layer_matrix(i, target, rows, cols)?
                    .dequantize(&Device::Cpu)
                    .map_err(wrap(&name))?;
                if let Some(delta) = start
                    .map(|a| a.delta(i, target))
                    .transpose()
                    .map_err(wrap(&name))?
                    .flatten()
                {
                    w = (w + delta).map_err(wrap(&name))?;
                }
                matrix(&w).map_err(wrap(&name))
            };
            let q = mat(Target::Q, width, width)?;
            let k = mat(Target::K, kv, width)?;
            let v = mat(Target::V, kv, width)?;
            let o = mat(Target::O, width, width)?;
            let gate = mat(Target::Gate, ff, width)?;
            let up = mat(Target::Up, ff, width)?;
            let down = mat(Target::Down, width, ff)?;
            let stack = |parts: Vec<Matrix>| {
                Matrix::stack(parts).ok_or_else(|| CandleError::Gguf {
                    path: path.clone(),
                    message: format!("blk.{i}: matrices of different widths stacked"),
                })
            };
            layers.push(FrozenLayer {
                attn_norm: file.floats(&format!("blk.{i}.attn_norm.weight"), width)?,
                qkv: stack(vec![q, k, v])?,
                wo: o,
                ffn_norm: file.floats(&format!("blk.{i}.ffn_norm.weight"), width)?,
                gate_up: stack(vec![gate, up])?,
                down,
                ff,
            });
        }
        let norm = file.floats("output_norm.weight", width)?;
        let output = if file.has_tensor("output.weight") {
            let q = file.tensor("output.weight")?;
            file.check_dims("output.weight", &q, &[embed.rows(), width])?;
            let w = q
                .dequantize(&Device::Cpu)
                .and_then(|t| matrix(&t))
                .map_err(wrap("output.weight"))?;
            Some(w)
        } else {
            None
        };
        let context = context.min(hp.context_length).max(1);
        let (cos, sin) = rope_tables(&hp, context)
            .and_then(|(c, s)| Ok((c.flatten_all()?.to_vec1()?, s.flatten_all()?.to_vec1()?)))
            .map_err(wrap("rope tables"))?;
        Ok(Self {
            hp,
            context,
            cos,
            sin,
            file: file_name(&file.path),
            embed,
            layers,
            norm,
            output,
        })
    }

    /// The number of tokens of its vocabulary.
    pub fn vocab(&self) -> usize {
        self.embed.rows()
    }

    /// The output head, `(vocab, n_embd)`.
    pub fn head(&self) -> &Matrix {
        self.output.as_ref().unwrap_or(&self.embed)
    }

    /// The widths `(out, in)` of projection `target`.
    pub fn shape_of(&self, target: Target, layer: usize) -> (usize, usize) {
        let hp = &self.hp;
        let kv = hp.n_head_kv * hp.head_dim;
        let ff = self.layers.get(layer).map_or(0, |l| l.ff);
        match target {
            Target::Q | Target::O => (hp.n_embd, hp.n_embd),
            Target::K | Target::V => (kv, hp.n_embd),
            Target::Gate | Target::Up => (ff, hp.n_embd),
            Target::Down => (hp.n_embd, ff),
        }
    }

    /// The first output column of `target` in its stacked product.
    pub fn offset_of(&self, target: Target, layer: usize) -> usize {
        let hp = &self.hp;
        let ff = self.layers.get(layer).map_or(0, |l| l.ff);
        match target {
            Target::Q | Target::O | Target::Gate | Target::Down => 0,
            Target::K => hp.n_embd,
            Target::V => hp.n_embd + hp.n_head_kv * hp.head_dim,
            Target::Up => ff,
        }
    }
}

/// The last part of `path`, for people.
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
