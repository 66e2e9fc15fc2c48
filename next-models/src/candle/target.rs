//! [`Target`]: the projections of a llama layer that can carry an adapter.

use serde::{Deserialize, Serialize};

/// A projection of a llama layer, named as Hugging Face (and PEFT) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    /// The attention's query matrix (`attn_q` in a GGUF).
    #[serde(rename = "q_proj")]
    Q,
    /// The attention's key matrix (`attn_k`).
    #[serde(rename = "k_proj")]
    K,
    /// The attention's value matrix (`attn_v`).
    #[serde(rename = "v_proj")]
    V,
    /// The attention's output matrix (`attn_output`).
    #[serde(rename = "o_proj")]
    O,
    /// The feed-forward's gate matrix (`ffn_gate`).
    #[serde(rename = "gate_proj")]
    Gate,
    /// The feed-forward's up matrix (`ffn_up`).
    #[serde(rename = "up_proj")]
    Up,
    /// The feed-forward's down matrix (`ffn_down`).
    #[serde(rename = "down_proj")]
    Down,
}

impl Target {
    /// Every projection, in the order of a layer.
    pub const ALL: [Target; 7] = [
        Target::Q,
        Target::K,
        Target::V,
        Target::O,
        Target::Gate,
        Target::Up,
        Target::Down,
    ];

    /// The name of its weight in a GGUF layer (`blk.{i}.{name}.weight`).
    pub fn gguf_name(self) -> &'static str {
        match self {
            Target::Q => "attn_q",
            Target::K => "attn_k",
            Target::V => "attn_v",
            Target::O => "attn_output",
            Target::Gate => "ffn_gate",
            Target::Up => "ffn_up",
            Target::Down => "ffn_down",
        }
    }

    /// The name of the tensor `part` (`lora_a` or `lora_b`) of its adapter in layer
    /// `layer`: `blk.{layer}.{gguf name}.weight.{part}`, as llama.cpp names adapters.
    pub fn tensor_name(self, layer: usize, part: &str) -> String {
        format!("blk.{layer}.{}.weight.{part}", self.gguf_name())
    }
}
