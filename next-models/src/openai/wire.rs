//! The chat completions wire format, as much of it as the sampler uses. Private: nothing
//! outside this module sees these types.

use next_core::prompt::{Prompt, Role};
use serde::{Deserialize, Serialize};

/// `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message<'a>],
    pub n: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
}

/// One message of the conversation.
#[derive(Debug, Serialize)]
pub(super) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

/// The prompt's messages, in order, with the chat roles `system`, `user`, `assistant`.
pub(super) fn messages(prompt: &Prompt) -> Vec<Message<'_>> {
    prompt
        .messages
        .iter()
        .map(|message| Message {
            role: match message.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: &message.content,
        })
        .collect()
}

/// The answer: a chat completion. Fields the sampler does not use are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct ChatResponse {
    pub choices: Vec<Choice>,
}

/// One choice.
#[derive(Debug, Deserialize)]
pub(super) struct Choice {
    #[serde(default)]
    pub message: Option<ChoiceMessage>,
}

/// A choice's message; `content` is null when the choice was filtered or is a refusal.
#[derive(Debug, Deserialize)]
pub(super) struct ChoiceMessage {
    #[serde(default)]
    pub content: Option<String>,
}

impl Choice {
    /// The text of the choice, if it has one.
    pub fn into_text(self) -> Option<String> {
        self.message?.content
    }
}
