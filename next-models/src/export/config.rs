//! [`ExportConfig`]: the options of the `export` trainer, and the [`Format`]s it writes.

use serde::{Deserialize, Serialize};

/// A chat fine-tuning file format, and the fixed name of the file it is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// OpenAI chat fine-tuning JSONL, `openai.jsonl`:
    /// `{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}`.
    OpenAi,
    /// Gemini supervised tuning JSONL as Vertex AI reads it, `gemini.jsonl`:
    /// `{"systemInstruction": {...}, "contents": [{"role": "user"|"model", "parts":
    /// [{"text": ...}]}, ...]}`.
    Gemini,
    /// Conversational prompt-completion JSONL as TRL's `SFTTrainer` reads it,
    /// `hf.jsonl`: `{"prompt": [messages], "completion": [{"role": "assistant", ...}]}`.
    Hf,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 3] = [Format::OpenAi, Format::Gemini, Format::Hf];

    /// The name of the file this format is written to, in the trainer's output
    /// directory.
    pub const fn file_name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai.jsonl",
            Format::Gemini => "gemini.jsonl",
            Format::Hf => "hf.jsonl",
        }
    }

    /// What reads the file, in a few words.
    pub const fn reader(self) -> &'static str {
        match self {
            Format::OpenAi => "OpenAI chat fine-tuning",
            Format::Gemini => "Gemini supervised tuning (Vertex AI)",
            Format::Hf => "TRL SFTTrainer, conversational prompt-completion",
        }
    }
}

/// The options of the export trainer (`[trainer] kind = "export"`):
///
/// ```toml
/// [trainer]
/// kind = "export"
/// formats = ["openai", "gemini", "hf"]   # the default: all three
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportConfig {
    /// The formats to write, at least one; each is written once, whatever the order or
    /// repetitions here. Default: all of [`Format::ALL`].
    pub formats: Vec<Format>,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            formats: Format::ALL.to_vec(),
        }
    }
}

impl ExportConfig {
    /// The formats to write, each once, in the order of [`Format::ALL`].
    pub fn formats(&self) -> Vec<Format> {
        Format::ALL
            .into_iter()
            .filter(|format| self.formats.contains(format))
            .collect()
    }
}
