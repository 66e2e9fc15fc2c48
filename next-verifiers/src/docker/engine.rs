//! The connection to the local Docker engine: its Unix socket, the API version both
//! sides speak, and a first ping, so that a missing engine is reported once, when the
//! sandbox is built, with the command that starts one.

use std::path::Path;
use std::time::Duration;

use bollard::Docker;

use crate::error::Error;

/// What to run when no engine answers.
pub(crate) const START_ENGINE: &str =
    "start one with `bash next-verifiers/scripts/docker-setup.sh` (installs docker.io, starts dockerd, builds the image)";

/// A client of one engine. Invariant: the engine answered a ping, and requests use the
/// API version it negotiated (older engines, such as Debian's 20.10, speak 1.41).
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub docker: Docker,
}

impl Engine {
    /// Connects to the engine at `socket`; `timeout` bounds each request.
    ///
    /// # Errors
    /// [`Error::DockerUnavailable`] when the socket is missing or nothing answers on it.
    pub async fn connect(socket: &Path, timeout: Duration) -> Result<Self, Error> {
        let unavailable = |why: String| {
            Error::DockerUnavailable(format!(
                "no Docker engine answers at {} ({why}): {START_ENGINE}",
                socket.display()
            ))
        };
        if !socket.exists() {
            return Err(unavailable("no such socket".to_owned()));
        }
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            timeout.as_secs().max(1),
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| unavailable(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(Self { docker })
    }
}
