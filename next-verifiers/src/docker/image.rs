//! The image jobs run in, as the engine holds it: the labels `build.rs` gives it, and
//! reading back from them the interpreter it holds ([`ImagePython`]).

use std::path::Path;

use super::engine::Engine;
use crate::error::Error;

/// The image label holding the interpreter's absolute path.
pub(crate) const LABEL_PYTHON: &str = "org.next-rs.python";
/// The image label holding the interpreter's version (`3.11.7`).
pub(crate) const LABEL_VERSION: &str = "org.next-rs.python.version";

/// The interpreter an image holds, as its labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImagePython {
    /// The image's name as configured.
    pub image: String,
    /// The interpreter's absolute path inside.
    pub executable: String,
    /// `(major, minor)`.
    pub version: (u32, u32),
}

impl ImagePython {
    /// Reads the labels of `image`.
    ///
    /// # Errors
    /// [`Error::DockerUnavailable`] when the image is missing or lacks the labels,
    /// naming the command that builds it.
    pub async fn inspect(engine: &Engine, image: &str) -> Result<Self, Error> {
        let build = format!(
            "build it with `next docker image --tag {image}` (or bash next-verifiers/scripts/docker-setup.sh)"
        );
        let inspected = engine.docker.inspect_image(image).await.map_err(|e| {
            Error::DockerUnavailable(format!("no image `{image}` in the engine ({e}): {build}"))
        })?;
        let labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
        let (Some(executable), Some(version)) =
            (labels.get(LABEL_PYTHON), labels.get(LABEL_VERSION))
        else {
            return Err(Error::DockerUnavailable(format!(
                "image `{image}` was not built by `next docker image` (no {LABEL_PYTHON} label): {build}"
            )));
        };
        let mut parts = version.split('.').map(str::parse::<u32>);
        let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
            return Err(Error::DockerUnavailable(format!(
                "image `{image}` names an unreadable Python version {version:?}: {build}"
            )));
        };
        if !Path::new(executable).is_absolute() {
            return Err(Error::DockerUnavailable(format!(
                "image `{image}` names a relative interpreter {executable:?}: {build}"
            )));
        }
        Ok(Self {
            image: image.to_owned(),
            executable: executable.clone(),
            version: (major, minor),
        })
    }
}
