//! The tokenizer of a GGUF, built from its `tokenizer.ggml.*` metadata: no hub
//! download, no `tokenizer.json`.
//!
//! Only byte-level BPE (`tokenizer.ggml.model = "gpt2"`, as `SmolLM`, Llama 3, Qwen and
//! `StarCoder` ship) is supported. Encoding goes through the `tokenizers` crate, with the
//! vocabulary and merges of the file and the pre-tokenizer llama.cpp picks for
//! `tokenizer.ggml.pre`; control and user-defined tokens are matched as wholes in the
//! text, as llama.cpp does when it parses special tokens. Decoding does not: each token's
//! bytes are kept in a table, so that a sample's text grows a token at a time and stop
//! strings are found as it grows. Control tokens decode to nothing.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::error::CandleError;
use super::gguf::{self, GgufFile};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const NORMAL: u64 = 1;
const CONTROL: u64 = 3;
const USER_DEFINED: u64 = 4;

/// Texts of control tokens that end a generation, besides the declared end-of-sequence
/// (the list llama.cpp uses to find end-of-generation tokens).
const END_TEXTS: [&str; 8] = [
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|end_of_text|>",
    "<|return|>",
];

/// The regular expressions of llama.cpp's pre-tokenizers, by `tokenizer.ggml.pre`.
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A GGUF's tokenizer.
///
/// Invariant: `bytes` has one entry per token of the vocabulary, and every id in
/// `end_of_generation` is below its length.
pub struct GgufTokenizer {
    inner: Tokenizer,
    bytes: Vec<Vec<u8>>,
    end_of_generation: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
    tokens: Vec<String>,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab", &self.bytes.len())
            .field("end_of_generation", &self.end_of_generation)
            .field("bos", &self.bos)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl GgufTokenizer {
    /// Builds the tokenizer of `file`.
    ///
    /// # Errors
    /// [`CandleError::Unsupported`] for a tokenizer model other than `gpt2` or an
    /// unknown pre-tokenizer, [`CandleError::Gguf`] for malformed metadata.
    pub(crate) fn from_gguf(file: &GgufFile) -> Result<Self, CandleError> {
        let model = file.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(file.unsupported(format!(
                "the tokenizer model `{model}` is not supported (only `gpt2`, byte-level BPE)"
            )));
        }
        let malformed = |what: &str| CandleError::Gguf {
            path: file.path.clone(),
            message: what.to_owned(),
        };
        let tokens = strings(file.get("tokenizer.ggml.tokens")?)
            .ok_or_else(|| malformed("`tokenizer.ggml.tokens` is not an array of strings"))?;
        let merges = strings(file.get("tokenizer.ggml.merges")?)
            .ok_or_else(|| malformed("`tokenizer.ggml.merges` is not an array of strings"))?;
        let types: Vec<u64> = match file.metadata().get("tokenizer.ggml.token_type") {
            Some(Value::Array(values)) => values
                .iter()
                .map(gguf::array_integer)
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    malformed("`tokenizer.ggml.token_type` is not an array of integers")
                })?,
            _ => vec![NORMAL; tokens.len()],
        };
        if types.len() != tokens.len() {
            return Err(malformed(
                "`tokenizer.ggml.token_type` and `tokens` differ in length",
            ));
        }
        let pre = file.string("tokenizer.ggml.pre").unwrap_or("default");
        let pre_tokenizer = pre_tokenizer(pre).ok_or_else(|| {
            file.unsupported(format!("the pre-tokenizer `{pre}` is not supported"))
        })?;
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), id(i)))
            .collect();
        let merges: Vec<(String, String)> = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| malformed(&format!("the merge `{m}` is not two tokens")))
            })
            .collect::<Result<_, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|err| malformed(&format!("building the BPE model: {err}")))?;
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, ty)| matches!(**ty, CONTROL | USER_DEFINED))
            .map(|(t, _)| AddedToken::from(t.clone(), true))
            .collect();
        inner
            .add_special_tokens(specials)
            .map_err(|err| malformed(&format!("adding the control tokens: {err}")))?;

        let bytes = byte_table(&tokens, &types);
        let declared = |key: &str| {
            file.integer(key)
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|&v| (v as usize) < tokens.len())
        };
        let bos = declared("tokenizer.ggml.bos_token_id");
        let eos = declared("tokenizer.ggml.eos_token_id");
        let declared_ends = [eos, declared("tokenizer.ggml.eot_token_id")];
        let end_of_generation = ends(&tokens, &types, declared_ends.into_iter().flatten());
        let add_bos = file
            .get("tokenizer.ggml.add_bos_token")
            .ok()
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(false);
        Ok(Self {
            inner,
            bytes,
            end_of_generation,
            bos,
            eos,
            add_bos,
            tokens,
        })
    }

    /// The number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.bytes.len()
    }

    /// The tokens of `text`, control tokens written in it included, without a BOS.
    ///
    /// # Errors
    /// [`CandleError::Inference`] when the tokenizer fails (it does not on valid UTF-8).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, CandleError> {
        let encoding =
            self.inner
                .encode_fast(text, false)
                .map_err(|err| CandleError::Inference {
                    context: "tokenizing the prompt",
                    message: err.to_string(),
                })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The tokens of a rendered prompt: [`GgufTokenizer::encode`], after the BOS token
    /// when the file says to add one (`tokenizer.ggml.add_bos_token`) and the text does
    /// not already begin with it.
    ///
    /// # Errors
    /// As [`GgufTokenizer::encode`].
    pub fn encode_prompt(&self, text: &str) -> Result<Vec<u32>, CandleError> {
        let mut ids = self.encode(text)?;
        if let Some(bos) = self.bos.filter(|_| self.add_bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// The bytes token `id` stands for (none for control tokens and unknown ids).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The text of `ids`, invalid UTF-8 replaced.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.token_bytes(id).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Whether `id` ends a generation (the end-of-sequence token and its kin).
    pub fn ends_generation(&self, id: u32) -> bool {
        self.end_of_generation.contains(&id)
    }

    /// The EOS token, if the file names one.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The text of the BOS token, for chat templates.
    pub fn bos_text(&self) -> &str {
        self.bos
            .and_then(|i| self.tokens.get(i as usize))
            .map_or("", String::as_str)
    }

    /// The text of the EOS token, for chat templates.
    pub fn eos_text(&self) -> &str {
        self.eos
            .and_then(|i| self.tokens.get(i as usize))
            .map_or("", String::as_str)
    }
}

/// The bytes of each token: byte-level tokens mapped back through GPT-2's table,
/// user-defined ones as written, control tokens as nothing.
fn byte_table(tokens: &[String], types: &[u64]) -> Vec<Vec<u8>> {
    let unicode_bytes = unicode_to_byte();
    tokens
        .iter()
        .zip(types)
        .map(|(t, ty)| match *ty {
            CONTROL => Vec::new(),
            USER_DEFINED => t.as_bytes().to_vec(),
            _ => t
                .chars()
                .map(|c| unicode_bytes.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .unwrap_or_else(|| t.as_bytes().to_vec()),
        })
        .collect()
}

/// The tokens that end a generation: the declared ones and the control tokens whose
/// text is in [`END_TEXTS`].
fn ends(tokens: &[String], types: &[u64], declared: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut ends: Vec<u32> = declared.collect();
    for (i, (t, ty)) in tokens.iter().zip(types).enumerate() {
        if *ty == CONTROL && END_TEXTS.contains(&t.as_str()) && !ends.contains(&id(i)) {
            ends.push(id(i));
        }
    }
    ends
}

fn id(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(values) => values.iter().map(|v| v.to_string().ok().cloned()).collect(),
        _ => None,
    }
}

/// The pre-tokenizer llama.cpp uses for `pre` (llama-vocab.cpp), in `tokenizers` terms.
fn pre_tokenizer(pre: &str) -> Option<PreTokenizerWrapper> {
    let byte_level = |regex: bool| ByteLevel::new(false, true, regex);
    let split = |regex: &str| {
        Split::new(
            SplitPattern::Regex(regex.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .ok()
    };
    Some(match pre {
        // GPT-2's regex after splitting every digit apart.
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
            Sequence::new(vec![Digits::new(true).into(), byte_level(true).into()]).into()
        }
        "default" | "gpt2" | "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "olmo" | "jais" => {
            byte_level(true).into()
        }
        "llama3" | "llama-v3" | "llama-bpe" | "smaug-bpe" | "falcon3" | "pixtral" => {
            Sequence::new(vec![split(LLAMA3_REGEX)?.into(), byte_level(false).into()]).into()
        }
        "qwen2" | "deepseek-r1-qwen" => {
            Sequence::new(vec![split(QWEN2_REGEX)?.into(), byte_level(false).into()]).into()
        }
        _ => return None,
    })
}

/// GPT-2's map from the printable characters of byte-level tokens back to bytes:
/// printable Latin-1 bytes stand for themselves, the other 68 bytes for `U+0100` on.
fn unicode_to_byte() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_map_covers_every_byte_once() {
        let map = unicode_to_byte();
        assert_eq!(map.len(), 256);
        assert_eq!(map[&'Ġ'], b' ');
        assert_eq!(map[&'Ċ'], b'\n');
        assert_eq!(map[&'A'], b'A');
        let mut bytes: Vec<u8> = map.values().copied().collect();
        bytes.sort_unstable();
        bytes.dedup();
        assert_eq!(bytes.len(), 256);
    }

    #[test]
    fn known_pre_tokenizers_are_built_and_others_refused() {
        for pre in ["smollm", "default", "llama-bpe", "qwen2"] {
            assert!(pre_tokenizer(pre).is_some(), "{pre}");
        }
        assert!(pre_tokenizer("chatglm-bpe").is_none());
    }
}
