//! The C ABI between a host and a plugin: the exported symbols, their signatures, the
//! [`Buffer`] that carries JSON out of the plugin, and the status codes of a call.
//!
//! The design decision: **five functions and one buffer type, nothing else crosses**.
//! Every request, result and error is JSON (serde's form of the core types, see
//! [`wire`](super::wire)); the host lends its request bytes for the length of a call
//! (pointer and length, freed by the host), and the plugin hands back a [`Buffer`] it
//! allocated, which the host copies and returns to [`FREE`] (freed by the plugin). So
//! two allocators, or two compilers, never meet, and a Rust struct layout never crosses.

use std::ffi::c_void;

/// The version of this ABI: the symbols, their signatures and the status codes. A
/// plugin exporting another version is refused before anything else is called.
pub const ABI_VERSION: u32 = 1;

/// `extern "C" fn() -> u32`: the plugin's [`ABI_VERSION`]. Its presence is what makes a
/// shared library a plugin.
pub const ABI_VERSION_SYMBOL: &str = "next_plugin_abi_version";
/// [`ManifestFn`]: the plugin's manifest, JSON.
pub const MANIFEST: &str = "next_plugin_manifest";
/// [`BuildFn`]: builds one of the plugin's factories' roles.
pub const BUILD: &str = "next_plugin_build";
/// [`CallFn`]: one call of a built role.
pub const CALL: &str = "next_plugin_call";
/// [`DropFn`]: drops a built role.
pub const DROP: &str = "next_plugin_drop";
/// [`FreeFn`]: frees a [`Buffer`] the plugin returned.
pub const FREE: &str = "next_plugin_free";

/// The call succeeded; the buffer holds its JSON result.
pub const OK: i32 = 0;
/// The role returned its error; the buffer holds it as a JSON
/// [`WireError`](super::wire::WireError).
pub const ROLE_ERROR: i32 = 1;
/// The plugin panicked; the buffer holds the panic's message, UTF-8.
pub const PANICKED: i32 = 2;
/// The plugin could not read the request (malformed JSON, an unknown factory, a call
/// of another role); the buffer holds why, UTF-8.
pub const BAD_REQUEST: i32 = 3;

/// Bytes allocated by the plugin and handed to the host, which reads them and gives them
/// back to the plugin's [`FREE`]. The parts of a `Vec<u8>`.
#[repr(C)]
#[derive(Debug)]
pub struct Buffer {
    /// The first byte (dangling but non-null when empty).
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
    /// The allocation's capacity, which only the plugin reads.
    pub cap: usize,
}

impl Buffer {
    /// An empty buffer, which owns nothing: what the host hands a call to fill.
    pub const fn empty() -> Self {
        Self {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// The buffer owning `bytes`; [`Buffer::into_vec`] gives them back.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        Self {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// The bytes of a buffer made by [`Buffer::from_vec`] in this same library; `None`
    /// for an empty one.
    ///
    /// # Safety
    /// The buffer must come from [`Buffer::from_vec`] of this library (the same
    /// allocator), and not have been turned back into a vector before.
    #[allow(unsafe_code)]
    pub unsafe fn into_vec(self) -> Option<Vec<u8>> {
        if self.ptr.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees the parts are those of a `Vec<u8>` allocated by
        // this library's allocator and not yet reclaimed.
        Some(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) })
    }
}

/// `next_plugin_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `next_plugin_manifest(out) -> status`: writes the manifest into `out`.
pub type ManifestFn = unsafe extern "C" fn(out: *mut Buffer) -> i32;
/// `next_plugin_build(factory, options, options_len, instance, out) -> status`: builds the
/// role of the manifest's factory number `factory` from its options (a JSON object),
/// writing the role's handle into `instance`; on failure `out` holds why.
pub type BuildFn = unsafe extern "C" fn(
    factory: u32,
    options: *const u8,
    options_len: usize,
    instance: *mut *mut c_void,
    out: *mut Buffer,
) -> i32;
/// `next_plugin_call(instance, request, request_len, out) -> status`: one call of a built
/// role; the request and the result are JSON.
pub type CallFn = unsafe extern "C" fn(
    instance: *const c_void,
    request: *const u8,
    request_len: usize,
    out: *mut Buffer,
) -> i32;
/// `next_plugin_drop(instance)`: drops a built role.
pub type DropFn = unsafe extern "C" fn(instance: *mut c_void);
/// `next_plugin_free(buffer)`: frees a buffer the plugin returned.
pub type FreeFn = unsafe extern "C" fn(buffer: Buffer);
