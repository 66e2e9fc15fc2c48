//! The option docs every factory of the crate declares (what `next plugins list` shows)
//! agree with the options it reads: the same keys, and the defaults its configuration
//! struct has.
#![allow(clippy::unwrap_used)]

use next_core::registry::{self, check_option_docs, options_as_json, RoleKind};
use next_verifiers::process::ProcessConfig;
use next_verifiers::TestVerifierConfig;

/// Checks the docs of the `role` factory `name` against the options struct `T`.
fn check<T: serde::Serialize + serde::de::DeserializeOwned>(role: RoleKind, name: &str) {
    let factory = registry::find(role, name).unwrap();
    if let Err(problems) =
        check_option_docs(factory.options(), &toml::Table::new(), options_as_json::<T>)
    {
        panic!("{role} `{name}`:\n{problems}");
    }
}

#[test]
fn every_factory_documents_exactly_its_options_and_their_defaults() {
    check::<ProcessConfig>(RoleKind::Sandbox, "process");
    check::<TestVerifierConfig>(RoleKind::Verifier, "tests");
    #[cfg(feature = "docker")]
    check::<next_verifiers::docker::DockerConfig>(RoleKind::Sandbox, "docker");
    #[cfg(feature = "wasm")]
    check::<next_verifiers::wasm::WasmConfig>(RoleKind::Sandbox, "wasm");
}
