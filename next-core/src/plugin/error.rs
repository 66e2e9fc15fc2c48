//! [`PluginError`]: why a plugin could not be loaded, or one of its calls failed.

use std::fmt;
use std::path::PathBuf;

use crate::factory::RoleKind;

/// Which way a malformed message was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the plugin to the host (a manifest, a result, an error).
    FromPlugin,
    /// From the host to the plugin (the plugin could not read a request).
    ToPlugin,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::FromPlugin => "from",
            Direction::ToPlugin => "to",
        })
    }
}

/// Why a plugin could not be loaded, or a call into it failed. Every variant names the
/// plugin's file.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file cannot be found.
    #[error("cannot find plugin {}", .path.display())]
    Missing {
        /// The path as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a shared library this system can load.
    #[error("cannot load plugin {} as a shared library", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// The library does not export the ABI version symbol, so it is no plugin.
    #[error("{} is not a NExT plugin: it exports no `{symbol}`", .path.display())]
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
    },
    /// The library speaks another version of the plugin ABI.
    #[error(
        "plugin {} speaks plugin ABI version {found}, this host version {expected}; \
         rebuild it against this next-core",
        .path.display()
    )]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// The plugin's version.
        found: u32,
        /// The host's.
        expected: u32,
    },
    /// The library has the ABI version symbol but lacks another the ABI requires.
    #[error("plugin {} lacks the symbol `{symbol}` of the plugin ABI", .path.display())]
    MissingSymbol {
        /// The file.
        path: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// The plugin was built against another version of the core types.
    #[error(
        "plugin {} was built against next-core {plugin}, this host has next-core {host}; \
         rebuild it against this version",
        .path.display()
    )]
    CoreVersion {
        /// The file.
        path: PathBuf,
        /// The plugin's `next-core` version.
        plugin: String,
        /// The host's.
        host: String,
    },
    /// A message across the boundary was not the JSON expected.
    #[error("malformed JSON {direction} plugin {} in `{call}`: {message}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which way it was going.
        direction: Direction,
        /// The call (`manifest`, `build`, `verify`, ...).
        call: String,
        /// What the decoder said.
        message: String,
    },
    /// The manifest is well-formed JSON but describes something impossible.
    #[error("plugin {} has an invalid manifest: {message}", .path.display())]
    Manifest {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plugin panicked during a call; the panic was caught at the boundary.
    #[error("plugin {} panicked in `{call}`: {message}", .path.display())]
    Panicked {
        /// The file.
        path: PathBuf,
        /// The call.
        call: String,
        /// The panic's message.
        message: String,
    },
    /// A role of the plugin returned an error.
    #[error("{role} `{name}` of plugin {} failed: {message}", .path.display())]
    Failed {
        /// The file.
        path: PathBuf,
        /// The role.
        role: RoleKind,
        /// The factory's name.
        name: String,
        /// The role's error, as one line.
        message: String,
    },
    /// The plugin broke the ABI in another way (an unknown status, a null handle) or a
    /// call did not come back.
    #[error("plugin {} broke the plugin ABI in `{call}`: {message}", .path.display())]
    Protocol {
        /// The file.
        path: PathBuf,
        /// The call.
        call: String,
        /// What happened.
        message: String,
    },
}
