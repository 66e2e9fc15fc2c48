//! The image's root file system, made from the host's own CPython: its binary, its
//! standard library (without tests, GUI and packaging), the shared libraries `ldd`
//! names for the binary and every extension module, the dynamic loader, and the few
//! files and empty directories a container needs. Every path is the host's, so the
//! interpreter finds its prefix and its libraries exactly as on the host (no relocation,
//! no `LD_LIBRARY_PATH`).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::Error;

/// Asks the interpreter what an image of it needs. Run once, on the host: our code.
const QUERY: &str = r#"
import json, os, sys, sysconfig
paths = sysconfig.get_paths()
print(json.dumps({
    "executable": os.path.realpath(sys.executable),
    "version": list(sys.version_info[:3]),
    "stdlib": sorted({os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])}),
    "cache_tag": sys.implementation.cache_tag,
}))
"#;

/// Top-level directories of the standard library left out: its test suite, GUI
/// toolkits, the bundled pip, third-party packages (and, below, the static library used
/// to embed it, `config-*`).
const LEFT_OUT: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "site-packages",
    "dist-packages",
];

/// Directories left out wherever they are: test suites.
const TEST_DIRS: &[&str] = &["test", "tests", "idle_test"];

/// What the interpreter said of itself.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HostPython {
    /// The binary, absolute and symlink-free.
    pub executable: PathBuf,
    /// `[major, minor, micro]`.
    pub version: Vec<u32>,
    /// The standard library's directories.
    pub stdlib: Vec<PathBuf>,
    /// The bytecode cache tag (`cpython-311`): cached files of other tags or
    /// optimisation levels are left out.
    pub cache_tag: String,
}

impl HostPython {
    /// `3.11.7`.
    pub fn version_text(&self) -> String {
        self.version
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One entry of the root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A directory with this mode.
    Dir(u32),
    /// A copy of this host file (symlinks followed) with this mode.
    File(PathBuf, u32),
    /// A file with these contents.
    Text(String),
    /// A symbolic link to this target.
    Link(PathBuf),
}

/// The files of an image, by absolute path inside it. Invariant: every parent
/// directory of an entry is itself an entry (a [`Entry::Dir`]).
#[derive(Debug, Clone)]
pub(crate) struct RootFs {
    pub python: HostPython,
    pub entries: BTreeMap<PathBuf, Entry>,
}

impl RootFs {
    /// Collects the root file system of `interpreter` (default: `python3` on `PATH`).
    /// Blocking: it runs the interpreter once and `ldd` once, and walks the standard
    /// library.
    ///
    /// # Errors
    /// [`Error::Interpreter`] when the interpreter does not answer;
    /// [`Error::Image`] when `ldd` fails or names a library it cannot find;
    /// [`Error::Io`] when the standard library cannot be read.
    pub fn collect(interpreter: Option<&Path>) -> Result<Self, Error> {
        let python = query(interpreter.unwrap_or(Path::new("python3")))?;
        let mut fs = Self {
            python,
            entries: BTreeMap::new(),
        };
        let mut elves = vec![fs.python.executable.clone()];
        for dir in fs.python.stdlib.clone() {
            fs.add_stdlib(&dir, &dir, &mut elves)?;
        }
        for library in shared_libraries(&elves)? {
            fs.add(&library, Entry::File(library.clone(), 0o755));
        }
        let exe = fs.python.executable.clone();
        fs.add(&exe, Entry::File(exe.clone(), 0o755));
        let link = Path::new("/usr/bin/python3");
        if exe != link {
            fs.add(link, Entry::Link(exe));
        }
        for (dir, mode) in [
            ("/tmp", 0o1777),
            ("/var/tmp", 0o1777),
            ("/work", 0o1777),
            ("/job", 0o755),
            ("/proc", 0o555),
            ("/sys", 0o555),
            ("/dev", 0o755),
        ] {
            fs.add(Path::new(dir), Entry::Dir(mode));
        }
        fs.add(
            Path::new("/etc/passwd"),
            Entry::Text("root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/work:/usr/sbin/nologin\n".to_owned()),
        );
        fs.add(
            Path::new("/etc/group"),
            Entry::Text("root:x:0:\nnogroup:x:65534:\n".to_owned()),
        );
        Ok(fs)
    }

    /// Adds `entry` at `path` and every missing parent directory.
    fn add(&mut self, path: &Path, entry: Entry) {
        for parent in path.ancestors().skip(1) {
            self.entries
                .entry(parent.to_path_buf())
                .or_insert(Entry::Dir(0o755));
        }
        self.entries.insert(path.to_path_buf(), entry);
    }

    fn add_stdlib(
        &mut self, root: &Path, dir: &Path, elves: &mut Vec<PathBuf>,
    ) -> Result<(), Error> {
        let read = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        for entry in read {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if dir == root && (LEFT_OUT.contains(&name.as_ref()) || name.starts_with("config-")) {
                continue;
            }
            if name.starts_with("_tkinter") {
                continue;
            }
            // Follows symlinks: a linked file is copied as a file.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                // The packages' own test suites (`ctypes/test`, `unittest/test`, ...).
                if TEST_DIRS.contains(&name.as_ref()) {
                    continue;
                }
                self.add(&path, Entry::Dir(0o755));
                self.add_stdlib(root, &path, elves)?;
            } else if meta.is_file() {
                if dir.file_name() == Some(OsStr::new("__pycache__"))
                    && !name.ends_with(&format!(".{}.pyc", self.python.cache_tag))
                {
                    continue;
                }
                if path.extension() == Some(OsStr::new("so")) {
                    elves.push(path.clone());
                }
                let mode = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                self.add(&path, Entry::File(path.clone(), mode));
            }
        }
        Ok(())
    }

