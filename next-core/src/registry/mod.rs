//! Named factories for every role, registered at compile time and built from TOML.
//!
//! This is how backends are wired from a configuration file. A backend crate
//! (`next-verifiers`, `next-models`, `next-tracers`, or your own) registers a named
//! [`Factory`] for each role it implements; the `next` command, or any program embedding
//! the library, reads a table such as
//!
//! ```toml
//! [sampler]
//! kind = "openai"          # the factory's name
//! model = "gpt-4o-mini"    # everything else is the factory's options
//! ```
//!
//! and calls [`from_table`] (or [`build`], or one of the per-role shortcuts such as
//! [`sampler`]) to get a `Box<dyn RationaleSampler>`, without `next-core` knowing any
//! backend. [`list`] tells what is compiled in.
//!
//! The design decision: **registration happens at compile time, with
//! [`inventory`](https://docs.rs/inventory), and a factory is plain data** (two strings
//! and a `fn` pointer). The registry is therefore `'static` data collected by the linker:
//! there is no global mutable state, no registration call to forget at start-up, and
//! what a binary can build is exactly what it was compiled with (cargo features choose).
//! Loading backends at run time from a shared library is a separate mechanism, the plugin
//! ABI ([`crate::plugin`]), which hands out the same trait objects: `plugin::load` adds
//! the library's factories to this registry for the rest of the process (an append-only
//! list beside the `inventory` one), where [`find`], [`build`] and [`list`] see them with
//! their [`Origin`], the file.
//!
//! Builders receive their options (the table without `kind`) and a [`Context`] holding
//! what they depend on: tracers and verifiers take their sandbox from it. They
//! deserialize their options with [`options`] into a struct marked
//! `#[serde(deny_unknown_fields)]`, so that a misspelled key is an error naming it rather
//! than a silently ignored setting; factories without options call [`no_options`].
//!
//! A backend registers with [`register_factory!`](crate::register_factory), or writes the
//! `inventory` registration by hand through the re-export [`inventory`] (see the macro).
//! On Linux this also works in tests and doctests, as here:
//!
//! ```
//! use next_core::registry::{self, Context, RegistryError, RoleKind};
//! use next_core::render::TraceRenderer;
//! use next_core::task::{Program, TestCase};
//! use next_core::trace::Trace;
//!
//! /// A renderer that puts a title line above the program.
//! struct Titled {
//!     title: String,
//! }
//!
//! impl TraceRenderer for Titled {
//!     fn name(&self) -> &str {
//!         "titled"
//!     }
//!     fn shows_execution(&self) -> bool {
//!         false
//!     }
//!     fn render(&self, program: &Program, _tests: &[TestCase], _traces: &[Trace]) -> String {
//!         format!("# {}\n{}", self.title, program.source())
//!     }
//! }
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct TitledOptions {
//!     title: String,
//! }
//!
//! fn build_titled(
//!     options: &toml::Table,
//!     _cx: &Context,
//! ) -> Result<Box<dyn TraceRenderer>, RegistryError> {
//!     let TitledOptions { title } = registry::options(RoleKind::TraceRenderer, "titled", options)?;
//!     Ok(Box::new(Titled { title }))
//! }
//!
//! next_core::register_factory!(renderer, "titled", "the program under a title line", build_titled);
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config: toml::Table = toml::from_str(
//!         r#"
//!         [renderer]
//!         kind = "titled"
//!         title = "buggy"
//!         "#,
//!     )?;
//!     let table = config["renderer"].as_table().ok_or("no [renderer] table")?;
//!     let renderer = registry::from_table::<dyn TraceRenderer>(table, &Context::new())?;
//!     assert_eq!(renderer.render(&Program::new("x = 1\n"), &[], &[]), "# buggy\nx = 1\n");
//!
//!     // A misspelled option is an error that names it.
//!     let err = registry::renderer("titled", &toml::from_str("titel = 'x'")?, &Context::new())
//!         .err()
//!         .ok_or("expected an error")?;
//!     assert!(err.to_string().contains("titel"));
//!
//!     // The listing shows it next to the factories next-core registers itself.
//!     let entries = registry::list();
//!     assert!(entries.iter().any(|e| e.role == RoleKind::TraceRenderer && e.name == "titled"));
//!     assert!(entries.iter().any(|e| e.role == RoleKind::TraceRenderer && e.name == "none"));
//!     Ok(())
//! }
//! ```
//!
//! One caveat of link-time registration: a backend crate's factories are present only if
//! the crate is linked into the binary. A binary that depends on a backend crate but
//! never names anything in it should say `use next_models as _;` (or similar) so the
//! linker keeps it.

mod builtin;

#[cfg(test)]
mod tests;

pub use crate::factory::{
    check_option_docs, configured, no_options, options, options_as_json, AnyRole, BuildFn, Builder,
    Context, Factory, OptionDoc, Origin, PluginBuilder, RegistryError, RendererBuilder, Role,
    RoleKind, SamplerBuilder, SandboxBuilder, TracerBuilder, TrainerBuilder, VerifierBuilder,
};
/// The `inventory` crate, re-exported so that backend crates can write
/// `next_core::registry::inventory::submit! { ... }` without depending on it themselves.
pub use inventory;

use crate::render::TraceRenderer;
use crate::sample::RationaleSampler;
use crate::sandbox::Sandbox;
use crate::trace::Tracer;
use crate::train::Trainer;
use crate::verify::Verifier;

/// The key of a role's configuration table that names its factory.
pub const KIND_KEY: &str = "kind";

/// The key of a role's configuration table that names a plugin's file to load before
/// looking the factory up (`plugin = "path/to/libmy_verifier.so"`).
pub const PLUGIN_KEY: &str = "plugin";

/// One line of [`list`]: a registered factory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// The role it builds.
    pub role: RoleKind,
    /// Its name, what a configuration's `kind` key selects.
    pub name: &'static str,
    /// Its one-line description.
    pub summary: &'static str,
    /// Where it comes from.
    pub origin: Origin,
    /// The configuration keys it takes, with their defaults (empty when it declared
    /// none).
    pub options: &'static [OptionDoc],
}

/// Every registered factory: the compiled-in ones in no particular order, then those
/// loaded from plugins so far, in the order they were loaded.
pub fn factories() -> impl Iterator<Item = &'static Factory> {
    inventory::iter::<Factory>
        .into_iter()
        .chain(crate::factory::dynamic::loaded())
}

