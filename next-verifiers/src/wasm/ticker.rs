//! [`Ticker`]: the thread that advances the engine's epoch while jobs run, so that every
//! running guest reaches its epoch deadline and checks its wall-time limit, its
//! cancellation and its work directory once a tick.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

use crate::error::Error;

/// Advances `engine`'s epoch every tick while at least one job is [`Ticker::start`]ed;
/// sleeps otherwise. Stopped and joined when dropped.
#[derive(Debug)]
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    engine: Engine,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    running: usize,
    stop: bool,
}

impl Ticker {
    /// Starts the thread.
    ///
    /// # Errors
    /// [`Error::Io`] when the thread cannot be spawned.
    pub fn spawn(engine: &Engine, tick: Duration) -> Result<Self, Error> {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            let engine = engine.clone();
            std::thread::Builder::new()
                .name("next-wasm-epoch".to_owned())
                .spawn(move || tick_while_running(&shared, &engine, tick))
                .map_err(|e| Error::io("starting the epoch ticker", e))?
        };
        Ok(Self {
            shared,
            engine: engine.clone(),
            thread: Some(thread),
        })
    }

    /// Counts a job as running until the returned guard is dropped.
    pub fn start(&self) -> Running<'_> {
        let mut state = self.lock();
        state.running += 1;
        drop(state);
        self.shared.wake.notify_one();
        Running { ticker: self }
    }

    /// Advances the epoch now, so that every running guest checks its state at once
    /// (a cancelled job stops without waiting for the next tick).
    pub fn nudge(&self) {
        self.engine.increment_epoch();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A job counted as running.
#[derive(Debug)]
pub(crate) struct Running<'a> {
    ticker: &'a Ticker,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.ticker.lock();
        state.running = state.running.saturating_sub(1);
    }
}

fn tick_while_running(shared: &Shared, engine: &Engine, tick: Duration) {
    loop {
        {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            while state.running == 0 && !state.stop {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.stop {
                return;
            }
        }
        std::thread::sleep(tick);
        engine.increment_epoch();
    }
}
