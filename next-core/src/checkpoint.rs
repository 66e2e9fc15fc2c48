//! [`Checkpoint`]: a model as a sampler loads it and a trainer produces it.

use serde::{Deserialize, Serialize};

/// A model a sampler can use: a name plus backend-specific data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Human-readable name, unique within a run (`base`, `iter-1`, ...).
    pub name: String,
    /// What the backend needs to load it: an adapter path, a hosted model id, ...
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Checkpoint {
    /// The untouched base model `P0`.
    pub fn base() -> Self {
        Self {
            name: "base".into(),
            data: serde_json::Value::Null,
        }
    }

    /// Whether this is [`Checkpoint::base`].
    pub fn is_base(&self) -> bool {
        self.name == "base" && self.data.is_null()
    }
}
