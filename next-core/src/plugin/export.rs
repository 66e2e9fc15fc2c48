//! [`export_plugin!`](crate::export_plugin): the exported functions of a plugin, written
//! for its author.
//!
//! The design decision: **a plugin names ordinary [`Factory`](crate::registry::Factory)
//! values**, the very ones a compiled-in backend registers, so one builder function
//! serves both ways of shipping a backend, and the macro's only job is the five
//! `extern "C"` shells over [`guest`](super::guest).

/// Writes the exported functions of a plugin (a crate of type `cdylib`) that offers the
/// listed factories, in order.
///
/// ```
/// use next_core::registry::{no_options, Context, Factory, OptionDoc, RegistryError, RoleKind};
/// use next_core::render::{NoneRenderer, TraceRenderer};
///
/// fn build_plain(
///     options: &toml::Table,
///     _cx: &Context,
/// ) -> Result<Box<dyn TraceRenderer>, RegistryError> {
///     no_options(RoleKind::TraceRenderer, "plain", options)?;
///     Ok(Box::new(NoneRenderer))
/// }
///
/// next_core::export_plugin![
///     Factory::renderer("plain", "the program alone", build_plain)
///         .with_options(&[OptionDoc::new("width", "80", "an example key")]),
/// ];
///
/// fn main() {
///     // What the host calls first, then the manifest it reads.
///     assert_eq!(next_plugin_abi_version(), next_core::plugin::ABI_VERSION);
///     let mut out = next_core::plugin::abi::Buffer::empty();
///     // SAFETY: `out` is valid for a write; the buffer is handed back to the plugin.
///     let status = unsafe { next_plugin_manifest(&raw mut out) };
///     assert_eq!(status, next_core::plugin::abi::OK);
///     // SAFETY: `out` points at `len` bytes the plugin wrote.
///     let json = unsafe { std::slice::from_raw_parts(out.ptr, out.len) };
///     let manifest: next_core::plugin::wire::Manifest = serde_json::from_slice(json).unwrap();
///     assert_eq!(manifest.factories[0].name, "plain");
///     // SAFETY: the buffer came from `next_plugin_manifest` and is freed once.
///     unsafe { next_plugin_free(out) };
/// }
/// ```
///
/// The builders are ordinary builders of the registry (`fn(&toml::Table, &Context) ->
/// Result<Box<dyn Verifier>, RegistryError>`, ...); they are given an empty
/// [`Context`](crate::registry::Context) (a plugin that runs code brings its own
/// sandbox). Use it once per crate, at module level.
#[macro_export]
macro_rules! export_plugin {
    ($($factory:expr),+ $(,)?) => {
        /// The factories this plugin exports, in the order the host numbers them.
        static NEXT_PLUGIN_FACTORIES: &[$crate::factory::Factory] = &[$($factory),+];

        /// The plugin ABI version this library was built for.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub extern "C" fn next_plugin_abi_version() -> u32 {
            $crate::plugin::abi::ABI_VERSION
        }

        /// Writes the plugin's manifest (JSON) into `out`.
        ///
        /// # Safety
        /// `out` is null or valid for a write.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_manifest(out: *mut $crate::plugin::abi::Buffer) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_manifest(NEXT_PLUGIN_FACTORIES, out) }
        }

        /// Builds factory number `factory` from its JSON options.
        ///
        /// # Safety
        /// As the plugin ABI says: `options` valid for `options_len` bytes, `instance`
        /// and `out` valid for writes.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_build(
            factory: u32,
            options: *const u8,
            options_len: usize,
            instance: *mut *mut ::std::ffi::c_void,
            out: *mut $crate::plugin::abi::Buffer,
        ) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe {
                $crate::plugin::guest::export_build(
                    NEXT_PLUGIN_FACTORIES, factory, options, options_len, instance, out,
                )
            }
        }

        /// One call of a built role.
        ///
        /// # Safety
        /// As the plugin ABI says: a live `instance`, `request` valid for `request_len`
        /// bytes, `out` valid for a write.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_call(
            instance: *const ::std::ffi::c_void,
            request: *const u8,
            request_len: usize,
            out: *mut $crate::plugin::abi::Buffer,
        ) -> i32 {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_call(instance, request, request_len, out) }
        }

        /// Drops a built role.
        ///
        /// # Safety
        /// `instance` came from `next_plugin_build` and is dropped once.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_drop(instance: *mut ::std::ffi::c_void) {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_drop(instance) }
        }

        /// Frees a buffer this library returned.
        ///
        /// # Safety
        /// `buffer` came from this library and is freed once.
        #[unsafe(no_mangle)]
        #[allow(unsafe_code)]
        pub unsafe extern "C" fn next_plugin_free(buffer: $crate::plugin::abi::Buffer) {
            // SAFETY: forwarded from the host, which follows the plugin ABI.
            unsafe { $crate::plugin::guest::export_free(buffer) }
        }
    };
}
