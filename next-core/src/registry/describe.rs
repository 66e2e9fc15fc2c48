//! What a factory tells about itself beyond its name: where it comes from ([`Origin`])
//! and the options it takes ([`OptionDoc`]), for listings such as `next plugins list`.
//!
//! The design decision: **both are plain `'static` data set where the factory is
//! declared**, so a compiled-in factory describes itself in its `const` registration and
//! a plugin's factory in its manifest, and listing never builds anything.

use std::fmt;
use std::path::Path;

/// Where a factory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Registered by `next-core` itself (the `none` roles, the mocks of feature
    /// `testing`).
    BuiltIn,
    /// Registered by another crate linked into the binary, usually a backend chosen with
    /// a cargo feature.
    Feature,
    /// Loaded at run time from this shared library (see the `plugin` module).
    File(&'static Path),
}

impl Origin {
    /// The origin of a factory registered from the module `module` (its
    /// `module_path!()`, empty when unknown): built in for `next-core`'s own modules, a
    /// feature otherwise.
    pub fn of_module(module: &str) -> Origin {
        if module == "next_core" || module.starts_with("next_core::") {
            Origin::BuiltIn
        } else {
            Origin::Feature
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built in"),
            Origin::Feature => f.write_str("feature"),
            Origin::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// One configuration key a factory takes: its name, its default (as TOML text; empty
/// when the key is required) and what it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OptionDoc {
    /// The key, as written in the role's table.
    pub key: &'static str,
    /// The default value as TOML text (`0.2`, `"inline"`), empty for a required key.
    pub default: &'static str,
    /// What the key sets, in a few words.
    pub summary: &'static str,
}

impl OptionDoc {
    /// Describes the key `key` with its default (TOML text, empty when required).
    pub const fn new(key: &'static str, default: &'static str, summary: &'static str) -> Self {
        Self {
            key,
            default,
            summary,
        }
    }

    /// Whether a configuration must set the key.
    pub const fn required(&self) -> bool {
        self.default.is_empty()
    }
}

impl fmt::Display for OptionDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.required() {
            write!(f, "{} (required)", self.key)
        } else {
            write!(f, "{} = {}", self.key, self.default)
        }
    }
}
