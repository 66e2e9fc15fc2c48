//! A library with the ABI version symbol and nothing else of the plugin ABI.
#![allow(unsafe_code)]

/// The right version, but the other functions are missing.
#[unsafe(no_mangle)]
pub extern "C" fn next_plugin_abi_version() -> u32 {
    1
}