/// What is registered: one entry per factory, compiled in or loaded from a plugin,
/// sorted by role (in the order of [`RoleKind`]), then name, then summary. A name
/// registered twice for one role (an error when building it) appears twice.
pub fn list() -> Vec<Entry> {
    let mut entries: Vec<Entry> = factories()
        .map(|factory| Entry {
            role: factory.role(),
            name: factory.name(),
            summary: factory.summary(),
            origin: factory.origin(),
            options: factory.options(),
        })
        .collect();
    entries.sort_unstable();
    entries
}

/// The one factory of `role` named `name`.
///
/// # Errors
/// [`RegistryError::Unknown`] (listing the names available for `role`) when there is
/// none, [`RegistryError::Duplicate`] when there are several.
pub fn find(role: RoleKind, name: &str) -> Result<&'static Factory, RegistryError> {
    let mut matching = factories().filter(|f| f.role() == role && f.name() == name);
    match (matching.next(), matching.next()) {
        (Some(factory), None) => Ok(factory),
        (Some(_), Some(_)) => Err(RegistryError::Duplicate {
            role,
            name: name.to_owned(),
        }),
        (None, _) => {
            let mut available: Vec<String> = factories()
                .filter(|f| f.role() == role)
                .map(|f| f.name().to_owned())
                .collect();
            available.sort_unstable();
            available.dedup();
            Err(RegistryError::Unknown {
                role,
                name: name.to_owned(),
                available,
            })
        }
    }
}

