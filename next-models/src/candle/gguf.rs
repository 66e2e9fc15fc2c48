//! Reading a llama-family GGUF: its hyper-parameters from the metadata, and its weight
//! tensors, converted at load to a type with a fast CPU kernel.
//!
//! candle runs `Q4_0`, `Q8_0` and the k-quants with SIMD kernels chosen at run time
//! (AVX2, AVX-512 VNNI), but `Q4_1`, `Q5_0` and `Q5_1` only with scalar code. A weight
//! stored in one of those is converted when the file is loaded, as
//! [`WeightFormat`] says: re-quantized to `Q8_0` (the default) or dequantized to `f32`.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::error::CandleError;
use super::target::Target;

/// What a weight whose type has no fast CPU kernel (`Q4_1`, `Q5_0`, `Q5_1`) becomes at
/// load. Weights of other types are used as stored, except with [`WeightFormat::F32`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    /// Re-quantized to `Q8_0`, 8.5 bits a weight: the error it adds is a 17th of a
    /// `Q4_1` step, and its integer dot product runs in SIMD. The default, and the
    /// fastest measured (see `benches/decode.rs`).
    #[default]
    Q8_0,
    /// Every quantized weight (not only the slow types) dequantized to `f32` and
    /// multiplied by the `gemm` crate without quantizing the activations: the exact
    /// forward pass, which the trainer's is checked against. Four times the memory
    /// traffic of `Q8_0` in decoding, where that traffic is what costs.
    F32,
    /// Kept as stored (scalar kernels): for checking the conversions, not for speed.
    AsStored,
}

/// The hyper-parameters of a llama-family model, from `llama.*` metadata.
///
/// Invariant: every count is positive, `n_head` is a multiple of `n_head_kv`, and
/// `head_dim` is even; [`Hparams::read`] checks it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hparams {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub context_length: usize,
    pub rope_freq_base: f32,
    pub rms_eps: f32,
}

/// An opened GGUF: its metadata and the reader its tensors come from.
pub(crate) struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// [`CandleError::Io`] when it cannot be opened, [`CandleError::Gguf`] when its
    /// header is not GGUF.
    pub fn open(path: &Path) -> Result<Self, CandleError> {
        let file = File::open(path).map_err(|source| CandleError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|err| CandleError::Gguf {
            path: path.to_owned(),
            message: err.to_string(),
        })?;
        Ok(Self {
            path: path.to_owned(),
            content,
            reader,
        })
    }

    pub fn metadata(&self) -> &HashMap<String, Value> {
        &self.content.metadata
    }

    pub fn unsupported(&self, what: impl Into<String>) -> CandleError {
        CandleError::Unsupported {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn malformed(&self, message: impl Into<String>) -> CandleError {
        CandleError::Gguf {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Result<&Value, CandleError> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| self.malformed(format!("no metadata key `{key}`")))
    }

    /// The metadata string under `key`.
    pub fn string(&self, key: &str) -> Result<&str, CandleError> {
        self.get(key)?
            .to_string()
            .map(String::as_str)
            .map_err(|_| self.malformed(format!("metadata `{key}` is not a string")))
    }

    /// The metadata integer under `key`, of any integer type.
    pub fn integer(&self, key: &str) -> Result<u64, CandleError> {
        integer(self.get(key)?).ok_or_else(|| {
            self.malformed(format!("metadata `{key}` is not a non-negative integer"))
        })
    }

    fn float(&self, key: &str) -> Result<f64, CandleError> {
        match self.get(key)? {
            Value::F32(v) => Ok(f64::from(*v)),
            Value::F64(v) => Ok(*v),
            _ => Err(self.malformed(format!("metadata `{key}` is not a float"))),
        }
    }

    /// A tensor by name.
    ///
    /// # Errors
    /// [`CandleError::Unsupported`] when it is absent, [`CandleError::Gguf`] when it
    /// cannot be read.
    pub fn tensor(&mut self, name: &str) -> Result<QTensor, CandleError> {
        if !self.content.tensor_infos.contains_key(name) {
            return Err(self.unsupported(format!("the tensor `{name}` is missing")));
        }
        self.content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .map_err(|err| CandleError::Gguf {
                path: self.path.clone(),
                message: format!("tensor `{name}`: {err}"),
            })
    }

    /// The dimensions of a tensor, as candle reads them (empty when it is absent).
    pub fn dims(&self, name: &str) -> Vec<usize> {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| info.shape.dims().to_vec())
            .unwrap_or_default()
    }

    /// Whether the file holds a tensor of this name.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// A vector (a norm's weights), as `f32` numbers, checked to have `len` entries.
    pub fn floats(&mut self, name: &str, len: usize) -> Result<Vec<f32>, CandleError> {
        let tensor = self.tensor(name)?;
        self.check_dims(name, &tensor, &[len])?;
        tensor
            .dequantize(&Device::Cpu)
            .and_then(|t| t.to_vec1())
            .map_err(|err| self.malformed(format!("tensor `{name}`: {err}")))
    }

    /// The weight of `target` in layer `layer`, checked to be `(rows, cols)`.
    ///
    /// # Errors
    /// As [`GgufFile::tensor`]; [`CandleError::Gguf`] for another shape.
    pub fn layer_matrix(
        &mut self, layer: usize, target: Target, rows: usize, cols: usize,
    ) -> Result<QTensor, CandleError> {
        let name = format!("blk.{layer}.{}.weight", target.gguf_name());
        let tensor = self.tensor(&name)?;
        self.check_dims(&name, &tensor, &[rows, cols])?;
        Ok(tensor)
    }

    /// The token embedding, `(vocab, width)`, checked to be `width` wide.
    ///
    /// # Errors
    /// As [`GgufFile::tensor`]; [`CandleError::Gguf`] for another width.
    pub fn embedding(&mut self, width: usize) -> Result<QTensor, CandleError> {
        let embed = self.tensor("token_embd.weight")?;
        let vocab = embed.shape().dims().first().copied().unwrap_or(0);
        self.check_dims("token_embd.weight", &embed, &[vocab, width])?;
        Ok(embed)
    }

    /// The width of layer `layer`'s feed-forward hidden layer (0 when it has none).
    pub fn ffn_width(&self, layer: usize) -> usize {
        self.dims(&format!("blk.{layer}.ffn_up.weight"))
            .first()
            .copied()
            .unwrap_or(0)
    }

    pub fn check_dims(
        &self, name: &str, tensor: &QTensor, want: &[usize],
    ) -> Result<(), CandleError> {
        let got = tensor.shape().dims();
        if got == want {
            Ok(())
        } else {
            Err(self.malformed(format!("tensor `{name}` has shape {got:?}, not {want:?}")))
        }
    }
}

