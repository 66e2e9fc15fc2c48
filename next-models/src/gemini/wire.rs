//! The `generateContent` wire format, as much of it as the sampler uses. Private: nothing
//! outside this module sees these types.

use next_core::prompt::{Prompt, Role};
use next_core::sample::Sample;
use serde::{Deserialize, Serialize};

use super::config::SafetySetting;
use crate::http::Batch;

/// `POST /v1beta/{model}:generateContent`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentRequest<'a> {
    pub contents: &'a [Content<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<&'a SystemInstruction<'a>>,
    pub generation_config: GenerationConfig<'a>,
    #[serde(skip_serializing_if = "<[SafetySetting]>::is_empty")]
    pub safety_settings: &'a [SafetySetting],
}

/// One turn: `user` or `model`, with its text parts.
#[derive(Debug, Serialize)]
pub(super) struct Content<'a> {
    pub role: &'static str,
    pub parts: Vec<Part<'a>>,
}

/// A text part.
#[derive(Debug, Serialize)]
pub(super) struct Part<'a> {
    pub text: &'a str,
}

/// The system message(s), as the request's `systemInstruction`.
#[derive(Debug, Serialize)]
pub(super) struct SystemInstruction<'a> {
    pub parts: Vec<Part<'a>>,
}

/// `generationConfig`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig<'a> {
    pub candidate_count: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_output_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
}

/// The prompt in Gemini's shape: the system messages become the system instruction, the
/// others turns of `user` and `model`, consecutive messages of one role merged into one
/// turn of several parts so that the roles alternate.
pub(super) fn conversation(prompt: &Prompt) -> (Vec<Content<'_>>, Option<SystemInstruction<'_>>) {
    let mut contents: Vec<Content<'_>> = Vec::new();
    let mut system = Vec::new();
    for message in &prompt.messages {
        let part = Part {
            text: &message.content,
        };
        let role = match message.role {
            Role::System => {
                system.push(part);
                continue;
            }
            Role::User => "user",
            Role::Assistant => "model",
        };
        match contents.last_mut() {
            Some(last) if last.role == role => last.parts.push(part),
            _ => contents.push(Content {
                role,
                parts: vec![part],
            }),
        }
    }
    let system = (!system.is_empty()).then_some(SystemInstruction { parts: system });
    (contents, system)
}

/// The answer. Fields the sampler does not use are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
}

/// One candidate; a blocked one has no content.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate {
    #[serde(default)]
    pub content: Option<CandidateContent>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A candidate's content.
#[derive(Debug, Deserialize)]
pub(super) struct CandidateContent {
    #[serde(default)]
    pub parts: Vec<ResponsePart>,
}

/// A part of a candidate: text, or something else (ignored). Parts marked `thought` are
/// a thinking model's reasoning, not its answer.
#[derive(Debug, Deserialize)]
pub(super) struct ResponsePart {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
}

/// Why the prompt itself was blocked, if it was.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PromptFeedback {
    #[serde(default)]
    pub block_reason: Option<String>,
}

/// Finish reasons that mean the candidate was withheld, whatever text it carries.
const BLOCKED: [&str; 6] = [
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
];

impl Candidate {
    /// The candidate's answer: its text parts joined, unless it was blocked or is empty.
    fn into_text(self) -> Option<String> {
        if self
            .finish_reason
            .as_deref()
            .is_some_and(|reason| BLOCKED.contains(&reason))
        {
            return None;
        }
        let text: String = self
            .content?
            .parts
            .into_iter()
            .filter(|part| !part.thought)
            .filter_map(|part| part.text)
            .collect();
        (!text.is_empty()).then_some(text)
    }
}

impl GenerateContentResponse {
    /// The samples of an answer to a request for `asked` candidates. A blocked prompt
    /// accounts for all of them and gives none; blocked and empty candidates are counted
    /// as delivered but give no sample.
    pub fn into_batch(self, asked: usize) -> Batch {
        let prompt_blocked = self
            .prompt_feedback
            .as_ref()
            .is_some_and(|feedback| feedback.block_reason.is_some());
        if prompt_blocked && self.candidates.is_empty() {
            return Batch {
                delivered: asked,
                samples: Vec::new(),
            };
        }
        let delivered = self.candidates.len();
        let samples = self
            .candidates
            .into_iter()
            .filter_map(Candidate::into_text)
            .map(Sample::from_raw)
            .collect();
        Batch { delivered, samples }
    }
}
