//! A plugin's shared library on the host's side: opening and checking it, reading its
//! manifest ([`open`]) and calling its exported functions ([`Library`]).
//!
//! The design decision: **a loaded library is leaked** (`&'static Library`, never
//! unloaded), so the functions it exports and the roles it built stay valid for the rest
//! of the process without reference counting, and its factories are `'static` registry
//! entries like compiled-in ones.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use super::abi::{self, Buffer};
use super::wire::{Manifest, Response, WireError, CORE_VERSION};
use super::{Direction, PluginError};

/// A plugin library, opened, checked and kept for the rest of the process.
pub(crate) struct Library {
    /// The canonical path of its file.
    pub(crate) path: &'static Path,
    build: abi::BuildFn,
    call: abi::CallFn,
    drop: abi::DropFn,
    free: abi::FreeFn,
    /// Kept so the library stays loaded; never dropped, since `Library` is leaked.
    _loaded: libloading::Library,
}

/// How a call into the plugin ended, short of a result.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The role returned this error.
    Role(WireError),
    /// The boundary failed: a panic, malformed JSON, a broken ABI.
    Plugin(PluginError),
}

impl Library {
    /// Reads a plugin-owned buffer into a vector and gives it back to the plugin.
    fn take(&self, buffer: Buffer) -> Vec<u8> {
        if buffer.ptr.is_null() {
            return Vec::new();
        }
        // SAFETY: the plugin ABI says a non-null buffer from the plugin points at `len`
        // initialised bytes that stay valid until handed to `free`, which happens once,
        // right after this copy.
        #[allow(unsafe_code)]
        let bytes = unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.len) }.to_vec();
        // SAFETY: the buffer came from this library and is freed once.
        #[allow(unsafe_code)]
        unsafe {
            (self.free)(buffer);
        }
        bytes
    }

    /// Decodes an answer of the call `call`: `Ok` bytes for [`abi::OK`], the error
    /// otherwise.
    fn answer(&self, call: &str, status: i32, bytes: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match status {
            abi::OK => Ok(bytes),
            abi::ROLE_ERROR => match serde_json::from_slice::<WireError>(&bytes) {
                Ok(error) => Err(CallError::Role(error)),
                Err(err) => Err(CallError::Plugin(self.malformed(call, &err.to_string()))),
            },
            abi::PANICKED => Err(CallError::Plugin(PluginError::Panicked {
                path: self.path.to_owned(),
                call: call.to_owned(),
                message: text(),
            })),
            abi::BAD_REQUEST => Err(CallError::Plugin(PluginError::Malformed {
                path: self.path.to_owned(),
                direction: Direction::ToPlugin,
                call: call.to_owned(),
                message: text(),
            })),
            other => Err(CallError::Plugin(
                self.protocol(call, format!("unknown status {other}")),
            )),
        }
    }

    /// A malformed-JSON error from the plugin in `call`.
    pub(crate) fn malformed(&self, call: &str, message: &str) -> PluginError {
        PluginError::Malformed {
            path: self.path.to_owned(),
            direction: Direction::FromPlugin,
            call: call.to_owned(),
            message: message.to_owned(),
        }
    }

    /// An ABI-breach error in `call`.
    pub(crate) fn protocol(&self, call: &str, message: impl Into<String>) -> PluginError {
        PluginError::Protocol {
            path: self.path.to_owned(),
            call: call.to_owned(),
            message: message.into(),
        }
    }

    /// Builds factory number `index` from its JSON options; the handle of the role.
    pub(crate) fn build(&self, index: u32, options: &[u8]) -> Result<*mut c_void, CallError> {
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut out = Buffer::empty();
        // SAFETY: `options` is valid for its length during the call; `instance` and
        // `out` are valid for writes; the function was checked to be the ABI's.
        #[allow(unsafe_code)]
        let status = unsafe {
            (self.build)(
                index,
                options.as_ptr(),
                options.len(),
                &raw mut instance,
                &raw mut out,
            )
        };
        let bytes = self.take(out);
        self.answer("build", status, bytes)?;
        if instance.is_null() {
            return Err(CallError::Plugin(self.protocol("build", "no role handle")));
        }
        Ok(instance)
    }

    /// One call of the role `instance`, blocking the calling thread until it returns.
    pub(crate) fn call(
        &self, instance: *const c_void, call: &str, request: &[u8],
    ) -> Result<Response, CallError> {
        let mut out = Buffer::empty();
        // SAFETY: `instance` is a live handle from `build` (dropped only with its
        // proxy), `request` is valid for its length during the call, `out` for a write.
        #[allow(unsafe_code)]
        let status =
            unsafe { (self.call)(instance, request.as_ptr(), request.len(), &raw mut out) };
        let bytes = self.take(out);
        let bytes = self.answer(call, status, bytes)?;
        serde_json::from_slice(&bytes)
            .map_err(|err| CallError::Plugin(self.malformed(call, &err.to_string())))
    }

    /// Drops the role `instance`.
    pub(crate) fn drop_instance(&self, instance: *mut c_void) {
        // SAFETY: `instance` is a live handle from `build`, dropped once, by its proxy.
        #[allow(unsafe_code)]
        unsafe {
            (self.drop)(instance);
        }
    }
}