/// Converts a weight as `format` says; see the [module documentation](self).
pub(crate) fn to_matmul(tensor: QTensor, format: WeightFormat) -> candle_core::Result<QMatMul> {
    let slow = matches!(
        tensor.dtype(),
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1
    );
    match format {
        WeightFormat::F32 => Ok(QMatMul::Tensor(tensor.dequantize(&Device::Cpu)?)),
        WeightFormat::Q8_0 if slow => QMatMul::from_qtensor(QTensor::quantize(
            &tensor.dequantize(&Device::Cpu)?,
            GgmlDType::Q8_0,
        )?),
        _ => QMatMul::from_arc(Arc::new(tensor)),
    }
}

/// A metadata float as the `f32` the model computes with.
#[allow(clippy::cast_possible_truncation)]
fn narrow(value: f64) -> f32 {
    value as f32
}

fn integer(value: &Value) -> Option<u64> {
    match *value {
        Value::U8(v) => Some(u64::from(v)),
        Value::U16(v) => Some(u64::from(v)),
        Value::U32(v) => Some(u64::from(v)),
        Value::U64(v) => Some(v),
        Value::I8(v) => u64::try_from(v).ok(),
        Value::I16(v) => u64::try_from(v).ok(),
        Value::I32(v) => u64::try_from(v).ok(),
        Value::I64(v) => u64::try_from(v).ok(),
        _ => None,
    }
}

/// An integer value of a metadata array.
pub(crate) fn array_integer(value: &Value) -> Option<u64> {
    integer(value)
}

impl Hparams {
    /// Reads and checks the hyper-parameters of a `llama` GGUF.
    ///
    /// # Errors
    /// [`CandleError::Unsupported`] for another architecture, [`CandleError::Gguf`]
    /// for missing or inconsistent values.
    pub fn read(file: &GgufFile) -> Result<Self, CandleError> {
        let arch = file.string("general.architecture")?;
        if arch != "llama" {
            return Err(file.unsupported(format!(
                "the architecture `{arch}` is not supported (only `llama`: Llama, SmolLM, \
                 TinyLlama, Mistral-style models without biases)"
            )));
        }
        let count = |key: &str| -> Result<usize, CandleError> {
            let value = file.integer(key)?;
            usize::try_from(value)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    file.malformed(format!("metadata `{key}` = {value} is out of range"))
                })
        };
        let n_embd = count("llama.embedding_length")?;
        let n_head = count("llama.attention.head_count")?;
        let n_head_kv = match file.get("llama.attention.head_count_kv") {
            Ok(_) => count("llama.attention.head_count_kv")?,
            Err(_) => n_head,
        };
        let head_dim = match file.get("llama.rope.dimension_count") {
            Ok(_) => count("llama.rope.dimension_count")?,
            Err(_) => n_embd / n_head,
        };
        let hparams = Self {
            n_layer: count("llama.block_count")?,
            n_embd,
            n_head,
            n_head_kv,
            head_dim,
            context_length: count("llama.context_length")?,
            rope_freq_base: narrow(file.float("llama.rope.freq_base").unwrap_or(10_000.0)),
            rms_eps: narrow(file.float("llama.attention.layer_norm_rms_epsilon")?),
        };
        if n_head % n_head_kv != 0 || head_dim % 2 != 0 || head_dim * n_head != n_embd {
            return Err(file.malformed(format!(
                "inconsistent attention shape: {n_head} heads of {head_dim} over {n_head_kv} \
                 key/value heads, embedding {n_embd}"
            )));
        }
        Ok(hparams)
    }
}
