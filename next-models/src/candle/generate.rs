//! [`LocalModel`]: a loaded GGUF (weights, tokenizer, chat template), and generation:
//! the prompt once, then its samples as the rows of one batch, each row ending at an
//! end-of-generation token, a stop string or its token budget.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use next_core::prompt::Prompt;
use next_core::sample::SamplingParams;

use super::adapter::Adapter;
use super::error::CandleError;
use super::gguf::{GgufFile, WeightFormat};
use super::model::{Llama, PromptCache};
use super::sampling::TokenSampler;
use super::template::ChatTemplate;
use super::tokenizer::GgufTokenizer;

/// Why a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model wrote an end-of-generation token (not part of the text).
    EndOfGeneration,
    /// The text reached a stop string (cut off before it).
    Stop,
    /// The sample used `max_tokens`, or the context window ran out.
    Length,
    /// The caller stopped waiting.
    Cancelled,
}

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The tokens generated, the end-of-generation token excluded.
    pub tokens: Vec<u32>,
    /// Their text, cut before a stop string; invalid UTF-8 replaced.
    pub text: String,
    /// Why it ended.
    pub finish: Finish,
}

/// The samples of one prompt, and what they cost.
#[derive(Debug, Clone)]
pub struct Generation {
    /// One per sample asked for, in order.
    pub completions: Vec<Completion>,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Time spent running the prompt.
    pub prefill: Duration,
    /// Time spent decoding.
    pub decode: Duration,
    /// Decoding steps (each advances every unfinished sample by one token).
    pub steps: usize,
}

impl Generation {
    /// Tokens generated over all samples.
    pub fn generated_tokens(&self) -> usize {
        self.completions.iter().map(|c| c.tokens.len()).sum()
    }
}

/// A GGUF loaded for generation.
///
/// Invariant: the tokenizer's vocabulary fits the model's embedding.
pub struct LocalModel {
    path: PathBuf,
    llama: Llama,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("path", &self.path)
            .field("context", &self.llama.context)
            .finish_non_exhaustive()
    }
}

/// The chat template used when a GGUF has none: `ChatML`.
const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// The tokenizer and the chat template of a GGUF (`ChatML` when it has none).
///
/// # Errors
/// [`CandleError`] when the tokenizer or the template cannot be built.
pub(crate) fn chat_of(file: &GgufFile) -> Result<(GgufTokenizer, ChatTemplate), CandleError> {
    let tokenizer = GgufTokenizer::from_gguf(file)?;
    let source = file
        .string("tokenizer.chat_template")
        .map_or_else(|_| CHATML.to_owned(), str::to_owned);
    let template = ChatTemplate::new(&source, tokenizer.bos_text(), tokenizer.eos_text())?;
    Ok((tokenizer, template))
}

impl LocalModel {
    /// Loads the GGUF at `path`, converting weights as `weights` says, with a context
    /// window of at most `context` positions (and at most the model's own).
    ///
    /// # Errors
    /// [`CandleError`] when the file cannot be read or holds a model this backend
    /// does not run.
    pub fn load(path: &Path, weights: WeightFormat, context: usize) -> Result<Self, CandleError> {
        Self::load_with_adapter(path, None, weights, context)
    }

