//! What a factory is: the role kinds ([`RoleKind`]), the builder function types,
//! [`Factory`] itself, the [`Context`] builders take, their [`RegistryError`], what a
//! factory says about itself ([`Origin`], [`OptionDoc`]) and the factories added at run
//! time ([`AnyRole`], [`PluginBuilder`]).
//!
//! The design decision: **this is the layer below both the [registry](crate::registry)
//! and the plugin loader**. The registry finds and builds factories (and loads the plugin
//! a configuration names); a plugin makes factories and adds them. Both depend on what a
//! factory is, and the registry calls the plugin loader, never the other way, so the
//! arrows run one way. The registry re-exports everything here: `registry::Factory` and
//! `factory::Factory` are the same type, and the registry's path is the one the
//! documentation uses.

mod context;
mod describe;
pub(crate) mod dynamic;
mod error;
mod options;

pub use context::Context;
pub use describe::{check_option_docs, options_as_json, OptionDoc, Origin};
#[cfg(feature = "plugin")]
pub(crate) use dynamic::BuildAny;
pub use dynamic::{AnyRole, PluginBuilder};
pub use error::RegistryError;
pub use options::{configured, no_options, options};

use std::fmt;
use std::path::Path;

use crate::render::TraceRenderer;
use crate::sample::RationaleSampler;
use crate::sandbox::Sandbox;
use crate::trace::Tracer;
use crate::train::Trainer;
use crate::verify::Verifier;

/// The six kinds of factory, one per role.
///
/// Each variant is named after its role's trait ([`RoleKind::TraceRenderer`] builds a
/// [`TraceRenderer`]); [`RoleKind::as_str`] gives the shorter name that configuration
/// files use (`renderer`, `sampler`, ...).
///
/// The order (`Ord`) is the order of the walk of a repair task, sandbox first; listings
/// are sorted by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoleKind {
    /// Builds a [`Sandbox`].
    Sandbox,
    /// Builds a [`Tracer`].
    Tracer,
    /// Builds a [`TraceRenderer`]; configured by the `renderer` table.
    TraceRenderer,
    /// Builds a [`RationaleSampler`]; configured by the `sampler` table.
    RationaleSampler,
    /// Builds a [`Verifier`].
    Verifier,
    /// Builds a [`Trainer`].
    Trainer,
}

impl RoleKind {
    /// Every role kind, in walk order.
    pub const ALL: [RoleKind; 6] = [
        RoleKind::Sandbox,
        RoleKind::Tracer,
        RoleKind::TraceRenderer,
        RoleKind::RationaleSampler,
        RoleKind::Verifier,
        RoleKind::Trainer,
    ];

