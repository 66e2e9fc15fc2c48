//! Every broken library is refused, or its calls fail, with an error naming the file and
//! what is wrong; none crashes the test.

use std::path::Path;

use next_core::plugin::{self, Direction, PluginError};
use next_core::registry::{self, Context};
use next_core::task::{Program, TestCase};
use next_core::verify::VerifyError;

use super::build;

/// Loads `path`, which must fail; the error, checked to name the file.
fn refused(path: &Path) -> PluginError {
    let err = plugin::load(path).expect_err("the library was accepted");
    let message = next_core::error::chain(&err);
    let file = path.file_name().unwrap().to_string_lossy();
    assert!(message.contains(&*file), "{message}");
    err
}

#[test]
fn a_missing_file_is_refused() {
    let err = refused(Path::new("/nonexistent/libnothing.so"));
    assert!(matches!(err, PluginError::Missing { .. }), "{err}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libtext.so");
    std::fs::write(&path, "not a shared library\n").unwrap();
    let err = refused(&path);
    assert!(matches!(err, PluginError::Open { .. }), "{err}");
}

#[test]
fn a_library_that_is_not_a_plugin_is_refused() {
    let err = refused(&build::broken("not_a_plugin"));
    assert!(
        matches!(err, PluginError::NotAPlugin { symbol, .. } if symbol == "next_plugin_abi_version"),
        "{err}"
    );
    assert!(err.to_string().contains("is not a NExT plugin"), "{err}");
}

#[test]
fn a_plugin_of_another_abi_version_is_refused() {
    let err = refused(&build::broken("broken_abi_version"));
    assert!(
        matches!(
            err,
            PluginError::AbiVersion {
                found: 999,
                expected: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_plugin_lacking_a_symbol_is_refused() {
    let err = refused(&build::broken("broken_missing_symbol"));
    assert!(
        matches!(err, PluginError::MissingSymbol { symbol, .. } if symbol == "next_plugin_manifest"),
        "{err}"
    );
}

#[test]
fn a_plugin_built_against_another_core_is_refused() {
    let err = refused(&build::broken("broken_core_version"));
    let PluginError::CoreVersion { plugin, host, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(plugin, "0.0.1-elsewhere");
    assert_eq!(host, plugin::CORE_VERSION);
}

#[test]
fn a_malformed_manifest_is_refused() {
    let err = refused(&build::broken("broken_manifest_json"));
    assert!(
        matches!(&err, PluginError::Malformed { direction: Direction::FromPlugin, call, .. } if call == "manifest"),
        "{err}"
    );
}

#[test]
fn malformed_json_either_way_is_an_error_of_the_call() {
    let path = build::broken("broken_result_json");
    plugin::load(&path).unwrap();
    let verifier = registry::verifier("broken-json", &toml::Table::new(), &Context::new()).unwrap();
    let program = Program::new("x = 1\n");
    let tests = [TestCase::new("assert x == 1").unwrap()];
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    // The plugin answers garbage, then says it could not read the request.
    for expected in [Direction::FromPlugin, Direction::ToPlugin] {
        let err = super::common::block_on(verifier.verify(&program, &tests))
            .err()
            .unwrap();
        let VerifyError::Backend(source) = &err else {
            panic!("not a backend error: {err}");
        };
        let plugin_err = source.downcast_ref::<PluginError>().unwrap();
        assert!(
            matches!(plugin_err, PluginError::Malformed { direction, call, .. } if *direction == expected && call == "verify"),
            "{plugin_err}"
        );
        let message = next_core::error::chain(&err);
        assert!(message.contains(&file), "{message}");
    }
}