    /// Loads the GGUF at `path` with the update of a LoRA `adapter` merged into its
    /// weights once (see [`Adapter`]), so that it runs as fast as the base model. Merged
    /// weights become `Q8_0` (or `f32`, as `weights` says; with `as_stored`, the stored
    /// type, where an update finer than its step is lost).
    ///
    /// # Errors
    /// As [`LocalModel::load`]; [`CandleError::Adapter`] when the adapter does not fit
    /// the model.
    pub fn load_with_adapter(
        path: &Path, adapter: Option<&Adapter>, weights: WeightFormat, context: usize,
    ) -> Result<Self, CandleError> {
        let mut file = GgufFile::open(path)?;
        let (tokenizer, template) = chat_of(&file)?;
        let llama = Llama::load(&mut file, adapter, weights, context)?;
        if tokenizer.vocab_size() > llama.vocab {
            return Err(file.unsupported(format!(
                "the tokenizer has {} tokens but the embedding only {}",
                tokenizer.vocab_size(),
                llama.vocab
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            llama,
            tokenizer,
            template,
        })
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its tokenizer.
    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// Its context window: the most positions a prompt and a sample may take together.
    pub fn context(&self) -> usize {
        self.llama.context
    }

    /// The prompt as text, through the file's chat template.
    ///
    /// # Errors
    /// [`CandleError::Template`] when the template fails.
    pub fn render(&self, prompt: &Prompt) -> Result<String, CandleError> {
        self.template.render(prompt)
    }

    /// The tokens of the rendered prompt.
    ///
    /// # Errors
    /// As [`LocalModel::render`].
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, CandleError> {
        self.tokenizer.encode_prompt(&self.render(prompt)?)
    }

    /// Draws `n` samples after `prompt` (tokens): the prompt runs once, the samples as
    /// batches of at most `max_batch` rows that share its keys and values. Sample `k`
    /// uses the seed `seed + k` (the sampling module).
    /// `cancelled` is asked between steps; when it says yes, every unfinished sample
    /// ends as [`Finish::Cancelled`].
    ///
    /// # Errors
    /// [`CandleError::ContextOverflow`] when the prompt leaves no room in the context
    /// window; [`CandleError::Inference`] when a tensor operation fails.
    pub fn generate(
        &self, prompt: &[u32], n: usize, params: &SamplingParams, seed: u64, max_batch: usize,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Generation, CandleError> {
        let limit = self.llama.context;
        let max_tokens = params.max_tokens as usize;
        if prompt.is_empty() || prompt.len() >= limit {
            return Err(CandleError::ContextOverflow {
                prompt: prompt.len(),
                max_tokens,
                needed: prompt.len() + max_tokens,
                limit,
            });
        }
        let budget = max_tokens.min(limit - prompt.len()).max(1);
        let stop_strings: Vec<&[u8]> = params
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .map(String::as_bytes)
            .collect();
        let mut rows: Vec<Row> = (0..n)
            .map(|k| Row {
                sampler: TokenSampler::new(params.temperature, params.top_p, seed, k),
                tokens: Vec::new(),
                bytes: Vec::new(),
                finish: None,
            })
            .collect();
        let started = Instant::now();
        let mut cache = self
            .llama
            .prompt_cache()
            .map_err(CandleError::inference("allocating the prompt cache"))?;
        let logits = self
            .llama
            .prefill(prompt, &mut cache)
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(CandleError::inference("running the prompt"))?;
        let prefill = started.elapsed();
        let started = Instant::now();
        for row in &mut rows {
            let token = row.sampler.pick(&logits);
            row.push(token, &self.tokenizer, &stop_strings, budget);
        }
        let mut steps = 0;
        for chunk in rows.chunks_mut(max_batch.max(1)) {
            steps += self.decode_rows(&cache, chunk, &stop_strings, budget, cancelled)?;
        }
        let decode = started.elapsed();
        let completions = rows
            .into_iter()
            .map(|row| Completion {
                text: String::from_utf8_lossy(&row.bytes).into_owned(),
                tokens: row.tokens,
                finish: row.finish.unwrap_or(Finish::Length),
            })
            .collect();
        Ok(Generation {
            completions,
            prompt_tokens: prompt.len(),
            prefill,
            decode,
            steps,
        })
    }
}

impl LocalModel {
    /// Decodes `rows` (each holding its first token) as one batch until each is done;
    /// returns the number of steps.
    fn decode_rows(
        &self, cache: &PromptCache, rows: &mut [Row], stop_strings: &[&[u8]], budget: usize,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<usize, CandleError> {
        let mut active: Vec<usize> = (0..rows.len())
            .filter(|&r| rows[r].finish.is_none())
            .collect();
        if active.is_empty() {
            return Ok(0);
        }
        let mut batch = self.llama.row_cache(active.len(), budget);
        // The rows of `batch`, as indices into `rows`.
        let mut in_batch: Vec<usize> = active.clone();
        let mut steps = 0;
        while !active.is_empty() {
            if cancelled() {
                for &r in &active {
                    rows[r].finish = Some(Finish::Cancelled);
                }
                break;
            }
            if in_batch != active {
                let keep: Vec<usize> = active
                    .iter()
                    .filter_map(|r| in_batch.iter().position(|b| b == r))
                    .collect();
                batch.retain(&keep);
                in_batch.clone_from(&active);
            }
            let last: Vec<u32> = active
                .iter()
                .map(|&r| rows[r].tokens.last().copied().unwrap_or(0))
                .collect();
            let logits = self
                .llama
                .decode(&last, cache, &mut batch)
                .and_then(|l| l.to_vec2::<f32>())
                .map_err(CandleError::inference("decoding"))?;
            steps += 1;
            for (&r, logits) in active.iter().zip(&logits) {
                let row = &mut rows[r];
                let token = row.sampler.pick(logits);
                row.push(token, &self.tokenizer, stop_strings, budget);
            }
            active.retain(|&r| rows[r].finish.is_none());
        }
        Ok(steps)
    }
}

/// A sample being generated.
struct Row {
    sampler: TokenSampler,
    tokens: Vec<u32>,
    bytes: Vec<u8>,
    finish: Option<Finish>,
}

impl Row {
    /// Takes the token the row sampled, and ends the row if it is done.
    fn push(
        &mut self, token: u32, tokenizer: &GgufTokenizer, stop_strings: &[&[u8]], budget: usize,
    ) {
        if tokenizer.ends_generation(token) {
            self.finish = Some(Finish::EndOfGeneration);
            return;
        }
        self.tokens.push(token);
        let before = self.bytes.len();
        self.bytes.extend_from_slice(tokenizer.token_bytes(token));
        // The earliest stop string that the new bytes complete.
        let cut = stop_strings
            .iter()
            .filter_map(|stop| {
                let from = before.saturating_sub(stop.len() - 1);
                self.bytes[from..]
                    .windows(stop.len())
                    .position(|window| window == *stop)
                    .map(|at| from + at)
            })
            .min();
        if let Some(cut) = cut {
            self.bytes.truncate(cut);
            self.finish = Some(Finish::Stop);
            return;
        }
        if self.tokens.len() >= budget {
            self.finish = Some(Finish::Length);
        }
    }
}
