//! The plugin's side of the boundary: what the functions that
//! [`export_plugin!`](crate::export_plugin) writes call, over the plugin's own list of
//! [`Factory`]s.
//!
//! The design decision: **every exported function is a thin `extern "C"` shell around a
//! safe function of this module, run under `catch_unwind`**, so no panic unwinds into
//! the host and all the plugin-side logic (decoding, building, dispatching, running
//! async roles on the plugin's own runtime) is ordinary Rust that tests call directly.

use std::any::Any;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::factory::{AnyRole, Context, Factory};
use crate::observe::NoObserver;
use crate::train::TrainContext;

use super::abi::{self, Buffer};
use super::wire::{FactoryInfo, Manifest, OptionInfo, Request, Response, WireError, CORE_VERSION};

/// The status and the bytes of one answer to the host.
pub type Answer = (i32, Vec<u8>);

/// A built role, as the plugin holds it behind the handle it gives the host.
pub struct Instance {
    role: AnyRole,
}

/// The manifest of `factories`, as JSON.
pub fn manifest(factories: &[Factory]) -> Answer {
    let manifest = Manifest {
        core_version: CORE_VERSION.to_owned(),
        factories: factories
            .iter()
            .map(|factory| FactoryInfo {
                role: factory.role().as_str().to_owned(),
                name: factory.name().to_owned(),
                summary: factory.summary().to_owned(),
                options: factory
                    .options()
                    .iter()
                    .map(|doc| OptionInfo {
                        key: doc.key.to_owned(),
                        default: doc.default.to_owned(),
                        summary: doc.summary.to_owned(),
                    })
                    .collect(),
            })
            .collect(),
    };
    json_answer(abi::OK, &manifest)
}

/// Builds factory number `index` of `factories` from `options` (a JSON object).
///
/// # Errors
/// The status and message to return to the host: [`abi::BAD_REQUEST`] for an unknown
/// factory or malformed options, [`abi::ROLE_ERROR`] when the builder failed.
pub fn build(factories: &[Factory], index: u32, options: &[u8]) -> Result<Box<Instance>, Answer> {
    let factory = usize::try_from(index)
        .ok()
        .and_then(|index| factories.get(index))
        .ok_or_else(|| {
            bad_request(&format!(
                "no factory number {index}; the plugin has {}",
                factories.len()
            ))
        })?;
    let options: toml::Table = serde_json::from_slice(options)
        .map_err(|err| bad_request(&format!("malformed options: {err}")))?;
    match factory.builder().build(&options, &Context::new()) {
        Ok(role) => Ok(Box::new(Instance { role })),
        Err(err) => Err(json_answer(abi::ROLE_ERROR, &WireError::from(err))),
    }
}

/// One call of `instance`, from its JSON request.
pub fn call(instance: &Instance, request: &[u8]) -> Answer {
    let request: Request<'static> = match serde_json::from_slice(request) {
        Ok(request) => request,
        Err(err) => return bad_request(&format!("malformed request: {err}")),
    };
    let result = match (&instance.role, request) {
        (AnyRole::Sandbox(sandbox), Request::Run { job }) => {
            block_on(sandbox.run(job.into())).map(|r| r.map(Response::Executed))
        }
        (AnyRole::Sandbox(sandbox), Request::Preload { name, source }) => {
            block_on(sandbox.preload(&name, &source)).map(|r| r.map(Response::Preloaded))
        }
        (AnyRole::Tracer(tracer), Request::Trace { program, tests }) => {
            block_on(tracer.trace(&program, &tests)).map(|r| r.map(Response::Traced))
        }
        (AnyRole::TraceRenderer(renderer), Request::Describe) => Ok(Ok(Response::Described {
            name: renderer.name().to_owned(),
            shows_execution: renderer.shows_execution(),
            legend: renderer.legend().to_owned(),
        })),
        (
            AnyRole::TraceRenderer(renderer),
            Request::Render {
                program,
                tests,
                traces,
            },
        ) => Ok(Ok(Response::Rendered(
            renderer.render(&program, &tests, &traces),
        ))),
        (
            AnyRole::RationaleSampler(sampler),
            Request::Sample {
                model,
                prompt,
                n,
                params,
            },
        ) => {
            block_on(sampler.sample(&model, &prompt, n, &params)).map(|r| r.map(Response::Sampled))
        }
        (AnyRole::Verifier(verifier), Request::Verify { program, tests }) => {
            block_on(verifier.verify(&program, &tests)).map(|r| r.map(Response::Verified))
        }
        (
            AnyRole::Trainer(trainer),
            Request::Train {
                base,
                examples,
                out,
                state,
                iteration,
            },
        ) => {
            let cx = match &state {
                Some(state) => TrainContext::for_iteration(&out, state, iteration, &NoObserver),
                None => TrainContext::new(&out),
            };
            block_on(trainer.train(&base, &examples, &cx)).map(|r| r.map(Response::Trained))
        }
        (role, request) => {
            return bad_request(&format!(
                "a {} cannot answer a `{}` call",
                role.role(),
                request.name()
            ))
        }
    };
    match result {
        Err(message) => (
            abi::ROLE_ERROR,
            wire_bytes(&WireError::new("other", message)),
        ),
        Ok(Ok(response)) => json_answer(abi::OK, &response),
        Ok(Err(error)) => json_answer(abi::ROLE_ERROR, &error),
    }
}

