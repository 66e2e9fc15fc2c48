//! Plugins: role factories loaded at run time from a shared library.
//!
//! A user brings their own tracer, renderer, sampler, verifier, trainer or sandbox
//! without forking the project: they write the role as for a compiled-in backend (the
//! trait and a registry builder), build it as a crate of type `cdylib` that names its
//! factories with [`export_plugin!`](crate::export_plugin), and the host calls
//! `plugin::load(PATH)` (feature `plugin`), or names the file in a configuration
//! (`[verifier] plugin = "libmy_verifier.so"`) or with `next --plugin PATH`. The
//! library's factories then appear in the [`registry`](crate::registry) beside the
//! compiled-in ones, with the file as their [`Origin`](crate::registry::Origin), and build
//! proxies that implement the same role traits.
//!
//! The design decision: **the boundary is a small C ABI that carries serde JSON**
//! ([`abi`], [`wire`]): five exported functions, requests, results and errors as the core
//! types already serialise, every buffer freed by the side that allocated it. So a
//! plugin built by another compiler version works, and nothing the plugin does short of
//! memory corruption crashes the host: a panic is caught at the boundary and becomes an
//! error of that call, malformed JSON either way is an error naming the file and the
//! call, a library that is not a plugin (or of another ABI version, or built against
//! another `next-core`) is refused at load. Async roles run on the plugin's own tokio
//! runtime while the host waits on a thread of its blocking pool. Libraries are never
//! unloaded.
//!
//! What does not cross: the [`Context`](crate::registry::Context)'s sandbox (a plugin's
//! tracer or verifier brings its own), and a plugin trainer's progress reports.

pub mod abi;
#[cfg(feature = "plugin")]
mod error;
mod export;
#[cfg(feature = "plugin")]
mod factory;
pub mod guest;
#[cfg(feature = "plugin")]
mod host;
#[cfg(feature = "plugin")]
mod library;
#[cfg(feature = "plugin")]
mod proxy;
#[cfg(feature = "plugin")]
mod role_error;
pub mod wire;

#[cfg(test)]
mod tests;

pub use abi::ABI_VERSION;
#[cfg(feature = "plugin")]
pub use error::{Direction, PluginError};
#[cfg(feature = "plugin")]
pub use host::{load, loaded, Plugin};
pub use wire::CORE_VERSION;
