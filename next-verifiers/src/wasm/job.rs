//! One job: a fresh store and WASI context over a fresh work directory, the guest's
//! `_start` run to its end or to a limit, and the end classified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use next_core::sandbox::{Execution, Job};
use wasmtime::{InstancePre, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use super::output::Captured;
use super::runtime::Loaded;
use super::state::{Cancel, JobSettings, JobState, MemoryLimit, Watch};
use super::termination::{classify, End, Stop};
use super::workdir::Base;
use crate::error::Error;

/// The job's source, in its work directory.
const SOURCE_NAME: &str = "main.py";

/// The interpreter's command line: no site, no user site, no bytecode files, and the
/// script's directory not put first on `sys.path` (as the process sandbox runs 3.11+).
/// The script is named by its absolute path in the guest (the work directory is `/`).
const ARGS: &[&str] = &["python", "-s", "-S", "-B", "-P", "/main.py"];

/// The whole environment of a job: what CPython reads, and `HOME` and `TMPDIR` in the
/// work directory.
const ENV: &[(&str, &str)] = &[
    ("LANG", "C.UTF-8"),
    ("PYTHONHASHSEED", "0"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("HOME", "/"),
    ("TMPDIR", "/"),
];

/// Runs `job` on this thread, to its end or to a limit. Blocking: call it on a thread
/// that may block.
///
/// # Errors
/// [`Error`] when the job cannot be set up (its work directory, its WASI context, a
/// runtime for its host calls). Whatever the guest does gives an [`Execution`].
pub(crate) fn run(
    loaded: &Loaded, base: &Base, settings: JobSettings, job: Job, cancel: &Arc<Cancel>,
) -> Result<Execution, Error> {
    let started = Instant::now();
    let deadline = started + job.limits.wall_time();
    let dir = base.fresh()?;
    std::fs::write(dir.path().join(SOURCE_NAME), job.source.as_bytes())
        .map_err(|e| Error::io("writing the job's source", e))?;
    let cap = usize::try_from(job.limits.output_bytes()).unwrap_or(usize::MAX);
    let (stdout, stderr) = (Captured::new(cap), Captured::new(cap));
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdin(MemoryInputPipe::new(job.stdin))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .args(ARGS)
        .envs(ENV)
        .allow_blocking_current_thread(true);
    wasi.preopened_dir(dir.path(), "/", FsPerms::ReadWrite)
        .map_err(|e| Error::Wasm {
            context: "opening the work directory for the guest".to_owned(),
            message: format!("{e:#}"),
        })?;
    let state = JobState {
        wasi: wasi.build_p1(),
        memory: MemoryLimit {
            bytes: usize::try_from(job.limits.memory_bytes()).unwrap_or(usize::MAX),
            refused: false,
        },
        watch: Watch {
            deadline,
            cancel: Arc::clone(cancel),
            workdir: dir.path().to_path_buf(),
            settings,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            stopped: None,
        },
    };
    let mut store = Store::new(&loaded.engine, state);
    store.limiter(|state| &mut state.memory);
    store.epoch_deadline_callback(|mut cx| {
        let state = cx.data_mut();
        Ok(match state.watch.check() {
            None => UpdateDeadline::Continue(1),
            Some(stop) => {
                state.watch.stopped = Some(stop);
                UpdateDeadline::Interrupt
            }
        })
    });
    store.set_epoch_deadline(1);
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Error::io("starting the runtime of the job's host calls", e))?;
    let running = loaded.ticker.start();
    let result = host.block_on(async {
        let timer = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
        // The guest checks its deadline and cancellation at every tick while it
        // computes; these two end it while it waits in a host call (a sleep).
        tokio::select! {
            biased;
            () = cancel.wake.notified() => Err(Stop::Cancelled),
            () = timer => Err(Stop::Timeout),
            result = start(&loaded.pre, &mut store) => Ok(result),
        }
    });
    drop(running);
    let end = match result {
        Err(stop) => End::Stopped(stop),
        Ok(Ok(())) => End::Returned,
        Ok(Err(error)) => end_of(&error, store.data().watch.stopped, &stderr),
    };
    let memory_refused = store.data().memory.refused;
    // The guest's descriptors go with the store, then its directory.
    drop(store);
    drop(dir);
    Ok(Execution {
        termination: classify(&end, memory_refused, &stderr.tail()),
        output_truncated: stdout.truncated() || stderr.truncated(),
        stdout: stdout.take(),
        stderr: stderr.take(),
        wall_time: started.elapsed(),
    })
}

/// How long making a store and an instance takes (what a job pays before the
/// interpreter starts), without running the guest: a store with an empty WASI context.
///
/// # Errors
/// [`Error::Wasm`] when the module cannot be instantiated.
pub(crate) fn time_instantiation(loaded: &Loaded) -> Result<std::time::Duration, Error> {
    let started = Instant::now();
    let state = JobState {
        wasi: WasiCtxBuilder::new().build_p1(),
        memory: MemoryLimit {
            bytes: usize::MAX,
            refused: false,
        },
        watch: Watch {
            deadline: started + std::time::Duration::from_secs(60),
            cancel: Arc::new(Cancel::default()),
            workdir: PathBuf::new(),
            settings: JobSettings {
                workdir_bytes: u64::MAX,
                workdir_entries: u64::MAX,
                kill_on_output: false,
            },
            stdout: Captured::new(0),
            stderr: Captured::new(0),
            stopped: None,
        },
    };
    let mut store = Store::new(&loaded.engine, state);
    store.set_epoch_deadline(u64::MAX / 2);
    let host = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::io("starting a runtime", e))?;
    host.block_on(loaded.pre.instantiate_async(&mut store))
        .map_err(|e| Error::Wasm {
            context: "instantiating the module".to_owned(),
            message: format!("{e:#}"),
        })?;
    drop(store);
    Ok(started.elapsed())
}

/// Instantiates the module in `store` and runs its `_start`.
async fn start(pre: &InstancePre<JobState>, store: &mut Store<JobState>) -> wasmtime::Result<()> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let main = instance.get_typed_func::<(), ()>(&mut *store, "_start")?;
    main.call_async(&mut *store, ()).await
}

/// How an `_start` that returned `error` ended; a trap's text goes to stderr, as a
/// crashing process's runtime would print it.
fn end_of(error: &wasmtime::Error, stopped: Option<Stop>, stderr: &Captured) -> End {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return End::Exit(exit.0);
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        if *trap == Trap::Interrupt {
            return End::Stopped(stopped.unwrap_or(Stop::Timeout));
        }
        stderr.push(format!("\n{trap}\n").as_bytes());
        return End::Trap(*trap);
    }
    let text = format!("{error:#}");
    stderr.push(format!("\nthe WASI host failed: {text}\n").as_bytes());
    End::Host(text)
}
