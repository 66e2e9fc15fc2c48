//! Which hosted model a [`Checkpoint`] stands for.
//!
//! The convention of the hosted backends (OpenAI-compatible and Gemini):
//!
//! - [`Checkpoint::base()`] (name `base`, no data) is the model of the backend's
//!   configuration (its `model` option);
//! - a checkpoint whose data is a JSON object with a string under [`MODEL_KEY`]
//!   (`{"model": "ft:gpt-4o-mini:org::abc123"}`, `{"model": "tunedModels/next-iter-1"}`)
//!   is that hosted model, whatever its name; other keys of the object are ignored, so
//!   a trainer may keep its job id or its hyper-parameters beside it;
//! - any other checkpoint (an adapter on disk of the local model, say) is refused with
//!   [`ModelError::Checkpoint`], rather than silently sampled from the base model.
//!
//! A trainer that tunes a hosted model returns [`hosted_checkpoint`].
//!
//! A model trained outside the run (see [`crate::export`]) is handed back as text,
//! `next resume DIR --checkpoint iter-N=MODEL`; [`checkpoint_from_spec`] turns that
//! `MODEL` into a checkpoint: checkpoint data as JSON, an adapter directory
//! (`{"adapter": "<absolute dir>"}`, [`ADAPTER_KEY`]), a GGUF file
//! (`{"gguf": "<absolute path>"}`, the local candle model's convention) or a hosted
//! model id (`{"model": "<id>"}`).

use std::path::Path;

use next_core::train::Checkpoint;

use crate::error::ModelError;

/// The key of a checkpoint's data that names a hosted model.
pub const MODEL_KEY: &str = "model";

/// The key of a checkpoint's data that names a `LoRA` adapter directory on disk (an
/// absolute path).
pub const ADAPTER_KEY: &str = "adapter";

/// The key of a checkpoint's data that names a GGUF file: the same as the candle
/// backend's `GGUF_KEY`, which exists only with the `candle` feature.
const GGUF_KEY: &str = "gguf";

/// Turns what a user names a model by (`MODEL` in `--checkpoint iter-N=MODEL`) into a
/// checkpoint called `name`. In order:
///
/// - text that starts with `{` is the checkpoint's data as JSON, as is (an object);
/// - an existing directory is a `LoRA` adapter: `{"adapter": "<absolute path>"}`;
/// - an existing file whose name ends in `.gguf` is a GGUF model:
///   `{"gguf": "<absolute path>"}`;
/// - anything else is a hosted model id: `{"model": "<spec>"}`.
///
/// Leading and trailing white space is ignored.
///
/// ```
/// use next_models::checkpoint::checkpoint_from_spec;
///
/// let tuned = checkpoint_from_spec("iter-1", "ft:small:next:1").unwrap();
/// assert_eq!(tuned.name, "iter-1");
/// assert_eq!(tuned.data, serde_json::json!({"model": "ft:small:next:1"}));
/// let raw = checkpoint_from_spec("iter-2", r#"{"mock_examples": 5}"#).unwrap();
/// assert_eq!(raw.data, serde_json::json!({"mock_examples": 5}));
/// assert!(checkpoint_from_spec("iter-3", " ").is_err());
/// ```
///
/// # Errors
/// [`ModelError::Checkpoint`] when `spec` is empty, when it starts with `{` but is not
/// a JSON object, or when the path of an existing file or directory cannot be made
/// absolute.
pub fn checkpoint_from_spec(name: &str, spec: &str) -> Result<Checkpoint, ModelError> {
    let refuse = |reason: String| ModelError::Checkpoint {
        name: name.to_owned(),
        reason,
    };
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(refuse(
            "no model given: name a hosted model id, an adapter directory, a .gguf file \
             or the checkpoint's data as a JSON object"
                .to_owned(),
        ));
    }
    let data = if spec.starts_with('{') {
        match serde_json::from_str::<serde_json::Value>(spec) {
            Ok(data @ serde_json::Value::Object(_)) => data,
            Ok(_) => return Err(refuse(format!("{spec} is not a JSON object"))),
            Err(err) => return Err(refuse(format!("{spec} is not valid JSON: {err}"))),
        }
    } else {
        let path = Path::new(spec);
        let absolute = || {
            std::path::absolute(path)
                .map(|p| serde_json::Value::String(p.display().to_string()))
                .map_err(|err| refuse(format!("cannot make the path {spec} absolute: {err}")))
        };
        let is_gguf = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("gguf"));
        if path.is_dir() {
            serde_json::json!({ ADAPTER_KEY: absolute()? })
        } else if path.is_file() && is_gguf {
            serde_json::json!({ GGUF_KEY: absolute()? })
        } else {
            serde_json::json!({ MODEL_KEY: spec })
        }
    };
    Ok(Checkpoint {
        name: name.to_owned(),
        data,
    })
}

/// A checkpoint named `name` that stands for the hosted model `model` (a tuned model's
/// id), in the form [`hosted_model`] reads.
///
/// ```
/// use next_core::train::Checkpoint;
/// use next_models::checkpoint::{hosted_checkpoint, hosted_model};
///
/// let tuned = hosted_checkpoint("iter-1", "ft:small:next:1");
/// assert_eq!(tuned.data, serde_json::json!({"model": "ft:small:next:1"}));
/// assert_eq!(hosted_model(&tuned, "small").unwrap(), "ft:small:next:1");
/// assert_eq!(hosted_model(&Checkpoint::base(), "small").unwrap(), "small");
/// ```
pub fn hosted_checkpoint(name: impl Into<String>, model: impl Into<String>) -> Checkpoint {
    let mut data = serde_json::Map::new();
    data.insert(
        MODEL_KEY.to_owned(),
        serde_json::Value::String(model.into()),
    );
    Checkpoint {
        name: name.into(),
        data: serde_json::Value::Object(data),
    }
}