    /// The lower-case name used in configuration files and messages (`sampler`, ...),
    /// which is also the name of the TOML table that configures the role.
    pub const fn as_str(self) -> &'static str {
        match self {
            RoleKind::Sandbox => "sandbox",
            RoleKind::Tracer => "tracer",
            RoleKind::TraceRenderer => "renderer",
            RoleKind::RationaleSampler => "sampler",
            RoleKind::Verifier => "verifier",
            RoleKind::Trainer => "trainer",
        }
    }

    /// The role kind named `name` (as [`RoleKind::as_str`] spells it), if any.
    pub fn from_name(name: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The function type that builds the role `R` (`dyn Sandbox`, `dyn Tracer`, ...) from its
/// options and the [`Context`].
pub type BuildFn<R> = fn(&toml::Table, &Context) -> Result<Box<R>, RegistryError>;
/// Builds a [`Sandbox`] from its options.
pub type SandboxBuilder = BuildFn<dyn Sandbox>;
/// Builds a [`Tracer`] from its options; takes its sandbox from the [`Context`].
pub type TracerBuilder = BuildFn<dyn Tracer>;
/// Builds a [`TraceRenderer`] from its options.
pub type RendererBuilder = BuildFn<dyn TraceRenderer>;
/// Builds a [`RationaleSampler`] from its options.
pub type SamplerBuilder = BuildFn<dyn RationaleSampler>;
/// Builds a [`Verifier`] from its options; takes its sandbox from the [`Context`].
pub type VerifierBuilder = BuildFn<dyn Verifier>;
/// Builds a [`Trainer`] from its options.
pub type TrainerBuilder = BuildFn<dyn Trainer>;

/// The function that builds one role from its options (the factory's TOML table without
/// its `kind` key) and the [`Context`]. The variant is the role.
#[derive(Debug, Clone, Copy)]
pub enum Builder {
    /// Builds a sandbox.
    Sandbox(SandboxBuilder),
    /// Builds a tracer.
    Tracer(TracerBuilder),
    /// Builds a trace renderer.
    TraceRenderer(RendererBuilder),
    /// Builds a rationale sampler.
    RationaleSampler(SamplerBuilder),
    /// Builds a verifier.
    Verifier(VerifierBuilder),
    /// Builds a trainer.
    Trainer(TrainerBuilder),
    /// Builds a role of a plugin loaded at run time.
    Plugin(PluginBuilder),
}

impl Builder {
    /// The role this builder builds.
    pub const fn role(&self) -> RoleKind {
        match self {
            Builder::Sandbox(_) => RoleKind::Sandbox,
            Builder::Tracer(_) => RoleKind::Tracer,
            Builder::TraceRenderer(_) => RoleKind::TraceRenderer,
            Builder::RationaleSampler(_) => RoleKind::RationaleSampler,
            Builder::Verifier(_) => RoleKind::Verifier,
            Builder::Trainer(_) => RoleKind::Trainer,
            Builder::Plugin(plugin) => plugin.role(),
        }
    }

    /// Builds the role from its options.
    ///
    /// # Errors
    /// What the builder returns.
    pub fn build(&self, options: &toml::Table, cx: &Context) -> Result<AnyRole, RegistryError> {
        Ok(match self {
            Builder::Sandbox(build) => AnyRole::Sandbox(build(options, cx)?),
            Builder::Tracer(build) => AnyRole::Tracer(build(options, cx)?),
            Builder::TraceRenderer(build) => AnyRole::TraceRenderer(build(options, cx)?),
            Builder::RationaleSampler(build) => AnyRole::RationaleSampler(build(options, cx)?),
            Builder::Verifier(build) => AnyRole::Verifier(build(options, cx)?),
            Builder::Trainer(build) => AnyRole::Trainer(build(options, cx)?),
            Builder::Plugin(plugin) => plugin.build(options, cx)?,
        })
    }
}

/// One named way to build a role, registered at compile time.
///
/// Made by a `const fn` ([`Factory::new`], or the per-role shortcuts such as
/// [`Factory::renderer`]) so that it can be handed to `inventory::submit!`, which stores
/// it in a `static`; [`register_factory!`](crate::register_factory) does both at once.
#[derive(Debug, Clone, Copy)]
pub struct Factory {
    name: &'static str,
    summary: &'static str,
    builder: Builder,
    options: &'static [OptionDoc],
    module: &'static str,
    file: Option<&'static Path>,
}

inventory::collect!(Factory);

impl Factory {
    /// A factory named `name` (what a configuration's `kind` key says), described by
    /// `summary` (one line, shown by listings), built by `builder`.
    pub const fn new(name: &'static str, summary: &'static str, builder: Builder) -> Self {
        Self {
            name,
            summary,
            builder,
            options: &[],
            module: "",
            file: None,
        }
    }

    /// The same factory, describing the configuration keys it takes (shown by listings).
    #[must_use]
    pub const fn with_options(mut self, options: &'static [OptionDoc]) -> Self {
        self.options = options;
        self
    }

    /// The same factory, registered from the module `module` (its `module_path!()`),
    /// which tells its [`Origin`]; [`register_factory!`](crate::register_factory) sets it.
    #[must_use]
    pub const fn registered_in(mut self, module: &'static str) -> Self {
        self.module = module;
        self
    }

    /// The same factory, loaded from the shared library at `path`.
    #[must_use]
    #[cfg_attr(not(feature = "plugin"), allow(dead_code))]
    pub(crate) const fn loaded_from(mut self, path: &'static Path) -> Self {
        self.file = Some(path);
        self
    }

    /// A sandbox factory.
    pub const fn sandbox(name: &'static str, summary: &'static str, build: SandboxBuilder) -> Self {
        Self::new(name, summary, Builder::Sandbox(build))
    }

    /// A tracer factory.
    pub const fn tracer(name: &'static str, summary: &'static str, build: TracerBuilder) -> Self {
        Self::new(name, summary, Builder::Tracer(build))
    }

    /// A trace renderer factory.
    pub const fn renderer(
        name: &'static str, summary: &'static str, build: RendererBuilder,
    ) -> Self {
        Self::new(name, summary, Builder::TraceRenderer(build))
    }

    /// A rationale sampler factory.
    pub const fn sampler(name: &'static str, summary: &'static str, build: SamplerBuilder) -> Self {
        Self::new(name, summary, Builder::RationaleSampler(build))
    }

    /// A verifier factory.
    pub const fn verifier(
        name: &'static str, summary: &'static str, build: VerifierBuilder,
    ) -> Self {
        Self::new(name, summary, Builder::Verifier(build))
    }

    /// A trainer factory.
    pub const fn trainer(name: &'static str, summary: &'static str, build: TrainerBuilder) -> Self {
        Self::new(name, summary, Builder::Trainer(build))
    }

    /// The name a configuration's `kind` key selects it by.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The one-line description shown by listings.
    pub const fn summary(&self) -> &'static str {
        self.summary
    }

    /// The role it builds.
    pub const fn role(&self) -> RoleKind {
        self.builder.role()
    }

    /// Its builder function.
    pub const fn builder(&self) -> Builder {
        self.builder
    }

    /// The configuration keys it takes, with their defaults, as it declared them (empty
    /// when it declared none).
    pub const fn options(&self) -> &'static [OptionDoc] {
        self.options
    }

    /// Where it comes from: next-core itself, another crate compiled in, or a plugin's
    /// file.
    pub fn origin(&self) -> Origin {
        match self.file {
            Some(path) => Origin::File(path),
            None => Origin::of_module(self.module),
        }
    }
}

