//! What a failed call of a plugin's role becomes on the host: the role's own error.
//!
//! The design decision: **a failed call is the role's own error**, with the kinds the
//! loop tells apart kept (`Deferred` training, a rejected prompt, an unusable
//! checkpoint) and everything else, panics and malformed JSON included, as the role's
//! `Backend` error holding a [`PluginError`] that names the file.

use std::path::Path;

use crate::error::BoxError;
use crate::factory::RoleKind;
use crate::sample::SampleError;
use crate::sandbox::SandboxError;
use crate::trace::TraceError;
use crate::train::TrainError;
use crate::verify::VerifyError;

use super::library::CallError;
use super::wire::WireError;
use super::PluginError;

/// Which role of which plugin a call went to: what a failed call's error names.
pub(crate) struct RoleId<'a> {
    path: &'a Path,
    role: RoleKind,
    name: &'a str,
}

impl<'a> RoleId<'a> {
    /// The role that factory `name` of the plugin at `path` built.
    pub(crate) fn new(path: &'a Path, role: RoleKind, name: &'a str) -> Self {
        Self { path, role, name }
    }

    /// The [`PluginError::Failed`] of a role error that keeps no kind of its own.
    pub(crate) fn failed(&self, error: WireError) -> PluginError {
        PluginError::Failed {
            path: self.path.to_owned(),
            role: self.role,
            name: self.name.to_owned(),
            message: error.message,
        }
    }

    /// The boxed [`PluginError`] of a failed call.
    fn boxed(&self, error: CallError) -> BoxError {
        Box::new(match error {
            CallError::Role(error) => self.failed(error),
            CallError::Plugin(error) => error,
        })
    }
}

/// Turns a failed call of a role into the role's error.
pub(crate) trait FromCallError: Sized {
    /// The role's error for a failed call of the role `role`.
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self;
}

impl FromCallError for SandboxError {
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "unavailable" => {
                SandboxError::Unavailable(error.message)
            }
            error => SandboxError::Backend(role.boxed(error)),
        }
    }
}

impl FromCallError for TraceError {
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "protocol" => {
                TraceError::Protocol(error.message)
            }
            error => TraceError::Backend(role.boxed(error)),
        }
    }
}

impl FromCallError for VerifyError {
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "protocol" => {
                VerifyError::Protocol(error.message)
            }
            error => VerifyError::Backend(role.boxed(error)),
        }
    }
}

impl FromCallError for SampleError {
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "rejected" => {
                SampleError::Rejected(error.message)
            }
            CallError::Role(error) if error.kind == "unavailable" => {
                SampleError::Unavailable(error.message)
            }
            CallError::Role(WireError {
                kind,
                message,
                name: Some(name),
            }) if kind == "checkpoint" => SampleError::Checkpoint {
                name,
                reason: message,
            },
            error => SampleError::Backend(role.boxed(error)),
        }
    }
}

impl FromCallError for TrainError {
    fn from_call(role: &RoleId<'_>, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "deferred" => TrainError::Deferred {
                instructions: error.message,
            },
            CallError::Role(WireError {
                kind,
                message,
                name: Some(name),
            }) if kind == "checkpoint" => TrainError::Checkpoint {
                name,
                reason: message,
            },
            error => TrainError::Backend(role.boxed(error)),
        }
    }
}
