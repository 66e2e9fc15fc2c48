//! A library that claims another plugin ABI version.
#![allow(unsafe_code)]

/// Not this host's version.
#[unsafe(no_mangle)]
pub extern "C" fn next_plugin_abi_version() -> u32 {
    999
}