/// Opens and checks the library at the canonical `path` and reads its manifest.
pub(crate) fn open(path: PathBuf) -> Result<(&'static Library, Manifest), PluginError> {
    // SAFETY: loading a library runs its initialisers; a plugin is code the user chose
    // to run in this process, as a compiled-in backend would be.
    #[allow(unsafe_code)]
    let library =
        unsafe { libloading::Library::new(&path) }.map_err(|source| PluginError::Open {
            path: path.clone(),
            source,
        })?;
    // SAFETY: the ABI version symbol is declared by the plugin ABI with this type; a
    // library that exports the name with another type breaks the ABI, which no check
    // can detect before calling it.
    #[allow(unsafe_code)]
    let version = unsafe { library.get::<abi::AbiVersionFn>(abi::ABI_VERSION_SYMBOL.as_bytes()) }
        .map(|symbol| *symbol)
        .map_err(|_| PluginError::NotAPlugin {
            path: path.clone(),
            symbol: abi::ABI_VERSION_SYMBOL,
        })?;
    // SAFETY: the function takes nothing and returns an integer.
    #[allow(unsafe_code)]
    let found = unsafe { version() };
    if found != abi::ABI_VERSION {
        return Err(PluginError::AbiVersion {
            path,
            found,
            expected: abi::ABI_VERSION,
        });
    }
    let manifest_fn: abi::ManifestFn = symbol(&library, &path, abi::MANIFEST)?;
    let library = Library {
        build: symbol(&library, &path, abi::BUILD)?,
        call: symbol(&library, &path, abi::CALL)?,
        drop: symbol(&library, &path, abi::DROP)?,
        free: symbol(&library, &path, abi::FREE)?,
        path: Box::leak(path.into_boxed_path()),
        _loaded: library,
    };
    let library: &'static Library = Box::leak(Box::new(library));
    let mut out = Buffer::empty();
    // SAFETY: `out` is valid for a write; the function is the ABI's manifest function.
    #[allow(unsafe_code)]
    let status = unsafe { manifest_fn(&raw mut out) };
    let bytes = library.take(out);
    let bytes = library
        .answer("manifest", status, bytes)
        .map_err(|err| match err {
            CallError::Plugin(err) => err,
            CallError::Role(err) => library.protocol("manifest", err.message),
        })?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|err| library.malformed("manifest", &err.to_string()))?;
    if manifest.core_version != CORE_VERSION {
        return Err(PluginError::CoreVersion {
            path: library.path.to_owned(),
            plugin: manifest.core_version,
            host: CORE_VERSION.to_owned(),
        });
    }
    Ok((library, manifest))
}

/// The function `name` of `library`, of the ABI's type `F`.
fn symbol<F: Copy>(
    library: &libloading::Library, path: &Path, name: &'static str,
) -> Result<F, PluginError> {
    // SAFETY: each name is declared by the plugin ABI with the type the caller asks for
    // (see `abi`); the pointer is used only while the library stays loaded, which is
    // forever.
    #[allow(unsafe_code)]
    let found = unsafe { library.get::<F>(name.as_bytes()) };
    found
        .map(|symbol| *symbol)
        .map_err(|source| PluginError::MissingSymbol {
            path: path.to_owned(),
            symbol: name,
            source,
        })
}
