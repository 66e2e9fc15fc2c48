//! A shared library that exports something, but nothing of the plugin ABI.
#![allow(unsafe_code)]

/// Adds two numbers.
#[unsafe(no_mangle)]
pub extern "C" fn add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}
