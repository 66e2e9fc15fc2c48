//! One training example as one line of each format. The line types borrow the example's
//! text and serialise their fields in a fixed order, so that the same example always
//! gives the same bytes.

use next_core::prompt::Role;
use next_core::train::TrainExample;
use serde::Serialize;

use super::config::Format;

/// The JSON line of `example` in `format`, without its newline.
pub(super) fn line(format: Format, example: &TrainExample) -> Result<Vec<u8>, serde_json::Error> {
    match format {
        Format::OpenAi => serde_json::to_vec(&openai(example)),
        Format::Gemini => serde_json::to_vec(&gemini(example)),
        Format::Hf => serde_json::to_vec(&hf(example)),
    }
}

/// The role names of OpenAI and of TRL's conversational datasets.
fn chat_role(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// A message of an OpenAI chat fine-tuning line, or of a TRL conversational dataset.
#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'static str,
    content: &'a str,
    /// OpenAI's `weight` of an assistant message: 0 for the answers of the prompt's
    /// solved examples (few-shot turns), so that only the completion is trained on;
    /// absent on every other message.
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u8>,
}

/// `{"messages": [...]}`: the prompt's messages, then the completion as the final
/// assistant message.
#[derive(Serialize)]
struct OpenAiLine<'a> {
    messages: Vec<ChatMessage<'a>>,
}

fn openai(example: &TrainExample) -> OpenAiLine<'_> {
    let mut messages: Vec<ChatMessage<'_>> = example
        .prompt
        .messages
        .iter()
        .map(|m| ChatMessage {
            role: chat_role(m.role),
            content: &m.content,
            weight: (m.role == Role::Assistant).then_some(0),
        })
        .collect();
    messages.push(ChatMessage {
        role: chat_role(Role::Assistant),
        content: &example.completion,
        weight: None,
    });
    OpenAiLine { messages }
}

/// A part of a Gemini content: text only.
#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

/// A Gemini content: a role and its parts.
#[derive(Serialize)]
struct Content<'a> {
    role: &'static str,
    parts: Vec<Part<'a>>,
}

/// `{"systemInstruction": {...}, "contents": [...]}`: the system messages as the parts
/// of the system instruction (absent when there is none), the other messages as user
/// and model turns, the completion as the final model turn.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeminiLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    contents: Vec<Content<'a>>,
}

fn gemini(example: &TrainExample) -> GeminiLine<'_> {
    let mut system = Vec::new();
    let mut contents = Vec::new();
    for message in &example.prompt.messages {
        let part = Part {
            text: &message.content,
        };
        match message.role {
            Role::System => system.push(part),
            Role::User => contents.push(Content {
                role: "user",
                parts: vec![part],
            }),
            Role::Assistant => contents.push(Content {
                role: "model",
                parts: vec![part],
            }),
        }
    }
    contents.push(Content {
        role: "model",
        parts: vec![Part {
            text: &example.completion,
        }],
    });
    GeminiLine {
        system_instruction: (!system.is_empty()).then_some(Content {
            role: "system",
            parts: system,
        }),
        contents,
    }
}

/// `{"prompt": [...], "completion": [...]}`: TRL's conversational prompt-completion
/// type, whose loss is on the completion only.
#[derive(Serialize)]
struct HfLine<'a> {
    prompt: Vec<ChatMessage<'a>>,
    completion: [ChatMessage<'a>; 1],
}

fn hf(example: &TrainExample) -> HfLine<'_> {
    let message = |role: Role, content| ChatMessage {
        role: chat_role(role),
        content,
        weight: None,
    };
    HfLine {
        prompt: example
            .prompt
            .messages
            .iter()
            .map(|m| message(m.role, &m.content))
            .collect(),
        completion: [message(Role::Assistant, &example.completion)],
    }
}