/// Builds the role `R` (`dyn Sandbox`, `dyn Tracer`, ...) with the factory named `name`,
/// from its options (without a `kind` key).
///
/// # Errors
/// What [`find`] returns, and whatever the builder returns: [`RegistryError::Options`],
/// [`RegistryError::MissingSandbox`], [`RegistryError::Build`].
pub fn build<R: Role + ?Sized>(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<R>, RegistryError> {
    let factory = find(R::KIND, name)?;
    // `find` filtered on the role, so the builder is of that role.
    match factory.builder() {
        Builder::Plugin(plugin) => R::from_any(plugin.build(options, cx)?).ok_or_else(|| {
            RegistryError::build(R::KIND, name, "the plugin built a role of another kind")
        }),
        builder => match R::builder_of(builder) {
            Some(build) => build(options, cx),
            None => Err(RegistryError::build(
                R::KIND,
                name,
                "the factory's builder is of another role",
            )),
        },
    }
}

/// Builds the role `R` from its whole configuration table: the factory named by the
/// table's `kind` key, given the rest of the table as options. A `plugin` key names a
/// plugin's file (relative to the working directory) to load first, with feature
/// `plugin`.
///
/// # Errors
/// [`RegistryError::MissingKind`] without a `kind` key, [`RegistryError::InvalidKind`]
/// when it is not a string, [`RegistryError::Plugin`] when the plugin cannot be loaded
/// (or this build cannot load plugins), and otherwise what [`build`] returns.
pub fn from_table<R: Role + ?Sized>(
    table: &toml::Table, cx: &Context,
) -> Result<Box<R>, RegistryError> {
    let (name, mut options) = split_kind(R::KIND, table)?;
    if let Some(plugin) = options.remove(PLUGIN_KEY) {
        load_plugin(R::KIND, &plugin)?;
    }
    build::<R>(&name, &options, cx)
}

/// Splits a role's configuration table into the factory name (its `kind` key) and the
/// options (the rest).
///
/// # Errors
/// [`RegistryError::MissingKind`] without a `kind` key, [`RegistryError::InvalidKind`]
/// when it is not a string.
pub fn split_kind(
    role: RoleKind, table: &toml::Table,
) -> Result<(String, toml::Table), RegistryError> {
    let mut options = table.clone();
    match options.remove(KIND_KEY) {
        None => Err(RegistryError::MissingKind { role }),
        Some(toml::Value::String(name)) => Ok((name, options)),
        Some(other) => Err(RegistryError::InvalidKind {
            role,
            found: other.type_str(),
        }),
    }
}

/// Builds a sandbox with the factory named `name`.
///
/// # Errors
/// As [`build`].
pub fn sandbox(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn Sandbox>, RegistryError> {
    build::<dyn Sandbox>(name, options, cx)
}

/// Builds a tracer with the factory named `name`; most tracers need a sandbox in `cx`.
///
/// # Errors
/// As [`build`].
pub fn tracer(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn Tracer>, RegistryError> {
    build::<dyn Tracer>(name, options, cx)
}

/// Builds a trace renderer with the factory named `name`.
///
/// # Errors
/// As [`build`].
pub fn renderer(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    build::<dyn TraceRenderer>(name, options, cx)
}

/// Builds a rationale sampler with the factory named `name`.
///
/// # Errors
/// As [`build`].
pub fn sampler(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn RationaleSampler>, RegistryError> {
    build::<dyn RationaleSampler>(name, options, cx)
}

/// Builds a verifier with the factory named `name`; most verifiers need a sandbox in `cx`.
///
/// # Errors
/// As [`build`].
pub fn verifier(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn Verifier>, RegistryError> {
    build::<dyn Verifier>(name, options, cx)
}

/// Builds a trainer with the factory named `name`.
///
/// # Errors
/// As [`build`].
pub fn trainer(
    name: &str, options: &toml::Table, cx: &Context,
) -> Result<Box<dyn Trainer>, RegistryError> {
    build::<dyn Trainer>(name, options, cx)
}

/// Loads the plugin that the `plugin` key of a `role` table names.
pub(crate) fn load_plugin(role: RoleKind, value: &toml::Value) -> Result<(), RegistryError> {
    let Some(path) = value.as_str() else {
        return Err(RegistryError::Plugin {
            role,
            path: String::new(),
            source: format!("the `plugin` key must be a path, not {}", value.type_str()).into(),
        });
    };
    #[cfg(feature = "plugin")]
    let loaded = crate::plugin::load(path).map(drop).map_err(Into::into);
    #[cfg(not(feature = "plugin"))]
    let loaded = Err("this build cannot load plugins (next-core feature `plugin`)".into());
    loaded.map_err(|source| RegistryError::Plugin {
        role,
        path: path.to_owned(),
        source,
    })
}

/// Registers a factory at compile time, from any crate that depends on `next-core`.
///
/// `register_factory!(ROLE, NAME, SUMMARY, BUILDER)`, where `ROLE` is one of `sandbox`,
/// `tracer`, `renderer`, `sampler`, `verifier`, `trainer` and `BUILDER` is a function of
/// that role's builder type (such as
/// [`RendererBuilder`](crate::registry::RendererBuilder)). A builder of the wrong role is a
/// compile error. A fifth argument, `options = &[OptionDoc::new(..), ..]`, describes the
/// configuration keys it takes for listings
/// ([`OptionDoc`](crate::registry::OptionDoc)).
///
/// It expands to the plain `inventory` registration, which can also be written by hand;
/// `inventory` is re-exported as [`next_core::registry::inventory`](crate::registry::inventory),
/// so the registering crate needs no dependency of its own on it. Put either at module
/// level, next to the builder, behind the backend's cargo feature if it has one:
///
/// ```
/// use next_core::registry::{self, Context, Factory, RegistryError, RoleKind};
/// use next_core::sandbox::Sandbox;
///
/// fn build_unavailable(
///     _options: &toml::Table,
///     _cx: &Context,
/// ) -> Result<Box<dyn Sandbox>, RegistryError> {
///     Err(RegistryError::build(RoleKind::Sandbox, "unavailable", "no isolation here"))
/// }
///
/// // With the macro:
/// next_core::register_factory!(sandbox, "unavailable", "never builds", build_unavailable);
///
/// // By hand, the same thing under another name:
/// next_core::registry::inventory::submit! {
///     Factory::sandbox("unavailable-too", "never builds either", build_unavailable)
/// }
///
/// fn main() {
///     let sandboxes: Vec<&str> = registry::list()
///         .into_iter()
///         .filter(|entry| entry.role == RoleKind::Sandbox)
///         .map(|entry| entry.name)
///         .collect();
///     assert_eq!(sandboxes, ["unavailable", "unavailable-too"]);
///     let err = registry::sandbox("unavailable", &toml::Table::new(), &Context::new());
///     assert!(matches!(err, Err(RegistryError::Build { .. })));
/// }
/// ```
///
/// See the [module documentation](crate::registry) for a complete example with options.
#[macro_export]
macro_rules! register_factory {
    ($role:ident, $name:expr, $summary:expr, $builder:expr $(,)?) => {
        $crate::register_factory!($role, $name, $summary, $builder, options = &[]);
    };
    ($role:ident, $name:expr, $summary:expr, $builder:expr, options = $options:expr $(,)?) => {
        $crate::registry::inventory::submit! {
            $crate::registry::Factory::$role($name, $summary, $builder)
                .with_options($options)
                .registered_in(::std::module_path!())
        }
    };
}

/// Registers a factory configured by one struct: its builder deserializes the options
/// into the struct `new` takes (as [`options`]) and makes the role with `new`, whose
/// error becomes the factory's [`RegistryError::Build`] (see [`configured`]).
///
/// `register_configured!(ROLE, NAME, SUMMARY, NEW)`, with `ROLE` as in
/// [`register_factory!`](crate::register_factory) and `NEW` a function from the
/// configuration struct to `Result<Role, E>`; a fifth argument `options = &[..]`
/// describes the keys, as there.
///
/// ```
/// use next_core::registry::{self, Context, RoleKind};
/// use next_core::render::{NoneRenderer, TraceRenderer};
///
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config {
///     width: usize,
/// }
///
/// fn new(config: Config) -> Result<NoneRenderer, String> {
///     if config.width == 0 { Err("a width of 0".into()) } else { Ok(NoneRenderer) }
/// }
///
/// next_core::register_configured!(renderer, "plain-configured", "the program", new);
///
/// let built = registry::renderer("plain-configured", &toml::from_str("width = 8").unwrap(), &Context::new());
/// assert_eq!(built.unwrap().name(), "none");
/// let err = registry::renderer("plain-configured", &toml::from_str("width = 0").unwrap(), &Context::new());
/// assert!(next_core::error::chain(&err.err().unwrap()).contains("a width of 0"));
/// ```
#[macro_export]
macro_rules! register_configured {
    ($role:ident, $name:expr, $summary:expr, $new:expr $(,)?) => {
        $crate::register_configured!($role, $name, $summary, $new, options = &[]);
    };
    ($role:ident, $name:expr, $summary:expr, $new:expr, options = $options:expr $(,)?) => {
        $crate::register_factory!(
            $role,
            $name,
            $summary,
            |options, _cx| {
                let role = $crate::register_configured!(@kind $role);
                Ok(::std::boxed::Box::new($crate::registry::configured(role, $name, options, $new)?))
            },
            options = $options,
        );
    };
    (@kind sandbox) => { $crate::registry::RoleKind::Sandbox };
    (@kind tracer) => { $crate::registry::RoleKind::Tracer };
    (@kind renderer) => { $crate::registry::RoleKind::TraceRenderer };
    (@kind sampler) => { $crate::registry::RoleKind::RationaleSampler };
    (@kind verifier) => { $crate::registry::RoleKind::Verifier };
    (@kind trainer) => { $crate::registry::RoleKind::Trainer };
}
