//! [`RegistryError`]: why a role could not be built from configuration.

use crate::error::BoxError;

use super::RoleKind;

/// Why the registry could not build a role.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No factory of this role has this name (its backend is not compiled in, or the
    /// name is misspelled).
    #[error(
        "no {role} named `{name}` is compiled in; {}",
        available_list(*.role, .available)
    )]
    Unknown {
        /// The role asked for.
        role: RoleKind,
        /// The name asked for.
        name: String,
        /// The names of the factories of that role that are compiled in, sorted.
        available: Vec<String>,
    },
    /// Two or more factories of one role are registered under one name, so the name is
    /// ambiguous. [`list`](crate::registry::list) shows each of them.
    #[error("more than one {role} factory is registered as `{name}`; the name is ambiguous")]
    Duplicate {
        /// The role.
        role: RoleKind,
        /// The name registered more than once.
        name: String,
    },
    /// The role's configuration table has no `kind` key naming its factory.
    #[error("the {role} table has no `kind` key naming the {role} to build")]
    MissingKind {
        /// The role.
        role: RoleKind,
    },
    /// The role's configuration table has a `kind` key that is not a string.
    #[error("the `kind` key of the {role} table must be a string, not {found}")]
    InvalidKind {
        /// The role.
        role: RoleKind,
        /// The TOML type found instead (`integer`, `table`, ...).
        found: &'static str,
    },
    /// The options do not fit the factory: an unknown key, a missing one, a wrong type, a
    /// bad value.
    #[error("bad options for {role} `{name}`: {message}")]
    Options {
        /// The role.
        role: RoleKind,
        /// The factory's name.
        name: String,
        /// What is wrong, as the deserializer or the builder said it.
        message: String,
    },
    /// The factory runs code and needs a sandbox, but the [`Context`](super::Context) has
    /// none.
    #[error(
        "{role} `{name}` runs code and needs a sandbox, but none was given \
         (build a sandbox first and pass it with `Context::with_sandbox`)"
    )]
    MissingSandbox {
        /// The role.
        role: RoleKind,
        /// The factory's name.
        name: String,
    },
    /// The plugin that the role's table names with its `plugin` key cannot be loaded.
    #[error("cannot load the plugin `{path}` of the {role} table")]
    Plugin {
        /// The role.
        role: RoleKind,
        /// The plugin's path as the table gives it.
        path: String,
        /// Why (a `PluginError` naming the file, with feature `plugin`).
        #[source]
        source: BoxError,
    },
    /// The builder failed for another reason (a model that will not load, a missing
    /// interpreter, an unreachable service).
    #[error("cannot build {role} `{name}`")]
    Build {
        /// The role.
        role: RoleKind,
        /// The factory's name.
        name: String,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl RegistryError {
    /// A [`RegistryError::Build`] error, for builders: the `role` factory `name` failed
    /// because of `source`.
    pub fn build(role: RoleKind, name: impl Into<String>, source: impl Into<BoxError>) -> Self {
        RegistryError::Build {
            role,
            name: name.into(),
            source: source.into(),
        }
    }

    /// A [`RegistryError::Options`] error, for builders that check their options beyond
    /// what deserialization checks.
    pub fn options(role: RoleKind, name: impl Into<String>, message: impl Into<String>) -> Self {
        RegistryError::Options {
            role,
            name: name.into(),
            message: message.into(),
        }
    }

    /// The role the error is about.
    pub fn role(&self) -> RoleKind {
        match self {
            RegistryError::Unknown { role, .. }
            | RegistryError::Duplicate { role, .. }
            | RegistryError::MissingKind { role }
            | RegistryError::InvalidKind { role, .. }
            | RegistryError::Options { role, .. }
            | RegistryError::MissingSandbox { role, .. }
            | RegistryError::Plugin { role, .. }
            | RegistryError::Build { role, .. } => *role,
        }
    }
}

fn available_list(role: RoleKind, names: &[String]) -> String {
    if names.is_empty() {
        format!("no {role} is compiled in at all")
    } else {
        let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
        format!("available: {}", quoted.join(", "))
    }
}
