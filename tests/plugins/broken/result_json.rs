//! A plugin whose one verifier answers its calls alternately with malformed JSON and with
//! "bad request" (the plugin could not read the host's JSON), starting with the former.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

const MANIFEST: &str = concat!(
    r#"{"core_version":""#,
    env!("CARGO_PKG_VERSION"),
    r#"","factories":[{"role":"verifier","name":"broken-json","summary":"answers with garbage"}]}"#
);

static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Even calls: a result that is not JSON; odd calls: "bad request" (status 3).
fn answer() -> (i32, &'static [u8]) {
    if CALLS.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
        (0, b"{\"result\": \"verified\", \"value\": ")
    } else {
        (3, b"malformed request: expected value at line 1 column 1")
    }
}

include!("common.rs");