/// A role trait object the registry can build: `dyn Sandbox`, `dyn Tracer`,
/// `dyn TraceRenderer`, `dyn RationaleSampler`, `dyn Verifier` or `dyn Trainer`.
///
/// It lets one generic function serve every role, as in
/// `registry::from_table::<dyn RationaleSampler>(table, &cx)`. Sealed: the six roles are
/// the only ones.
pub trait Role: sealed::Sealed {
    /// The role's kind.
    const KIND: RoleKind;

    /// The builder inside `builder`, when `builder` is a compiled-in builder of this
    /// role.
    fn builder_of(builder: Builder) -> Option<BuildFn<Self>>;

    /// The role inside `any`, when it is this role.
    fn from_any(any: AnyRole) -> Option<Box<Self>>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! impl_role {
    ($($role:ident),* $(,)?) => {$(
        impl sealed::Sealed for dyn $role {}

        impl Role for dyn $role {
            const KIND: RoleKind = RoleKind::$role;

            fn builder_of(
                builder: Builder,
            ) -> Option<BuildFn<Self>> {
                match builder {
                    Builder::$role(build) => Some(build),
                    _ => None,
                }
            }

            fn from_any(any: AnyRole) -> Option<Box<Self>> {
                match any {
                    AnyRole::$role(role) => Some(role),
                    _ => None,
                }
            }
        }
    )*};
}

// The variants of `RoleKind` and `Builder` are named after the role traits.
impl_role!(
    Sandbox,
    Tracer,
    TraceRenderer,
    RationaleSampler,
    Verifier,
    Trainer,
);