/// Runs `future` to its end on the plugin's runtime (a multi-threaded tokio runtime
/// made on first use), converting the role's error for the wire; `Err` when the
/// runtime cannot be made.
fn block_on<T, E: Into<WireError>>(
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Result<T, WireError>, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("next-plugin")
            .build()
            .map_err(|err| format!("the plugin cannot start its async runtime: {err}"))
    });
    match runtime {
        Ok(runtime) => Ok(runtime.block_on(future).map_err(Into::into)),
        Err(message) => Err(message.clone()),
    }
}

/// Runs `f` and turns a panic into a [`abi::PANICKED`] answer with its message.
pub fn guard(f: impl FnOnce() -> Answer) -> Answer {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|panic| (abi::PANICKED, panic_message(&*panic).into_bytes()))
}

/// A panic payload's message.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        format!("panicked: {text}")
    } else if let Some(text) = panic.downcast_ref::<String>() {
        format!("panicked: {text}")
    } else {
        "panicked".to_owned()
    }
}

fn bad_request(message: &str) -> Answer {
    (abi::BAD_REQUEST, message.as_bytes().to_vec())
}

fn json_answer(status: i32, value: &impl serde::Serialize) -> Answer {
    match serde_json::to_vec(value) {
        Ok(bytes) => (status, bytes),
        Err(err) => (
            abi::ROLE_ERROR,
            wire_bytes(&WireError::new(
                "other",
                format!("cannot encode the result: {err}"),
            )),
        ),
    }
}

fn wire_bytes(error: &WireError) -> Vec<u8> {
    // A `WireError` is strings only, which always serialise.
    serde_json::to_vec(error).unwrap_or_default()
}

// --- The exported functions' bodies ------------------------------------------------

/// Writes `answer`'s bytes into `out` and returns its status.
///
/// # Safety
/// `out` is null or valid for a write of a [`Buffer`].
#[allow(unsafe_code)]
unsafe fn reply(out: *mut Buffer, (status, bytes): Answer) -> i32 {
    if !out.is_null() {
        // SAFETY: the caller guarantees `out` is valid for a write; the buffer written
        // owns `bytes`, which the host returns to `export_free`.
        unsafe { out.write(Buffer::from_vec(bytes)) };
    }
    status
}

/// The body of `next_plugin_manifest`.
///
/// # Safety
/// `out` is null or valid for a write of a [`Buffer`].
#[allow(unsafe_code)]
pub unsafe fn export_manifest(factories: &[Factory], out: *mut Buffer) -> i32 {
    let answer = guard(|| manifest(factories));
    // SAFETY: forwarded from the caller.
    unsafe { reply(out, answer) }
}

/// The body of `next_plugin_build`.
///
/// # Safety
/// `options` is valid for reads of `options_len` bytes; `instance` and `out` are null or
/// valid for writes.
#[allow(unsafe_code)]
pub unsafe fn export_build(
    factories: &[Factory], index: u32, options: *const u8, options_len: usize,
    instance: *mut *mut c_void, out: *mut Buffer,
) -> i32 {
    if options.is_null() || instance.is_null() {
        // SAFETY: forwarded from the caller.
        return unsafe { reply(out, bad_request("null options or instance pointer")) };
    }
    // SAFETY: the caller guarantees `options` is valid for `options_len` bytes, which
    // the host keeps alive for this call.
    let options = unsafe { std::slice::from_raw_parts(options, options_len) };
    let answer = guard(|| match build(factories, index, options) {
        Ok(built) => {
            // SAFETY: `instance` is non-null and the caller guarantees it is writable;
            // the host hands the pointer back to `export_drop` exactly once.
            unsafe { instance.write(Box::into_raw(built).cast::<c_void>()) };
            (abi::OK, Vec::new())
        }
        Err(answer) => answer,
    });
    // SAFETY: forwarded from the caller.
    unsafe { reply(out, answer) }
}

/// The body of `next_plugin_call`.
///
/// # Safety
/// `instance` came from [`export_build`] and was not dropped; `request` is valid for
/// reads of `request_len` bytes; `out` is null or valid for a write.
#[allow(unsafe_code)]
pub unsafe fn export_call(
    instance: *const c_void, request: *const u8, request_len: usize, out: *mut Buffer,
) -> i32 {
    if instance.is_null() || request.is_null() {
        // SAFETY: forwarded from the caller.
        return unsafe { reply(out, bad_request("null instance or request pointer")) };
    }
    // SAFETY: the caller guarantees `instance` is a live `Instance` from `export_build`
    // (shared: roles are `Sync`) and `request` is valid for `request_len` bytes.
    let (instance, request) = unsafe {
        (
            &*instance.cast::<Instance>(),
            std::slice::from_raw_parts(request, request_len),
        )
    };
    let answer = guard(|| call(instance, request));
    // SAFETY: forwarded from the caller.
    unsafe { reply(out, answer) }
}

/// The body of `next_plugin_drop`.
///
/// # Safety
/// `instance` came from [`export_build`] and is dropped only once.
#[allow(unsafe_code)]
pub unsafe fn export_drop(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: the caller guarantees `instance` is a live `Instance` from `export_build`,
    // dropped here once; a panic in a role's `Drop` stays in the plugin.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        drop(Box::from_raw(instance.cast::<Instance>()));
    }));
}

/// The body of `next_plugin_free`.
///
/// # Safety
/// `buffer` was returned by one of this library's exported functions and is freed once.
#[allow(unsafe_code)]
pub unsafe fn export_free(buffer: Buffer) {
    // SAFETY: the caller guarantees the buffer came from `Buffer::from_vec` here.
    drop(unsafe { buffer.into_vec() });
}
