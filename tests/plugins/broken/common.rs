// The plugin ABI written out by hand, with a manifest and answers chosen by the
// including file (which defines `MANIFEST` and `answer`). Included, not a module, so each
// broken library is one file.

use std::ffi::c_void;

/// `abi::Buffer`.
#[repr(C)]
pub struct Buffer {
    ptr: *mut u8,
    len: usize,
    cap: usize,
}

fn buffer(bytes: Vec<u8>) -> Buffer {
    let mut bytes = std::mem::ManuallyDrop::new(bytes);
    Buffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        cap: bytes.capacity(),
    }
}

/// The version of the plugin ABI.
#[unsafe(no_mangle)]
pub extern "C" fn next_plugin_abi_version() -> u32 {
    1
}

/// Writes `MANIFEST`.
///
/// # Safety
/// `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn next_plugin_manifest(out: *mut Buffer) -> i32 {
    // SAFETY: the host passes a writable buffer.
    unsafe { out.write(buffer(MANIFEST.as_bytes().to_vec())) };
    0
}

/// Builds anything: a dummy non-null handle.
///
/// # Safety
/// `instance` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn next_plugin_build(
    _factory: u32, _options: *const u8, _len: usize, instance: *mut *mut c_void,
    _out: *mut Buffer,
) -> i32 {
    // SAFETY: the host passes a writable pointer; the handle is never dereferenced.
    unsafe { instance.write(std::ptr::NonNull::<u8>::dangling().as_ptr().cast()) };
    0
}

/// Answers with `answer()`.
///
/// # Safety
/// `out` is valid for a write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn next_plugin_call(
    _instance: *const c_void, _request: *const u8, _len: usize, out: *mut Buffer,
) -> i32 {
    let (status, bytes) = answer();
    // SAFETY: the host passes a writable buffer.
    unsafe { out.write(buffer(bytes.to_vec())) };
    status
}

/// Drops nothing.
#[unsafe(no_mangle)]
pub extern "C" fn next_plugin_drop(_instance: *mut c_void) {}

/// Frees a buffer made by `buffer`.
///
/// # Safety
/// `buffer` came from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn next_plugin_free(buffer: Buffer) {
    // SAFETY: the parts are those of a vector this library made.
    drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
}
