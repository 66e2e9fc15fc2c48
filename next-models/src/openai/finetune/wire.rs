//! The Files and Fine-tuning wire format, as much of it as the trainer uses: the chat
//! JSONL training file, the multipart upload, the job request, and the file, job, list
//! and event objects. Private: nothing outside the trainer sees these types.

use std::collections::BTreeMap;

use next_core::train::TrainExample;
use serde::{Deserialize, Serialize, Serializer};

use crate::openai::wire::messages;

/// One line of the training file: the prompt's messages, then the target answer.
#[derive(Debug, Serialize)]
struct Line<'a> {
    messages: Vec<LineMessage<'a>>,
}

/// One message of a training line. `weight: 0` marks an assistant turn of the prompt (a
/// few-shot answer) as context, not as something to learn: only the last message, the
/// kept answer, is a target.
#[derive(Debug, Serialize)]
struct LineMessage<'a> {
    role: &'static str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u8>,
}

/// The training file: one chat example per line, each ending in its assistant target.
pub(super) fn jsonl(examples: &[TrainExample]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for example in examples {
        let mut lines: Vec<LineMessage<'_>> = messages(&example.prompt)
            .into_iter()
            .map(|message| LineMessage {
                role: message.role,
                content: message.content,
                weight: (message.role == "assistant").then_some(0),
            })
            .collect();
        lines.push(LineMessage {
            role: "assistant",
            content: &example.completion,
            weight: None,
        });
        serde_json::to_writer(&mut out, &Line { messages: lines })?;
        out.push(b'\n');
    }
    Ok(out)
}

/// A `multipart/form-data` body with the field `purpose` and the file `file` (named
/// `filename`), and its content type. The boundary is drawn until `content` does not hold
/// it.
pub(super) fn multipart(purpose: &str, filename: &str, content: &[u8]) -> (Vec<u8>, String) {
    let boundary = loop {
        let boundary = format!(
            "next-ft-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        if !contains(content, boundary.as_bytes()) {
            break boundary;
        }
    };
    let mut body = Vec::with_capacity(content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n{purpose}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// `POST /files` answers a file object; the trainer needs its id.
#[derive(Debug, Deserialize)]
pub(super) struct FileObject {
    pub id: String,
}

/// `POST /fine_tuning/jobs`.
#[derive(Debug, Serialize)]
pub(super) struct CreateJob<'a> {
    pub model: &'a str,
    pub training_file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    pub method: Method,
    pub metadata: BTreeMap<&'static str, String>,
}

/// The fine-tuning method: supervised, with its hyper-parameters.
#[derive(Debug, Serialize)]
pub(super) struct Method {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub supervised: Supervised,
}

/// The options of supervised fine-tuning.
#[derive(Debug, Serialize)]
pub(super) struct Supervised {
    pub hyperparameters: Hyperparameters,
}

/// Each hyper-parameter is a value or `"auto"`.
#[derive(Debug, Serialize)]
pub(super) struct Hyperparameters {
    pub n_epochs: Auto<u32>,
    pub batch_size: Auto<u32>,
    pub learning_rate_multiplier: Auto<f64>,
}

/// A value, or `"auto"` when there is none.
#[derive(Debug)]
pub(super) struct Auto<T>(pub Option<T>);

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(value) => value.serialize(serializer),
            None => serializer.serialize_str("auto"),
        }
    }
}

/// A fine-tuning job. Fields the trainer does not use are ignored.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Job {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    #[serde(default)]
    pub error: Option<JobError>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub created_at: Option<i64>,
}

/// Why a job failed.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct JobError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl Job {
    /// Whether the job has ended without a model.
    pub fn ended_badly(&self) -> bool {
        matches!(self.status.as_str(), "failed" | "cancelled")
    }

    /// The metadata value under `key`, if it is a string.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }

    /// The reason the server gave for how the job ended: the error's message, else its
    /// code.
    pub fn reason(&self) -> Option<String> {
        let error = self.error.as_ref()?;
        [&error.message, &error.code]
            .into_iter()
            .flatten()
            .map(|text| text.trim())
            .find(|text| !text.is_empty())
            .map(str::to_owned)
    }
}

/// A page of a list (`GET /fine_tuning/jobs`, `GET /fine_tuning/jobs/{id}/events`).
#[derive(Debug, Deserialize)]
pub(super) struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// One event of a job.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Event {
    pub id: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use next_core::prompt::{Message, Prompt, Role};
    use next_core::task::TaskId;

    use super::*;

    #[test]
    fn each_line_ends_in_its_target_and_few_shot_answers_weigh_nothing() {
        let example = TrainExample {
            task: TaskId::new("t").unwrap(),
            sample: 0,
            prompt: Prompt {
                messages: vec![
                    Message::new(Role::System, "sys"),
                    Message::new(Role::User, "shot"),
                    Message::new(Role::Assistant, "shot answer"),
                    Message::new(Role::User, "task"),
                ],
            },
            completion: "answer\n```python\nx = 1\n```".into(),
        };
        let file = jsonl(&[example.clone(), example]).unwrap();
        let text = String::from_utf8(file).unwrap();
        assert_eq!(text.lines().count(), 2);
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "shot"},
                {"role": "assistant", "content": "shot answer", "weight": 0},
                {"role": "user", "content": "task"},
                {"role": "assistant", "content": "answer\n```python\nx = 1\n```"},
            ]})
        );
    }

    #[test]
    fn auto_hyperparameters() {
        let h = Hyperparameters {
            n_epochs: Auto(Some(3)),
            batch_size: Auto(None),
            learning_rate_multiplier: Auto(Some(0.5)),
        };
        assert_eq!(
            serde_json::to_value(h).unwrap(),
            serde_json::json!({"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.5})
        );
    }

    #[test]
    fn the_boundary_is_not_in_the_content() {
        let (body, content_type) = multipart("fine-tune", "f.jsonl", b"{\"a\": 1}\n");
        let boundary = content_type.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(text.contains("name=\"purpose\"\r\n\r\nfine-tune\r\n"));
        assert!(text.contains("filename=\"f.jsonl\""));
    }
}
