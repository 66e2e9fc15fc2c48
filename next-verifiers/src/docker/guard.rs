//! [`Guard`]: removes a job's container (and its host input directory) however the job
//! ends: by [`Guard::remove`] on every normal path, or from `Drop` when the `run`
//! future is dropped mid-job or an engine request failed.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bollard::errors::Error as EngineError;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use bollard::Docker;
use tempfile::TempDir;

use crate::error::Error;

/// Removal threads started by guards that were dropped, so that the sandbox can wait
/// for them when it is dropped itself.
pub(crate) type Cleanups = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// How long a dropped guard keeps trying to remove a container whose create request
/// was in flight (the engine may finish creating it after the client went away).
const CREATE_RACE: Duration = Duration::from_secs(3);

/// Owns one job's container name and input directory. Invariant: while armed, the
/// container may exist; once [`Guard::remove`] returned `Ok`, it does not.
pub(crate) struct Guard {
    docker: Docker,
    name: String,
    dir: Option<TempDir>,
    /// Whether the engine answered the create request (so that a container it does not
    /// know is gone, not still being made).
    answered: bool,
    armed: bool,
    cleanups: Cleanups,
}

impl Guard {
    /// A guard for the container that is about to be created as `name`.
    pub fn new(docker: Docker, name: String, dir: TempDir, cleanups: Cleanups) -> Self {
        Self {
            docker,
            name,
            dir: Some(dir),
            answered: false,
            armed: true,
            cleanups,
        }
    }

    /// Notes that the engine answered the create request, with a container or an error.
    pub fn answered(&mut self) {
        self.answered = true;
    }

    /// Kills and removes the container now, then the input directory.
    ///
    /// # Errors
    /// [`Error::Engine`] when the engine refuses (the guard stays armed and retries
    /// from `Drop`).
    pub async fn remove(mut self) -> Result<(), Error> {
        remove(&self.docker, &self.name)
            .await
            .map_err(|e| Error::engine(format!("removing container {}", self.name), e))?;
        self.armed = false;
        drop(self.dir.take());
        Ok(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let docker = self.docker.clone();
        let name = std::mem::take(&mut self.name);
        let dir = self.dir.take();
        let answered = self.answered;
        // Drop cannot await, and the runtime may be shutting down: a thread of its own
        // with a runtime of its own does the removal.
        let spawned = std::thread::Builder::new()
            .name("next-docker-rm".to_owned())
            .spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(remove_eventually(&docker, &name, answered));
                }
                drop(dir);
            });
        if let (Ok(handle), Ok(mut list)) = (spawned, self.cleanups.lock()) {
            list.retain(|h| !h.is_finished());
            list.push(handle);
        }
    }
}

/// Force-removes `name` (killing what runs in it); a container that is already gone or
/// already being removed counts as removed.
pub(crate) async fn remove(docker: &Docker, name: &str) -> Result<(), EngineError> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        Err(EngineError::DockerResponseServerError { status_code, .. })
            if status_code == 404 || status_code == 409 =>
        {
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// Removes `name`, retrying briefly when it may not exist yet or the engine failed.
async fn remove_eventually(docker: &Docker, name: &str, answered: bool) {
    let start = Instant::now();
    loop {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let gone = match docker.remove_container(name, Some(options)).await {
            // Removed, or another removal of it is under way.
            Ok(())
            | Err(EngineError::DockerResponseServerError {
                status_code: 409, ..
            }) => true,
            Err(EngineError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                // Not there: gone, unless its create request may still be finishing.
                answered
            }
            Err(_) => false,
        };
        if gone || start.elapsed() > CREATE_RACE {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
