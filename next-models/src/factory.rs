//! [`register_configured!`]: the registry factory of a role built from its options alone.

/// Registers, as the `$role` factory `$name`, a builder that reads the role's options into
/// the configuration `$new` takes and builds the role with it; `options` documents each
/// key and its default (`next plugins list`; `tests/option_docs.rs` checks them against
/// the configuration).
///
/// Options that do not fit the configuration are a [`RegistryError::Options`], a
/// failure of `$new` a [`RegistryError::Build`], both naming the role and `$name`.
///
/// [`RegistryError::Options`]: next_core::registry::RegistryError::Options
/// [`RegistryError::Build`]: next_core::registry::RegistryError::Build
#[cfg_attr(
    not(any(feature = "openai", feature = "gemini", feature = "candle")),
    allow(unused_macros)
)]
macro_rules! register_configured {
    (sampler, $name:expr, $summary:expr, $new:path, options = $options:expr $(,)?) => {
        register_configured!(@ sampler, RationaleSampler, next_core::sample::RationaleSampler, $name, $summary, $new, $options);
    };
    (trainer, $name:expr, $summary:expr, $new:path, options = $options:expr $(,)?) => {
        register_configured!(@ trainer, Trainer, next_core::train::Trainer, $name, $summary, $new, $options);
    };
    (@ $role:ident, $kind:ident, $trait:path, $name:expr, $summary:expr, $new:path, $options:expr) => {
        next_core::register_factory!(
            $role,
            $name,
            $summary,
            |options: &toml::Table,
             _cx: &next_core::registry::Context|
             -> Result<Box<dyn $trait>, next_core::registry::RegistryError> {
                use next_core::registry::{self, RegistryError, RoleKind};
                let config = registry::options(RoleKind::$kind, $name, options)?;
                let built = $new(config)
                    .map_err(|err| RegistryError::build(RoleKind::$kind, $name, err))?;
                Ok(Box::new(built))
            },
            options = $options,
        );
    };
}
