//! The option docs every factory of the crate declares (what `next plugins list` shows)
//! agree with the options it reads: the same keys, and the defaults its configuration
//! struct has.
#![allow(clippy::unwrap_used)]

use next_core::registry::{self, check_option_docs, options_as_json, RoleKind};
use next_models::export::ExportConfig;

/// Checks the docs of the `role` factory `name` against the options struct `T`, read
/// from `minimal` (its required keys).
fn check<T: serde::Serialize + serde::de::DeserializeOwned>(
    role: RoleKind, name: &str, minimal: &str,
) {
    let factory = registry::find(role, name).unwrap();
    let minimal: toml::Table = toml::from_str(minimal).unwrap();
    if let Err(problems) = check_option_docs(factory.options(), &minimal, options_as_json::<T>) {
        panic!("{role} `{name}`:\n{problems}");
    }
}

#[test]
fn every_factory_documents_exactly_its_options_and_their_defaults() {
    check::<ExportConfig>(RoleKind::Trainer, "export", "");
    #[cfg(feature = "openai")]
    {
        check::<next_models::openai::OpenAiConfig>(
            RoleKind::RationaleSampler,
            "openai",
            "model = 'm'",
        );
        check::<next_models::openai::finetune::OpenAiFineTuneConfig>(
            RoleKind::Trainer,
            "openai-ft",
            "model = 'm'",
        );
    }
    #[cfg(feature = "gemini")]
    check::<next_models::gemini::GeminiConfig>(RoleKind::RationaleSampler, "gemini", "model = 'm'");
    #[cfg(feature = "candle")]
    {
        check::<next_models::candle::CandleConfig>(RoleKind::RationaleSampler, "candle", "");
        check::<next_models::candle::LoraConfig>(RoleKind::Trainer, "candle-lora", "");
    }
}