/// The hosted model that `checkpoint` stands for, given the `configured` base model (see
/// the [module documentation](self)).
///
/// # Errors
/// [`ModelError::Checkpoint`] when the checkpoint is neither the base model nor names a
/// non-empty hosted model id.
pub fn hosted_model<'a>(
    checkpoint: &'a Checkpoint, configured: &'a str,
) -> Result<&'a str, ModelError> {
    if checkpoint.is_base() {
        return Ok(configured);
    }
    let refuse = |reason: &str| ModelError::Checkpoint {
        name: checkpoint.name.clone(),
        reason: reason.to_owned(),
    };
    match checkpoint.data.get(MODEL_KEY) {
        Some(serde_json::Value::String(model)) if !model.trim().is_empty() => Ok(model),
        Some(serde_json::Value::String(_)) => Err(refuse("its `model` is empty")),
        Some(_) => Err(refuse("its `model` is not a string")),
        None => Err(refuse(
            "a hosted model backend needs the base checkpoint or one whose data is \
             {\"model\": \"<hosted model id>\"}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn checkpoint(name: &str, data: serde_json::Value) -> Checkpoint {
        Checkpoint {
            name: name.into(),
            data,
        }
    }

    #[test]
    fn spec_json_is_the_data_as_is() {
        let c = checkpoint_from_spec("iter-1", r#" {"mock_examples": 5, "x": [1]} "#).unwrap();
        assert_eq!(
            c,
            checkpoint("iter-1", json!({"mock_examples": 5, "x": [1]}))
        );
    }

    #[test]
    fn spec_directory_is_an_absolute_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let adapter = dir.path().join("adapter");
        std::fs::create_dir(&adapter).unwrap();
        let c = checkpoint_from_spec("iter-2", adapter.to_str().unwrap()).unwrap();
        assert_eq!(c.name, "iter-2");
        let path = c.data[ADAPTER_KEY].as_str().unwrap();
        assert!(Path::new(path).is_absolute(), "{path}");
        assert_eq!(Path::new(path), adapter);
        assert_eq!(c.data.as_object().unwrap().len(), 1);
    }

    #[test]
    fn spec_gguf_file_is_an_absolute_gguf() {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("tuned.GGUF");
        std::fs::write(&gguf, b"GGUF").unwrap();
        let c = checkpoint_from_spec("iter-1", gguf.to_str().unwrap()).unwrap();
        assert_eq!(c.data, json!({"gguf": gguf.display().to_string()}));
    }

    #[test]
    fn spec_relative_directory_becomes_absolute() {
        // `src` is a directory of this crate, and tests run in the crate's root.
        let c = checkpoint_from_spec("iter-1", "src").unwrap();
        let path = c.data[ADAPTER_KEY].as_str().unwrap();
        assert!(Path::new(path).is_absolute(), "{path}");
        assert!(Path::new(path).ends_with("src"), "{path}");
    }

    #[test]
    fn spec_anything_else_is_a_hosted_model() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("weights.bin");
        std::fs::write(&other, b"").unwrap();
        let missing = dir.path().join("missing.gguf");
        for spec in [
            "ft:gpt-4o-mini:org::abc123",
            "tunedModels/next-iter-1",
            other.to_str().unwrap(),
            missing.to_str().unwrap(),
        ] {
            let c = checkpoint_from_spec("iter-1", spec).unwrap();
            assert_eq!(c.data, json!({"model": spec}));
            assert_eq!(hosted_model(&c, "base-model").unwrap(), spec);
        }
    }

    #[test]
    fn bad_specs_are_refused() {
        for (spec, needle) in [
            ("", "no model given"),
            ("  ", "no model given"),
            ("{\"model\": ", "not valid JSON"),
            ("{} []", "not valid JSON"),
        ] {
            let err = checkpoint_from_spec("iter-4", spec).unwrap_err();
            assert!(
                matches!(&err, ModelError::Checkpoint { name, reason } if name == "iter-4" && reason.contains(needle)),
                "{spec:?}: {err:?}"
            );
        }
    }

    #[cfg(feature = "candle")]
    #[test]
    fn keys_are_the_candle_backends() {
        assert_eq!(GGUF_KEY, crate::candle::GGUF_KEY);
        assert_eq!(ADAPTER_KEY, crate::candle::ADAPTER_KEY);
    }

    #[test]
    fn base_is_the_configured_model() {
        assert_eq!(hosted_model(&Checkpoint::base(), "m").unwrap(), "m");
    }

    #[test]
    fn data_names_the_tuned_model() {
        let c = checkpoint("iter-2", json!({"model": "tuned-2", "job": "ftjob-1"}));
        assert_eq!(hosted_model(&c, "m").unwrap(), "tuned-2");
        // Even a checkpoint named `base` with data is the model its data names.
        let c = checkpoint("base", json!({"model": "other"}));
        assert_eq!(hosted_model(&c, "m").unwrap(), "other");
    }

    #[test]
    fn other_checkpoints_are_refused() {
        for (c, needle) in [
            (
                checkpoint("iter-1", serde_json::Value::Null),
                "hosted model",
            ),
            (
                checkpoint("iter-1", json!({"adapter": "/tmp/a"})),
                "hosted model",
            ),
            (checkpoint("iter-1", json!({"model": 3})), "not a string"),
            (checkpoint("iter-1", json!({"model": " "})), "empty"),
            (checkpoint("iter-1", json!("model")), "hosted model"),
        ] {
            let err = hosted_model(&c, "m").unwrap_err();
            assert!(
                matches!(&err, ModelError::Checkpoint { name, reason } if name == "iter-1" && reason.contains(needle)),
                "{err:?}"
            );
        }
    }
}
