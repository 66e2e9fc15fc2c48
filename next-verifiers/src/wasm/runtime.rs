//! [`Loaded`]: the engine, the compiled module, its linked imports and the epoch ticker,
//! made once and shared by every sandbox of the process that runs the same module with
//! the same engine settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use wasmtime::{Cache, CacheConfig, Config, Engine, InstancePre, Linker, Module};

use super::state::JobState;
use super::ticker::Ticker;
use crate::error::Error;

/// Host stack that a guest's fiber keeps for the host's own calls, above the guest's.
const HOST_STACK: usize = 1 << 20;

/// What makes two loads the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Settings {
    /// The module file (absolute, symlinks resolved).
    pub module: PathBuf,
    /// Where compiled code is cached, if it is.
    pub cache: Option<PathBuf>,
    /// `Config::max_wasm_stack`.
    pub max_wasm_stack: usize,
    /// The epoch tick.
    pub tick: Duration,
}

/// The engine with the module compiled and its WASI imports linked.
///
/// Invariant: `pre` was made by `engine`, whose epoch `ticker` advances.
pub(crate) struct Loaded {
    pub engine: Engine,
    pub pre: InstancePre<JobState>,
    pub ticker: Ticker,
    /// How long loading took (compiling, or reading the compiled code from the cache).
    pub load_time: Duration,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("load_time", &self.load_time)
            .finish_non_exhaustive()
    }
}

/// The loaded module for `settings`: the one another sandbox of this process holds, or
/// a new load. Loads happen one at a time (a second sandbox waits for the first to
/// compile instead of compiling too).
///
/// # Errors
/// [`Error::Wasm`] when the engine cannot be made or the module cannot be compiled or
/// linked; [`Error::Io`] when the module cannot be read or the ticker cannot start.
pub(crate) fn load(settings: &Settings) -> Result<Arc<Loaded>, Error> {
    static LOADED: Mutex<Option<HashMap<Settings, Weak<Loaded>>>> = Mutex::new(None);
    let mut all = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    let all = all.get_or_insert_with(HashMap::new);
    all.retain(|_, loaded| loaded.strong_count() > 0);
    if let Some(loaded) = all.get(settings).and_then(Weak::upgrade) {
        return Ok(loaded);
    }
    let loaded = Arc::new(load_new(settings)?);
    all.insert(settings.clone(), Arc::downgrade(&loaded));
    Ok(loaded)
}

fn wasm_error(context: &str) -> impl FnOnce(wasmtime::Error) -> Error + '_ {
    move |e| Error::Wasm {
        context: context.to_owned(),
        message: format!("{e:#}"),
    }
}

fn load_new(settings: &Settings) -> Result<Loaded, Error> {
    let started = Instant::now();
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .max_wasm_stack(settings.max_wasm_stack)
        .async_stack_size(settings.max_wasm_stack + HOST_STACK);
    if let Some(dir) = &settings.cache {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("making the compiled-code cache {}", dir.display()),
                e,
            )
        })?;
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(
            Cache::new(cache).map_err(wasm_error("setting up the compiled-code cache"))?,
        ));
    }
    let engine = Engine::new(&config).map_err(wasm_error("making the engine"))?;
    let bytes = read_module(&settings.module)?;
    let module = Module::new(&engine, &bytes).map_err(wasm_error("compiling the module"))?;
    drop(bytes);
    let mut linker: Linker<JobState> = Linker::new(&engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut JobState| &mut state.wasi)
        .map_err(wasm_error("linking WASI"))?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(wasm_error("linking the module's imports"))?;
    let ticker = Ticker::spawn(&engine, settings.tick)?;
    Ok(Loaded {
        engine,
        pre,
        ticker,
        load_time: started.elapsed(),
    })
}

fn read_module(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading the module {}", path.display()), e))
}
