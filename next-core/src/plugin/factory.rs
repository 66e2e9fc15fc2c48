//! [`PluginFactory`]: a plugin's factory as the registry builds it, and the conversion of
//! what crosses back into the role errors and registry errors of the host.
//!
//! The design decision: **a failed call is the role's own error**, with the kinds the
//! loop tells apart kept (`Deferred` training, a rejected prompt, an unusable
//! checkpoint) and everything else, panics and malformed JSON included, as the role's
//! `Backend` error holding a [`PluginError`] that names the file.

use std::path::Path;
use std::sync::Arc;

use crate::registry::{AnyRole, BuildAny, Context, RegistryError, RoleKind};
use crate::sample::SampleError;
use crate::sandbox::SandboxError;
use crate::trace::TraceError;
use crate::train::TrainError;
use crate::verify::VerifyError;

use super::host::{CallError, Library};
use super::proxy::{
    Handle, PluginRenderer, PluginSampler, PluginSandbox, PluginTracer, PluginTrainer,
    PluginVerifier,
};
use super::wire::{Request, Response, WireError};
use super::PluginError;

/// Factory number `index` of a loaded plugin.
pub(crate) struct PluginFactory {
    pub(crate) library: &'static Library,
    pub(crate) index: u32,
    pub(crate) role: RoleKind,
    pub(crate) name: &'static str,
}

impl BuildAny for PluginFactory {
    fn build_any(&self, options: &toml::Table, _cx: &Context) -> Result<AnyRole, RegistryError> {
        let options = serde_json::to_vec(options).map_err(|err| {
            RegistryError::build(
                self.role,
                self.name,
                PluginError::Malformed {
                    path: self.library.path.to_owned(),
                    direction: super::Direction::ToPlugin,
                    call: "build".to_owned(),
                    message: err.to_string(),
                },
            )
        })?;
        let instance = self
            .library
            .build(self.index, &options)
            .map_err(|err| self.registry_error(err))?;
        let handle = Arc::new(Handle::new(self.library, instance, self.role, self.name));
        Ok(match self.role {
            RoleKind::Sandbox => AnyRole::Sandbox(Box::new(PluginSandbox(handle))),
            RoleKind::Tracer => AnyRole::Tracer(Box::new(PluginTracer(handle))),
            RoleKind::TraceRenderer => {
                let described = handle.call_blocking(&Request::Describe);
                match described {
                    Ok(Response::Described {
                        name,
                        shows_execution,
                        legend,
                    }) => AnyRole::TraceRenderer(Box::new(PluginRenderer {
                        handle,
                        name,
                        shows_execution,
                        legend,
                    })),
                    Ok(other) => return Err(self.registry_error(handle.unexpected(&other))),
                    Err(err) => return Err(self.registry_error(err)),
                }
            }
            RoleKind::RationaleSampler => {
                AnyRole::RationaleSampler(Box::new(PluginSampler(handle)))
            }
            RoleKind::Verifier => AnyRole::Verifier(Box::new(PluginVerifier(handle))),
            RoleKind::Trainer => AnyRole::Trainer(Box::new(PluginTrainer(handle))),
        })
    }
}

impl PluginFactory {
    /// The registry error of a failed build.
    fn registry_error(&self, error: CallError) -> RegistryError {
        match error {
            CallError::Role(error) if error.kind == "options" => {
                RegistryError::options(self.role, self.name, error.message)
            }
            CallError::Role(error) => RegistryError::build(
                self.role,
                self.name,
                failed(self.library.path, self.role, self.name, error),
            ),
            CallError::Plugin(error) => RegistryError::build(self.role, self.name, error),
        }
    }
}

/// The [`PluginError::Failed`] of a role error that keeps no kind of its own.
pub(crate) fn failed(path: &Path, role: RoleKind, name: &str, error: WireError) -> PluginError {
    PluginError::Failed {
        path: path.to_owned(),
        role,
        name: name.to_owned(),
        message: error.message,
    }
}

/// Turns a failed call of a role into the role's error.
pub(crate) trait FromCallError: Sized {
    /// The role's error for a failed call of `handle`.
    fn from_call(handle: &Handle, error: CallError) -> Self;
}

/// The boxed [`PluginError`] of a failed call.
fn boxed(handle: &Handle, error: CallError) -> crate::error::BoxError {
    Box::new(match error {
        CallError::Role(error) => failed(handle.path(), handle.role(), handle.name(), error),
        CallError::Plugin(error) => error,
    })
}

impl FromCallError for SandboxError {
    fn from_call(handle: &Handle, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "unavailable" => {
                SandboxError::Unavailable(error.message)
            }
            error => SandboxError::Backend(boxed(handle, error)),
        }
    }
}

impl FromCallError for TraceError {
    fn from_call(handle: &Handle, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "protocol" => {
                TraceError::Protocol(error.message)
            }
            error => TraceError::Backend(boxed(handle, error)),
        }
    }
}

impl FromCallError for VerifyError {
    fn from_call(handle: &Handle, error: CallError) -> Self {
        match error {
            CallError::Role(error) if error.kind == "protocol" => {
                VerifyError::Protocol(error.message)
            }
            error => VerifyError::Backend(boxed(handle, error)),
        }
    }
}

impl FromCallError for SampleError {
    fn from_call(handle: &Handle, error: CallError) -> Self {
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
            error => SampleError::Backend(boxed(handle, error)),
        }
    }
}

impl FromCallError for TrainError {
    fn from_call(handle: &Handle, error: CallError) -> Self {
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
            error => TrainError::Backend(boxed(handle, error)),
        }
    }
}
