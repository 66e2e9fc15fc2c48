//! [`Adapter`]: trained LoRA matrices on disk, and what they add to the base weights.
//!
//! An adapter is a directory of two files: [`TENSORS_FILE`], the matrices in
//! safetensors (for projection `t` of layer `i`, `blk.{i}.{t}.weight.lora_a`, `(rank,
//! in)`, and `blk.{i}.{t}.weight.lora_b`, `(out, rank)`, named as llama.cpp names
//! adapters and shaped as PEFT shapes them), and [`SETTINGS_FILE`], a small JSON of its
//! settings ([`AdapterSettings`]). Its weight update for a projection is
//! `scale * B A`, added to the base matrix `(out, in)` as stored in the GGUF.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::target::Target;
use crate::candle::error::CandleError;

/// The safetensors file of an adapter directory.
pub const TENSORS_FILE: &str = "adapter.safetensors";
/// The settings file of an adapter directory.
pub const SETTINGS_FILE: &str = "adapter.json";
/// The format an adapter's settings declare.
pub const FORMAT: &str = "next-lora/1";

/// What an adapter is for: the base model it was trained on and its shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterSettings {
    /// Always `next-lora/1`, the format this crate writes and reads.
    pub format: String,
    /// The rank of every matrix pair.
    pub rank: usize,
    /// The factor of `B A`.
    pub scale: f64,
    /// The projections that carry a pair, in every layer.
    pub targets: Vec<Target>,
    /// The base model: what it must be for the adapter to apply.
    pub base: BaseModel,
    /// How it was trained (the trainer's options and what the training measured);
    /// informative only.
    #[serde(default)]
    pub training: serde_json::Value,
}

/// The base model an adapter belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseModel {
    /// The GGUF's file name, for people.
    pub file: String,
    /// Its layers.
    pub layers: usize,
    /// Its embedding width.
    pub embedding: usize,
}

/// The matrices of one projection's adapter.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// `(rank, in)`.
    pub a: Tensor,
    /// `(out, rank)`.
    pub b: Tensor,
}

/// A loaded (or freshly trained) adapter.
///
/// Invariant: every layer below `base.layers` has a pair for every target, of rank
/// `rank`, and nothing else.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub(crate) settings: AdapterSettings,
    pub(crate) pairs: HashMap<(usize, Target), Pair>,
}

impl Adapter {
    /// Builds an adapter from its pairs, checking the invariant.
    pub(crate) fn new(
        settings: AdapterSettings, pairs: HashMap<(usize, Target), Pair>,
    ) -> Result<Self, String> {
        for layer in 0..settings.base.layers {
            for &target in &settings.targets {
                let pair = pairs
                    .get(&(layer, target))
                    .ok_or_else(|| format!("no matrices for {}", target.tensor_name(layer, "*")))?;
                let (ra, _) = pair.a.dims2().map_err(|e| e.to_string())?;
                let (_, rb) = pair.b.dims2().map_err(|e| e.to_string())?;
                if ra != settings.rank || rb != settings.rank {
                    return Err(format!(
                        "{} has rank {ra}/{rb}, not {}",
                        target.tensor_name(layer, "*"),
                        settings.rank
                    ));
                }
            }
        }
        if pairs.len() != settings.base.layers * settings.targets.len() {
            return Err("matrices for projections the settings do not name".into());
        }
        Ok(Self { settings, pairs })
    }

    /// Its settings.
    pub fn settings(&self) -> &AdapterSettings {
        &self.settings
    }

