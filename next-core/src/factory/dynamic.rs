//! Factories added at run time: [`AnyRole`], [`PluginBuilder`] and the process's list of
//! loaded factories, which the registry's `factories` walks after the compiled-in
//! ones.
//!
//! The design decision: **the list only grows, and what it holds lives as long as the
//! process** (shared libraries are never unloaded), so a loaded factory is a
//! `&'static Factory` like a compiled-in one and every lookup, listing and build treats
//! both alike; the lock guards nothing but the append.

use std::fmt;
use std::sync::{PoisonError, RwLock};

use crate::render::TraceRenderer;
use crate::sample::RationaleSampler;
use crate::sandbox::Sandbox;
use crate::trace::Tracer;
use crate::train::Trainer;
use crate::verify::Verifier;

use super::{Context, Factory, RegistryError, RoleKind};

/// A role built by a factory of any kind: the variant is the role.
pub enum AnyRole {
    /// A sandbox.
    Sandbox(Box<dyn Sandbox>),
    /// A tracer.
    Tracer(Box<dyn Tracer>),
    /// A trace renderer.
    TraceRenderer(Box<dyn TraceRenderer>),
    /// A rationale sampler.
    RationaleSampler(Box<dyn RationaleSampler>),
    /// A verifier.
    Verifier(Box<dyn Verifier>),
    /// A trainer.
    Trainer(Box<dyn Trainer>),
}

impl AnyRole {
    /// The role it is.
    pub fn role(&self) -> RoleKind {
        match self {
            AnyRole::Sandbox(_) => RoleKind::Sandbox,
            AnyRole::Tracer(_) => RoleKind::Tracer,
            AnyRole::TraceRenderer(_) => RoleKind::TraceRenderer,
            AnyRole::RationaleSampler(_) => RoleKind::RationaleSampler,
            AnyRole::Verifier(_) => RoleKind::Verifier,
            AnyRole::Trainer(_) => RoleKind::Trainer,
        }
    }
}

impl fmt::Debug for AnyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyRole({})", self.role())
    }
}

/// What builds the roles of a factory that was not compiled in (a plugin's): a closure
/// over the loaded library, where a compiled-in factory has a plain `fn`.
pub(crate) trait BuildAny: Send + Sync {
    /// Builds the role from its options.
    fn build_any(&self, options: &toml::Table, cx: &Context) -> Result<AnyRole, RegistryError>;
}

/// The builder of a factory loaded at run time, for one role. Opaque: made by the
/// `plugin` module.
#[derive(Clone, Copy)]
pub struct PluginBuilder {
    role: RoleKind,
    build: &'static dyn BuildAny,
}

impl PluginBuilder {
    /// A builder of `role` that `build` implements.
    #[cfg_attr(not(feature = "plugin"), allow(dead_code))]
    pub(crate) const fn new(role: RoleKind, build: &'static dyn BuildAny) -> Self {
        Self { role, build }
    }

    /// The role it builds.
    pub const fn role(&self) -> RoleKind {
        self.role
    }

    /// Builds the role from its options.
    pub(crate) fn build(
        &self, options: &toml::Table, cx: &Context,
    ) -> Result<AnyRole, RegistryError> {
        self.build.build_any(options, cx)
    }
}

impl fmt::Debug for PluginBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PluginBuilder({})", self.role)
    }
}

/// The factories loaded at run time, in the order they were added.
static LOADED: RwLock<Vec<&'static Factory>> = RwLock::new(Vec::new());

/// Adds `factory` to the registry for the rest of the process.
#[cfg_attr(not(feature = "plugin"), allow(dead_code))]
pub(crate) fn add(factory: Factory) -> &'static Factory {
    let factory: &'static Factory = Box::leak(Box::new(factory));
    // A poisoned lock only means another thread panicked while appending a reference;
    // the vector itself is always whole.
    LOADED
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push(factory);
    factory
}

/// The factories loaded so far.
pub(crate) fn loaded() -> Vec<&'static Factory> {
    LOADED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
