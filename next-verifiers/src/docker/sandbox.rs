//! [`DockerSandbox`]: connecting to the engine and checking the image, running jobs
//! (each through `run.rs`), listing the sandbox's containers, and removing what is left
//! when it is dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError};

use super::config::DockerConfig;
use super::engine::Engine;
use super::image::ImagePython;
use super::run::Inner;
use super::{guard, orphans, run, spec};
use crate::error::Error;

/// Runs each job in a fresh container, as the [module](super) describes.
///
/// Built once (it connects to the engine and reads the image's labels), then shared:
/// [`Sandbox::run`] takes `&self` and runs any number of jobs at once. Dropping it
/// removes every container it still owns and its host directory.
#[derive(Debug)]
pub struct DockerSandbox {
    inner: Inner,
}

impl DockerSandbox {
    /// Connects to the engine and checks the image.
    ///
    /// # Errors
    /// [`Error::DockerUnavailable`] without an engine or image (the message names the
    /// command that provides it); [`Error::Io`] when the host directory cannot be
    /// made; [`Error::Image`] for an invalid configuration.
    pub async fn connect(config: DockerConfig) -> Result<Self, Error> {
        static SANDBOXES: AtomicU64 = AtomicU64::new(0);
        config.validate().map_err(Error::Image)?;
        let timeout = Duration::from_secs(config.engine_timeout_s);
        let engine = Engine::connect(&config.socket, timeout).await?;
        let python = ImagePython::inspect(&engine, &config.image).await?;
        let jobs_root = tempfile::Builder::new()
            .prefix("next-docker-")
            .tempdir()
            .map_err(|e| Error::io("making the Docker sandbox's host directory", e))?;
        let owner = orphans::owner_label(SANDBOXES.fetch_add(1, Ordering::Relaxed));
        // Containers left by processes that died before they could remove them.
        orphans::remove_orphans(&engine.docker).await?;
        Ok(Self {
            inner: Inner {
                engine,
                python,
                config,
                owner,
                next: AtomicU64::new(0),
                cleanups: Arc::new(Mutex::new(Vec::new())),
                jobs_root,
            },
        })
    }

    /// [`DockerSandbox::connect`] for callers without a runtime at hand (the registry's
    /// factories): it connects from a thread of its own.
    ///
    /// # Errors
    /// As [`DockerSandbox::connect`].
    pub fn new(config: DockerConfig) -> Result<Self, Error> {
        block_on(DockerSandbox::connect(config))?
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &DockerConfig {
        &self.inner.config
    }

    /// The interpreter inside the image (its absolute path there) and its version.
    pub fn interpreter(&self) -> (&str, (u32, u32)) {
        (&self.inner.python.executable, self.inner.python.version)
    }

    /// The host directory holding each running job's inputs (`main.py`, `stdin`),
    /// mounted read-only into its container; empty between jobs, removed with the
    /// sandbox.
    pub fn work_root(&self) -> &std::path::Path {
        self.inner.jobs_root.path()
    }

    /// The names of the containers of this sandbox that exist now, running or not (an
    /// empty list between jobs).
    ///
    /// # Errors
    /// [`Error::Engine`] when the engine cannot list them.
    pub async fn containers(&self) -> Result<Vec<String>, Error> {
        list_owned(&self.inner.engine.docker, &self.inner.owner).await
    }
}

/// The names of the containers labelled as `owner`'s.
async fn list_owned(docker: &bollard::Docker, owner: &str) -> Result<Vec<String>, Error> {
    let listed = orphans::list_labelled(
        docker,
        format!("{}={owner}", spec::LABEL_OWNER),
        "listing the sandbox's containers",
    )
    .await?;
    Ok(listed
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .map(|n| n.trim_start_matches('/').to_owned())
        .collect())
}

/// Runs `future` to its end on a runtime of its own, in a thread of its own (so that it
/// also works from inside another runtime).
fn block_on<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, Error> {
    let thread = std::thread::Builder::new()
        .name("next-docker".to_owned())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(future))
        })
        .map_err(|e| Error::io("starting a thread for the Docker engine", e))?;
    match thread.join() {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Error::io("starting a runtime for the Docker engine", e)),
        Err(_) => Err(Error::Image(
            "the Docker engine's thread panicked".to_owned(),
        )),
    }
}

impl Drop for DockerSandbox {
    fn drop(&mut self) {
        let pending: Vec<_> = self
            .inner
            .cleanups
            .lock()
            .map(|mut list| list.drain(..).collect())
            .unwrap_or_default();
        for handle in pending {
            let _ = handle.join();
        }
        // Whatever is left (a removal that failed, a create that finished late).
        let docker = self.inner.engine.docker.clone();
        let owner = self.inner.owner.clone();
        let _ = block_on(async move {
            for name in list_owned(&docker, &owner).await.unwrap_or_default() {
                let _ = guard::remove(&docker, &name).await;
            }
        });
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        run::run(&self.inner, job).await.map_err(SandboxError::from)
    }
}
