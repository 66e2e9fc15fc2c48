//! A plugin built against another version of next-core.
#![allow(unsafe_code)]

const MANIFEST: &str = r#"{"core_version":"0.0.1-elsewhere","factories":[]}"#;

fn answer() -> (i32, &'static [u8]) {
    (0, b"{}")
}

include!("common.rs");
