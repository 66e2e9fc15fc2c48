//! What builders call to read their options: [`options`] into a struct, [`configured`]
//! to make the role from it, [`no_options`] when they take none.

use serde::de::DeserializeOwned;

use crate::error::BoxError;

use super::{RegistryError, RoleKind};

/// For builders: deserializes the options of the `role` factory `name` into `T`.
///
/// Mark `T` with `#[serde(deny_unknown_fields)]` so that a misspelled key is reported
/// instead of ignored, and with `#[serde(default)]` where every option has a default.
///
/// # Errors
/// [`RegistryError::Options`] naming the role, the factory and what the deserializer
/// found wrong (the unknown or missing field, or the wrong type or value and the key
/// that holds it), on one line.
pub fn options<T: DeserializeOwned>(
    role: RoleKind, name: &str, table: &toml::Table,
) -> Result<T, RegistryError> {
    table.clone().try_into().map_err(|err: toml::de::Error| {
        RegistryError::options(role, name, crate::error::one_line(&err.to_string()))
    })
}

/// For builders of factories that take no options: checks that there are none.
///
/// # Errors
/// [`RegistryError::Options`] naming the unexpected keys.
pub fn no_options(role: RoleKind, name: &str, table: &toml::Table) -> Result<(), RegistryError> {
    if table.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = table.keys().map(|key| format!("`{key}`")).collect();
    Err(RegistryError::options(
        role,
        name,
        format!("unknown option {}; it takes none", keys.join(", ")),
    ))
}

/// For builders of factories configured by one struct: deserializes the options into `C`
/// (as [`options`]) and makes the role with `new`, whose error becomes the factory's
/// [`RegistryError::Build`].
///
/// ```
/// use next_core::registry::{self, Context, RegistryError, RoleKind};
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
/// fn build(options: &toml::Table, _cx: &Context) -> Result<Box<dyn TraceRenderer>, RegistryError> {
///     Ok(Box::new(registry::configured(RoleKind::TraceRenderer, "plain", options, new)?))
/// }
///
/// let cx = Context::new();
/// assert!(build(&toml::from_str("width = 80").unwrap(), &cx).is_ok());
/// let err = build(&toml::from_str("width = 0").unwrap(), &cx).err().unwrap();
/// assert!(matches!(err, RegistryError::Build { .. }));
/// let err = build(&toml::from_str("widht = 80").unwrap(), &cx).err().unwrap();
/// assert!(matches!(err, RegistryError::Options { .. }));
/// ```
///
/// # Errors
/// [`RegistryError::Options`] as [`options`] returns it, [`RegistryError::Build`] holding
/// the error of `new`.
pub fn configured<C, T, E>(
    role: RoleKind, name: &str, table: &toml::Table, new: impl FnOnce(C) -> Result<T, E>,
) -> Result<T, RegistryError>
where
    C: DeserializeOwned,
    E: Into<BoxError>,
{
    new(options(role, name, table)?).map_err(|err| RegistryError::build(role, name, err))
}
