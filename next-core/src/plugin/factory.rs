//! [`PluginFactory`]: a plugin's factory as the registry builds it, with a failed build
//! turned into the host's [`RegistryError`].

use std::sync::Arc;

use crate::factory::{AnyRole, BuildAny, Context, RegistryError, RoleKind};

use super::library::{CallError, Library};
use super::proxy::{
    Handle, PluginRenderer, PluginSampler, PluginSandbox, PluginTracer, PluginTrainer,
    PluginVerifier,
};
use super::role_error::RoleId;
use super::wire::{Request, Response};
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
                RoleId::new(self.library.path, self.role, self.name).failed(error),
            ),
            CallError::Plugin(error) => RegistryError::build(self.role, self.name, error),
        }
    }
}
