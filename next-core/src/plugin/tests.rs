#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::abi;
use super::guest::{build, call, manifest, Answer};
use super::wire::{Manifest, Request, Response, WireError};
use crate::factory::{no_options, Context, Factory, OptionDoc, RegistryError, RoleKind};
use crate::render::{NoneRenderer, TraceRenderer};
use crate::task::Program;

fn build_none(
    options: &toml::Table, _cx: &Context,
) -> Result<Box<dyn TraceRenderer>, RegistryError> {
    no_options(RoleKind::TraceRenderer, "plain", options)?;
    Ok(Box::new(NoneRenderer))
}

static FACTORIES: &[Factory] = &[Factory::renderer("plain", "the program", build_none)
    .with_options(&[OptionDoc::new("unused", "1", "nothing")])];

fn text((status, bytes): &Answer) -> (i32, String) {
    (*status, String::from_utf8_lossy(bytes).into_owned())
}

#[test]
fn the_manifest_lists_the_factories_and_this_core_version() {
    let (status, bytes) = manifest(FACTORIES);
    assert_eq!(status, abi::OK);
    let manifest: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest.core_version, super::CORE_VERSION);
    assert_eq!(manifest.factories.len(), 1);
    assert_eq!(manifest.factories[0].role, "renderer");
    assert_eq!(manifest.factories[0].options[0].key, "unused");
}

#[test]
fn the_plugin_side_refuses_what_it_cannot_read() {
    // An unknown factory number, options that are not JSON.
    let err = build(FACTORIES, 3, b"{}").err().unwrap();
    assert_eq!(err.0, abi::BAD_REQUEST);
    assert!(text(&err).1.contains("no factory number 3"));
    let err = build(FACTORIES, 0, b"{not json").err().unwrap();
    assert_eq!(err.0, abi::BAD_REQUEST);
    assert!(text(&err).1.starts_with("malformed options"));
    // The builder's own error crosses as a role error of kind `options`.
    let err = build(FACTORIES, 0, br#"{"colour": 1}"#).err().unwrap();
    assert_eq!(err.0, abi::ROLE_ERROR);
    let wire: WireError = serde_json::from_slice(&err.1).unwrap();
    assert_eq!(wire.kind, "options");
    assert!(wire.message.contains("colour"), "{}", wire.message);

    let instance = build(FACTORIES, 0, b"{}").ok().unwrap();
    // A request that is not JSON, or not a request.
    let (status, message) = text(&call(&instance, b"{\"call\": \"render\""));
    assert_eq!(status, abi::BAD_REQUEST);
    assert!(message.starts_with("malformed request"), "{message}");
    let (status, message) = text(&call(&instance, br#"{"call": "fly"}"#));
    assert_eq!(status, abi::BAD_REQUEST);
    assert!(message.contains("fly"), "{message}");
    // A call of another role.
    let request = serde_json::to_vec(&Request::Verify {
        program: std::borrow::Cow::Owned(Program::new("x = 1\n")),
        tests: std::borrow::Cow::Owned(Vec::new()),
    })
    .unwrap();
    let (status, message) = text(&call(&instance, &request));
    assert_eq!(status, abi::BAD_REQUEST);
    assert_eq!(message, "a renderer cannot answer a `verify` call");
    // The call it can answer.
    let request = serde_json::to_vec(&Request::Render {
        program: std::borrow::Cow::Owned(Program::new("x = 1\n\n")),
        tests: std::borrow::Cow::Owned(Vec::new()),
        traces: std::borrow::Cow::Owned(Vec::new()),
    })
    .unwrap();
    let (status, bytes) = call(&instance, &request);
    assert_eq!(status, abi::OK);
    let response: Response = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(response, Response::Rendered("x = 1\n".to_owned()));
}

#[test]
fn a_panic_is_caught_with_its_message() {
    let (status, bytes) = super::guest::guard(|| panic!("boom {}", 7));
    assert_eq!(status, abi::PANICKED);
    assert_eq!(String::from_utf8(bytes).unwrap(), "panicked: boom 7");
}
