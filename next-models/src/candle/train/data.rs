//! The examples as the model reads them: each prompt rendered with the GGUF's chat
//! template exactly as the sampler renders it, followed by the answer and the token
//! that ends an assistant turn, and the batches of a training, bucketed by length.

use next_core::train::TrainExample;

use crate::candle::error::CandleError;
use crate::candle::template::ChatTemplate;
use crate::candle::tokenizer::GgufTokenizer;

/// One example in tokens.
///
/// Invariant: `0 < prompt < tokens.len()`: at least one prompt token and one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// The prompt's tokens, then the answer's.
    pub tokens: Vec<u32>,
    /// How many of them are the prompt's: the loss is on the others.
    pub prompt: usize,
}

impl Encoded {
    /// The tokens the loss is on.
    pub fn targets(&self) -> usize {
        self.tokens.len() - self.prompt
    }
}

/// The tokens of `example`: the prompt as the sampler tokenizes it (rendered with the
/// generation prompt, the BOS added as the file says), then the answer as the chat
/// template closes an assistant turn, up to and including the first token that ends a
/// generation (appending the EOS token when the template writes none).
///
/// # Errors
/// [`CandleError::Template`] when the template fails for these messages.
pub(crate) fn encode(
    tokenizer: &GgufTokenizer, template: &ChatTemplate, example: &TrainExample,
) -> Result<Encoded, CandleError> {
    let prompt_text = template.render(&example.prompt)?;
    let whole = template.render_answer(&example.prompt, &example.completion)?;
    let prompt = tokenizer.encode_prompt(&prompt_text)?;
    let answer_text = match whole.strip_prefix(&prompt_text) {
        Some(rest) => rest.to_owned(),
        // A template whose generation prompt is not a prefix of the closed turn:
        // the answer, then the EOS token.
        None => format!("{}{}", example.completion, tokenizer.eos_text()),
    };
    let mut answer = tokenizer.encode(&answer_text)?;
    match answer.iter().position(|&id| tokenizer.ends_generation(id)) {
        Some(end) => answer.truncate(end + 1),
        None => answer.extend(tokenizer.eos()),
    }
    let prompt_len = prompt.len();
    let mut tokens = prompt;
    tokens.extend(answer);
    Ok(Encoded {
        tokens,
        prompt: prompt_len,
    })
}

/// The micro-batches of one epoch: indices into `examples`, each batch of at most
/// `batch_size` examples of similar lengths. The examples are shuffled, cut into
/// windows of 16 batches, each window sorted by length and cut into batches, and the
/// batches shuffled: padding stays small while the order stays random.
pub(crate) fn epoch_batches(
    examples: &[Encoded], batch_size: usize, rng: &mut fastrand::Rng,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    rng.shuffle(&mut order);
    let window = batch_size.max(1) * 16;
    let mut batches = Vec::new();
    for chunk in order.chunks_mut(window) {
        chunk.sort_by_key(|&i| (examples[i].tokens.len(), i));
        batches.extend(chunk.chunks(batch_size.max(1)).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// A micro-batch as tensors' data: the token ids `(rows, width)` padded with zeros
/// after each sequence, the flat positions whose next token is a target, and those
/// targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub rows: usize,
    pub width: usize,
    pub ids: Vec<u32>,
    pub positions: Vec<u32>,
    pub targets: Vec<u32>,
    /// Tokens read, padding excluded.
    pub tokens: usize,
}

impl Batch {
    /// The batch of `examples[indices]`.
    pub fn new(examples: &[Encoded], indices: &[usize]) -> Self {
        let width = indices
            .iter()
            .map(|&i| examples[i].tokens.len())
            .max()
            .unwrap_or(0);
        let mut ids = vec![0; indices.len() * width];
        let mut positions = Vec::new();
        let mut targets = Vec::new();
        for (row, &i) in indices.iter().enumerate() {
            let e = &examples[i];
            ids[row * width..row * width + e.tokens.len()].copy_from_slice(&e.tokens);
            for p in e.prompt..e.tokens.len() {
                // Position p - 1 predicts token p.
                positions.push(u32::try_from(row * width + p - 1).unwrap_or(u32::MAX));
                targets.push(e.tokens[p]);
            }
        }
        Self {
            rows: indices.len(),
            width,
            ids,
            positions,
            targets,
            tokens: indices.iter().map(|&i| examples[i].tokens.len()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(len: usize, prompt: usize) -> Encoded {
        Encoded {
            tokens: (1..=u32::try_from(len).unwrap()).collect(),
            prompt,
        }
    }

    #[test]
    fn a_batch_pads_and_points_each_target_at_its_predecessor() {
        let examples = vec![enc(4, 2), enc(2, 1)];
        let batch = Batch::new(&examples, &[0, 1]);
        assert_eq!((batch.rows, batch.width), (2, 4));
        assert_eq!(batch.ids, vec![1, 2, 3, 4, 1, 2, 0, 0]);
        assert_eq!(batch.positions, vec![1, 2, 4]);
        assert_eq!(batch.targets, vec![3, 4, 2]);
        assert_eq!(batch.tokens, 6);
    }

    #[test]
    fn an_epoch_covers_every_example_once_and_is_seeded() {
        let examples: Vec<Encoded> = (0..37).map(|i| enc(2 + (i * 7) % 13, 1)).collect();
        let mut rng = fastrand::Rng::with_seed(5);
        let batches = epoch_batches(&examples, 4, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..37).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 4));
        let again = epoch_batches(&examples, 4, &mut fastrand::Rng::with_seed(5));
        assert_eq!(batches, again);
        let other = epoch_batches(&examples, 4, &mut fastrand::Rng::with_seed(6));
        assert_ne!(batches, other);
    }
}
