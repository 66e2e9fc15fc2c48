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

use next_core::train::Checkpoint;

use crate::error::ModelError;

/// The key of a checkpoint's data that names a hosted model.
pub const MODEL_KEY: &str = "model";

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
    checkpoint: &'a Checkpoint,
    configured: &'a str,
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
