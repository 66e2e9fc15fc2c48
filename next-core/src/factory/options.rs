//! What builders call to read their options: [`options`] into a struct, [`no_options`]
//! when they take none.

use serde::de::DeserializeOwned;

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
        RegistryError::options(role, name, one_line(&err.to_string()))
    })
}

/// A deserializer's message on one line. For a wrong value, `toml`'s `Display` adds the
/// key path on a line of its own (``in `skill` ``), which its `message()` lacks.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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
