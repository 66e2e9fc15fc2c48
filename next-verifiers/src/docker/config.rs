//! [`DockerConfig`]: which engine and image a [`DockerSandbox`](super::DockerSandbox)
//! uses and how it bounds a container, as read from the `[sandbox]` table of a run's
//! configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::process::OnOutputLimit;

/// The image tag that `next docker image` builds and the sandbox runs by default.
pub const DEFAULT_IMAGE: &str = "next-python:latest";

/// The engine's Unix socket, where Docker puts it by default.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The options of the `docker` sandbox. Every field has a default, and an unknown key is
/// an error:
///
/// ```toml
/// [sandbox]
/// kind = "docker"
/// image = "next-python:latest"      # built by `next docker image`
/// socket = "/var/run/docker.sock"   # the local engine (no TCP, no TLS)
/// cpus = 1.0                        # CPU time per wall second, per container
/// workdir_bytes = 67108864          # the tmpfs work directory (one file: half of it)
/// on_output_limit = "drain"         # or "kill"
/// user = "65534:65534"              # uid:gid in the container (never root)
/// ```
///
/// Invariant (checked by [`DockerConfig::validate`], which the sandbox calls): `cpus`
/// is positive and finite, `workdir_bytes` at least 1 MiB, `user` a numeric non-root
/// `uid:gid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// The image every job runs in: one holding a Python, labelled by `next docker
    /// image` with the interpreter's path and version.
    pub image: String,
    /// The Docker engine's Unix socket.
    pub socket: PathBuf,
    /// How many CPUs' worth of time a container may use (the CFS quota).
    pub cpus: f64,
    /// Size of the in-memory work directory (`/work`), in bytes; half of it is also the
    /// file-size rlimit. Its pages count against the job's memory limit.
    pub workdir_bytes: u64,
    /// What to do when a job writes more than its output limit.
    pub on_output_limit: OnOutputLimit,
    /// The numeric `uid:gid` jobs run as inside the container.
    pub user: String,
    /// Seconds to wait for one engine request before the job fails as a sandbox error
    /// (not the job's time limit, which is the job's own).
    pub engine_timeout_s: u64,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.to_owned(),
            socket: PathBuf::from(DEFAULT_SOCKET),
            cpus: 1.0,
            workdir_bytes: 64 << 20,
            on_output_limit: OnOutputLimit::Drain,
            user: "65534:65534".to_owned(),
            engine_timeout_s: 60,
        }
    }
}

impl DockerConfig {
    /// Checks the invariant above.
    ///
    /// # Errors
    /// A message naming the option that is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.cpus.is_finite() && self.cpus > 0.0) {
            return Err(format!("cpus must be positive, not {}", self.cpus));
        }
        if self.workdir_bytes < 1 << 20 {
            return Err(format!(
                "workdir_bytes must be at least 1 MiB, not {}",
                self.workdir_bytes
            ));
        }
        let ids: Vec<&str> = self.user.split(':').collect();
        let numeric = ids.len() == 2 && ids.iter().all(|id| id.parse::<u32>().is_ok());
        if !numeric || ids[0] == "0" {
            return Err(format!(
                "user must be a numeric non-root `uid:gid`, not {:?}",
                self.user
            ));
        }
        if self.engine_timeout_s == 0 {
            return Err("engine_timeout_s must be positive".to_owned());
        }
        Ok(())
    }

    /// The CFS quota in the engine's unit (billionths of a CPU).
    pub(crate) fn nano_cpus(&self) -> i64 {
        #[allow(clippy::cast_possible_truncation)]
        let nano = (self.cpus * 1e9).round() as i64;
        nano.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(DockerConfig::default().validate(), Ok(()));
        let root = DockerConfig {
            user: "0:0".into(),
            ..DockerConfig::default()
        };
        assert!(root.validate().unwrap_err().contains("non-root"));
        let named = DockerConfig {
            user: "nobody".into(),
            ..DockerConfig::default()
        };
        assert!(named.validate().is_err());
        let cpus = DockerConfig {
            cpus: 0.0,
            ..DockerConfig::default()
        };
        assert!(cpus.validate().unwrap_err().contains("cpus"));
        assert_eq!(DockerConfig::default().nano_cpus(), 1_000_000_000);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let typo: Result<DockerConfig, _> = toml::from_str("imgae = \"x\"");
        assert!(typo.unwrap_err().to_string().contains("imgae"));
        let read: DockerConfig = toml::from_str("cpus = 0.5\nimage = \"py:3\"").unwrap();
        assert_eq!(read.image, "py:3");
        assert!((read.cpus - 0.5).abs() < f64::EPSILON);
    }
}