    /// Reads the adapter in `dir`.
    ///
    /// # Errors
    /// [`CandleError::Io`] when a file cannot be read, [`CandleError::Adapter`] when
    /// they are not an adapter of this format.
    pub fn load(dir: &Path) -> Result<Self, CandleError> {
        let settings_path = dir.join(SETTINGS_FILE);
        let text = std::fs::read(&settings_path).map_err(|source| CandleError::Io {
            path: settings_path.clone(),
            source,
        })?;
        let bad = |message: String| CandleError::Adapter {
            path: dir.to_owned(),
            message,
        };
        let settings: AdapterSettings =
            serde_json::from_slice(&text).map_err(|err| bad(format!("{SETTINGS_FILE}: {err}")))?;
        if settings.format != FORMAT {
            return Err(bad(format!(
                "its format is `{}`, not `{FORMAT}`",
                settings.format
            )));
        }
        let tensors_path = dir.join(TENSORS_FILE);
        let bytes = std::fs::read(&tensors_path).map_err(|source| CandleError::Io {
            path: tensors_path.clone(),
            source,
        })?;
        let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|err| bad(format!("{TENSORS_FILE}: {err}")))?;
        let mut pairs = HashMap::new();
        for layer in 0..settings.base.layers {
            for &target in &settings.targets {
                let mut take = |part: &str| {
                    let name = target.tensor_name(layer, part);
                    tensors
                        .remove(&name)
                        .ok_or_else(|| bad(format!("{TENSORS_FILE} has no `{name}`")))
                        .and_then(|t| t.to_dtype(DType::F32).map_err(|e| bad(e.to_string())))
                };
                let pair = Pair {
                    a: take("lora_a")?,
                    b: take("lora_b")?,
                };
                pairs.insert((layer, target), pair);
            }
        }
        if let Some(name) = tensors.keys().next() {
            return Err(bad(format!(
                "{TENSORS_FILE} holds `{name}`, which its settings do not name"
            )));
        }
        Self::new(settings, pairs).map_err(bad)
    }

    /// Writes the adapter into `dir` (which must exist), each file whole or not at all.
    ///
    /// # Errors
    /// [`CandleError::Io`] when a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), CandleError> {
        let io = |path: PathBuf| move |source| CandleError::Io { path, source };
        let mut tensors = HashMap::new();
        for ((layer, target), pair) in &self.pairs {
            tensors.insert(target.tensor_name(*layer, "lora_a"), pair.a.clone());
            tensors.insert(target.tensor_name(*layer, "lora_b"), pair.b.clone());
        }
        let path = dir.join(TENSORS_FILE);
        let partial = dir.join(format!("{TENSORS_FILE}.partial"));
        candle_core::safetensors::save(&tensors, &partial).map_err(|err| CandleError::Io {
            path: partial.clone(),
            source: std::io::Error::other(err.to_string()),
        })?;
        std::fs::rename(&partial, &path).map_err(io(path.clone()))?;
        let mut json =
            serde_json::to_vec_pretty(&self.settings).map_err(|err| CandleError::Io {
                path: dir.join(SETTINGS_FILE),
                source: std::io::Error::other(err),
            })?;
        json.push(b'\n');
        next_core::jsonl::write_atomic(&dir.join(SETTINGS_FILE), &json).map_err(|err| {
            CandleError::Io {
                path: dir.join(SETTINGS_FILE),
                source: std::io::Error::other(next_core::error::chain(&err)),
            }
        })
    }

    /// The update `scale * B A`, `(out, in)`, of projection `target` of layer `layer`,
    /// if it has an adapter.
    ///
    /// # Errors
    /// A candle error when the product fails.
    pub(crate) fn delta(
        &self, layer: usize, target: Target,
    ) -> candle_core::Result<Option<Tensor>> {
        let Some(pair) = self.pairs.get(&(layer, target)) else {
            return Ok(None);
        };
        Ok(Some((pair.b.matmul(&pair.a)? * self.settings.scale)?))
    }

    /// Checks that the adapter fits a model of `layers` layers of width `embedding`.
    ///
    /// # Errors
    /// A message saying what differs.
    pub(crate) fn check_base(&self, layers: usize, embedding: usize) -> Result<(), String> {
        let base = &self.settings.base;
        if base.layers != layers || base.embedding != embedding {
            return Err(format!(
                "it was trained on {} ({} layers of width {}), not on a model of {layers} \
                 layers of width {embedding}",
                base.file, base.layers, base.embedding
            ));
        }
        Ok(())
    }

    /// One adapter whose update is this one's plus `next`'s: their pairs side by side
    /// (the ranks add, each scale folded into its `B`). Both must belong to the same
    /// base model.
    ///
    /// # Errors
    /// A message when they do not fit together.
    pub(crate) fn then(&self, next: &Adapter) -> Result<Adapter, String> {
        if self.settings.base != next.settings.base {
            return Err("the adapters belong to different base models".into());
        }
        let mut targets = self.settings.targets.clone();
        for t in &next.settings.targets {
            if !targets.contains(t) {
                targets.push(*t);
            }
        }
        targets.sort_unstable();
        let rank = self.settings.rank + next.settings.rank;
        let mut pairs = HashMap::new();
        let failed = |e: candle_core::Error| e.to_string();
        for layer in 0..self.settings.base.layers {
            for &target in &targets {
                let mut a = Vec::new();
                let mut b = Vec::new();
                for (adapter, other) in [(self, next), (next, self)] {
                    let r = adapter.settings.rank;
                    if let Some(pair) = adapter.pairs.get(&(layer, target)) {
                        a.push(pair.a.clone());
                        b.push((&pair.b * adapter.settings.scale).map_err(failed)?);
                    } else {
                        // A projection only the other adapts: zeros of this one's rank.
                        let pair = other
                            .pairs
                            .get(&(layer, target))
                            .ok_or("a projection neither adapter adapts")?;
                        let (_, cols) = pair.a.dims2().map_err(failed)?;
                        let (rows, _) = pair.b.dims2().map_err(failed)?;
                        let zeros = |shape| Tensor::zeros(shape, DType::F32, &Device::Cpu);
                        a.push(zeros((r, cols)).map_err(failed)?);
                        b.push(zeros((rows, r)).map_err(failed)?);
                    }
                }
                let pair = Pair {
                    a: Tensor::cat(&a, 0).map_err(failed)?,
                    b: Tensor::cat(&b, 1).map_err(failed)?,
                };
                pairs.insert((layer, target), pair);
            }
        }
        let settings = AdapterSettings {
            format: FORMAT.into(),
            rank,
            scale: 1.0,
            targets,
            base: self.settings.base.clone(),
            training: next.settings.training.clone(),
        };
        Adapter::new(settings, pairs)
    }
}