    /// The number of files (not directories) and their bytes, as they will be packed.
    pub fn size(&self) -> (usize, u64) {
        let mut files = 0;
        let mut bytes = 0;
        for entry in self.entries.values() {
            match entry {
                Entry::File(source, _) => {
                    files += 1;
                    bytes += std::fs::metadata(source).map_or(0, |m| m.len());
                }
                Entry::Text(text) => {
                    files += 1;
                    bytes += text.len() as u64;
                }
                Entry::Dir(_) | Entry::Link(_) => {}
            }
        }
        (files, bytes)
    }

    /// The root file system as an uncompressed tar archive, owned by root, with every
    /// timestamp 0 (the same host gives the same bytes).
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read.
    pub fn tar(&self) -> Result<Vec<u8>, Error> {
        let io = |what: &str, path: &Path| {
            let context = format!("packing {what} {}", path.display());
            move |e| Error::io(context, e)
        };
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, entry) in &self.entries {
            let name = path.strip_prefix("/").unwrap_or(path);
            if name.as_os_str().is_empty() {
                continue;
            }
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match entry {
                Entry::Dir(mode) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(*mode);
                    header.set_size(0);
                    tar.append_data(&mut header, name, std::io::empty())
                        .map_err(io("the directory", path))?;
                }
                Entry::File(source, mode) => {
                    let data = std::fs::read(source).map_err(io("the file", source))?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(*mode);
                    header.set_size(data.len() as u64);
                    tar.append_data(&mut header, name, data.as_slice())
                        .map_err(io("the file", source))?;
                }
                Entry::Text(text) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(text.len() as u64);
                    tar.append_data(&mut header, name, text.as_bytes())
                        .map_err(io("the file", path))?;
                }
                Entry::Link(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    tar.append_link(&mut header, name, target)
                        .map_err(io("the link", path))?;
                }
            }
        }
        tar.into_inner()
            .map_err(|e| Error::io("finishing the image archive", e))
    }
}

fn query(program: &Path) -> Result<HostPython, Error> {
    crate::process::interpreter::ask(program, QUERY)
}

/// Every shared library (and the dynamic loader) that `elves` load, as `ldd` resolves
/// them on this host.
fn shared_libraries(elves: &[PathBuf]) -> Result<BTreeSet<PathBuf>, Error> {
    let output = Command::new("ldd")
        .args(elves)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::Image(format!("cannot run ldd (glibc's libc-bin): {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let found = parse_ldd(&text);
    if found.is_empty() {
        return Err(Error::Image(format!(
            "ldd named no library for {} ({})",
            elves[0].display(),
            output.status
        )));
    }
    Ok(found)
}

/// The absolute paths in `ldd` output: `libc.so.6 => /lib/.../libc.so.6 (0x...)` and
/// the loader's own `/lib64/ld-linux-x86-64.so.2 (0x...)`. Libraries `not found` are
/// skipped (the module that needs them fails on the host too).
fn parse_ldd(text: &str) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, right)) => right.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') && !path.ends_with(':') {
            found.insert(PathBuf::from(path));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_paths() {
        let text = "/x/python3.11:\n\tlinux-vdso.so.1 (0x00007ffd)\n\tlibpython3.11.so.1.0 => /opt/py/lib/libpython3.11.so.1.0 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\tlibgone.so => not found\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let found: Vec<PathBuf> = parse_ldd(text).into_iter().collect();
        assert_eq!(
            found,
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
                PathBuf::from("/opt/py/lib/libpython3.11.so.1.0"),
            ]
        );
    }

    #[test]
    fn the_host_python_gives_a_complete_tree() {
        let python = std::env::var_os("NEXT_PYTHON").map(PathBuf::from);
        let fs = match RootFs::collect(python.as_deref()) {
            Ok(fs) => fs,
            Err(e) => panic!("{e}"),
        };
        let exe = fs.python.executable.clone();
        assert!(matches!(fs.entries.get(&exe), Some(Entry::File(..))));
        // Every parent is a directory: the invariant the tar relies on.
        for path in fs.entries.keys() {
            for parent in path.ancestors().skip(1) {
                assert!(
                    matches!(fs.entries.get(parent), Some(Entry::Dir(_))),
                    "{} lacks {}",
                    path.display(),
                    parent.display()
                );
            }
        }
        let names: Vec<String> = fs
            .entries
            .keys()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.ends_with("/os.py")));
        assert!(names.iter().any(|n| n.contains("/libc.so")));
        assert!(names.iter().any(|n| n.contains("_ctypes")));
        assert!(
            !names
                .iter()
                .any(|n| n.contains("/test/") || n.contains("/tests/")),
            "tests left in"
        );
        assert!(!names.iter().any(|n| n.ends_with(".opt-1.pyc")));
    }
}
