//! From what is wanted (the configuration, less what the kernel refused) to the
//! [`Jail`]s of the cold jobs and of the warm server, and the per-job pieces both modes
//! share: environment, rlimits, tmpfs options.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use next_core::sandbox::Limits;

use super::config::IsolationConfig;
use super::isolation::ProcessLimit;
use super::jail::{Bind, Expose, IdMaps, Identity, Jail, Mounts, NewRoot, MAX_EXPOSED_TREES};
use crate::error::Error;

/// The uid (and gid) a job has inside its user namespace: `nobody`.
pub(crate) const INSIDE_ID: u32 = 65534;

/// `RLIMIT_*` numbers, as `prlimit64` takes them.
#[allow(
    clippy::cast_sign_loss,
    clippy::unnecessary_cast,
    clippy::cast_possible_wrap
)]
pub(crate) mod rlimit {
    /// CPU seconds.
    pub const CPU: libc::c_int = libc::RLIMIT_CPU as libc::c_int;
    /// File size.
    pub const FSIZE: libc::c_int = libc::RLIMIT_FSIZE as libc::c_int;
    /// Core dump size.
    pub const CORE: libc::c_int = libc::RLIMIT_CORE as libc::c_int;
    /// Processes and threads of the real uid.
    pub const NPROC: libc::c_int = libc::RLIMIT_NPROC as libc::c_int;
    /// Address space.
    pub const AS: libc::c_int = libc::RLIMIT_AS as libc::c_int;
}

/// The parts of isolation still wanted (one switch per namespace: bools are the
/// natural shape).
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub user: bool,
    pub network: bool,
    pub pid: bool,
    pub mount: bool,
    /// A fresh root (needs the mount namespace).
    pub root: bool,
    pub proc: bool,
    pub ipc: bool,
}

impl Wanted {
    /// No namespace at all.
    pub const NONE: Wanted = Wanted {
        user: false,
        network: false,
        pid: false,
        mount: false,
        root: false,
        proc: false,
        ipc: false,
    };

    /// What the configuration asks for. Without a user namespace an unprivileged caller
    /// can make no namespace at all.
    pub fn from_config(config: &IsolationConfig, root: bool) -> Self {
        let able = config.user || root;
        Self {
            user: config.user,
            network: config.network && able,
            pid: config.pid && able,
            mount: config.mount && able,
            root: config.fresh_root && config.mount && able,
            proc: config.pid && config.mount && able,
            ipc: config.ipc && able,
        }
    }

    /// The `CLONE_NEW*` flags.
    pub fn clone_flags(self) -> u64 {
        let mut flags = 0;
        let mut add = |on: bool, flag: libc::c_int| {
            if on {
                flags |= u64::from(flag.unsigned_abs());
            }
        };
        add(self.user, libc::CLONE_NEWUSER);
        add(self.network, libc::CLONE_NEWNET);
        add(self.pid, libc::CLONE_NEWPID);
        add(self.mount, libc::CLONE_NEWNS);
        add(self.ipc, libc::CLONE_NEWIPC);
        flags
    }
}

/// Who runs the sandbox and who the jobs run as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ids {
    /// The caller is root (may map any uid, may make namespaces without a user one).
    pub root: bool,
    /// The caller's uid and gid.
    pub caller: (u32, u32),
    /// The uid and gid jobs run as outside (root caller: the configured ones; otherwise
    /// the caller's).
    pub job: (u32, u32),
}

impl Ids {
    /// The ids of this process and the configuration.
    pub fn current(config: &IsolationConfig) -> Self {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        let root = uid == 0;
        Self {
            root,
            caller: (uid, gid),
            job: if root {
                (config.uid, config.gid)
            } else {
                (uid, gid)
            },
        }
    }
}

/// A plan: what is wanted, by whom, for which interpreter.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub wanted: Wanted,
    pub ids: Ids,
    /// The interpreter's directories (see `Interpreter::roots`).
    pub roots: Vec<PathBuf>,
}

impl Plan {
    /// How the process limit is enforced under this plan.
    pub fn process_limit(&self) -> ProcessLimit {
        if self.wanted.user {
            ProcessLimit::PerJob
        } else if self.ids.root && self.ids.job.0 != 0 {
            ProcessLimit::SharedByUid
        } else {
            ProcessLimit::NotEnforced
        }
    }

    /// The uid and gid the job has in the namespace where its files are made (inside
    /// its user namespace, or the real ones).
    pub fn job_inside(&self) -> (u32, u32) {
        if self.wanted.user {
            (INSIDE_ID, INSIDE_ID)
        } else {
            self.ids.job
        }
    }

    /// The jail of a cold job.
    ///
    /// # Errors
    /// [`Error::Io`] when a path has a NUL byte.
    #[allow(clippy::similar_names)]
    pub fn cold_jail(&self) -> Result<Jail, Error> {
        let (inside_uid, inside_gid) = self.job_inside();
        let id_maps = self.wanted.user.then(|| {
            let (outside_uid, outside_gid) = self.ids.job;
            IdMaps {
                uid_map: format!("{inside_uid} {outside_uid} 1"),
                gid_map: format!("{inside_gid} {outside_gid} 1"),
                deny_setgroups: !self.ids.root,
            }
        });
        let identity = (self.wanted.user || self.ids.root).then_some(Identity {
            uid: inside_uid,
            gid: inside_gid,
            drop_groups: self.ids.root,
        });
        Ok(Jail {
            namespaces: self.wanted.clone_flags(),
            id_maps,
            identity,
            ids_before_mounts: self.wanted.user,
            mounts: self.mounts(inside_uid, inside_gid)?,
        })
    }

    /// The jail of the warm server: root of its own user namespace (mapped to the job's
    /// unprivileged uid outside), so that it may make a PID, mount and user namespace
    /// per job. `None` when the plan lacks what that needs.
    ///
    /// # Errors
    /// [`Error::Io`] when a path has a NUL byte.
    #[allow(clippy::similar_names)]
    pub fn server_jail(&self) -> Result<Option<Jail>, Error> {
        let w = self.wanted;
        if !(w.user && w.pid && w.mount && w.proc) {
            return Ok(None);
        }
        let (outside_uid, outside_gid) = self.ids.job;
        Ok(Some(Jail {
            namespaces: w.clone_flags(),
            id_maps: Some(IdMaps {
                uid_map: format!("0 {outside_uid} 1"),
                gid_map: format!("0 {outside_gid} 1"),
                deny_setgroups: !self.ids.root,
            }),
            identity: Some(Identity {
                uid: 0,
                gid: 0,
                drop_groups: self.ids.root,
            }),
            ids_before_mounts: true,
            mounts: self.mounts(0, 0)?,
        }))
    }

    fn mounts(&self, uid: u32, gid: u32) -> Result<Option<Mounts>, Error> {
        if !self.wanted.mount {
            return Ok(None);
        }
        if self.wanted.root {
            return Ok(Some(Mounts {
                root: Some(new_root(&self.roots, uid, gid)?),
                exposes: Vec::new(),
                read_only: true,
                proc: self.wanted.proc,
            }));
        }
        // Only a root caller's jobs run as a user that may be shut out of the
        // interpreter's directories.
        let exposes = if self.ids.root && self.ids.job.0 != 0 {
            exposes(&self.roots, uid, gid)?
        } else {
            Vec::new()
        };
        Ok(Some(Mounts {
            root: None,
            exposes,
            read_only: true,
            proc: self.wanted.proc,
        }))
    }
}

/// Options of a job's work-directory tmpfs, owned by the job (`uid`, `gid` as seen by
/// the mounting process).
pub(crate) fn workdir_tmpfs_options(bytes: u64, uid: u32, gid: u32) -> String {
    let inodes = (bytes / 4096).clamp(64, 1 << 20);
    format!("mode=0700,size={bytes},nr_inodes={inodes},uid={uid},gid={gid}")
}

/// The environment of a job: nothing inherited.
pub(crate) fn job_env(workdir: &Path) -> Vec<(String, String)> {
    let dir = workdir.to_string_lossy().into_owned();
    vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("PYTHONHASHSEED".to_owned(), "0".to_owned()),
        ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
        ("HOME".to_owned(), dir.clone()),
        ("TMPDIR".to_owned(), dir),
    ]
}

/// `KEY=value` C strings.
///
/// # Errors
/// [`Error::Io`] when a value has a NUL byte.
pub(crate) fn env_cstrings(env: &[(String, String)]) -> Result<Vec<CString>, Error> {
    env.iter()
        .map(|(key, value)| cstring(format!("{key}={value}").into_bytes()))
        .collect()
}

/// The rlimits of a job: `(resource, soft, hard)`. One file may take half of
/// `workdir_bytes`, so that a single growing file meets the file-size limit before the
/// work directory is full.
pub(crate) fn job_rlimits(
    limits: &Limits, file_bytes: u64, process_limit: ProcessLimit,
) -> Vec<(libc::c_int, u64, u64)> {
    let wall = limits.wall_time();
    let cpu = wall.as_secs() + u64::from(wall.subsec_nanos() > 0);
    let mut rlimits = vec![
        (rlimit::AS, limits.memory_bytes(), limits.memory_bytes()),
        (rlimit::CPU, cpu.max(1), cpu.max(1) + 1),
        (rlimit::FSIZE, file_bytes / 2, file_bytes / 2),
        (rlimit::CORE, 0, 0),
    ];
    if process_limit != ProcessLimit::NotEnforced {
        let processes = u64::from(limits.processes());
        rlimits.push((rlimit::NPROC, processes, processes));
    }
    rlimits
}

/// A C string from bytes.
///
/// # Errors
/// [`Error::Io`] when they hold a NUL byte.
pub(crate) fn cstring(bytes: impl Into<Vec<u8>>) -> Result<CString, Error> {
    CString::new(bytes).map_err(|e| {
        Error::io(
            "preparing a job",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        )
    })
}

/// A C string from a path.
///
/// # Errors
/// [`Error::Io`] when it holds a NUL byte.
pub(crate) fn path_cstring(path: &Path) -> Result<CString, Error> {
    cstring(path.as_os_str().as_bytes())
}

/// The top-level directories of the system's programs and shared libraries: bound into
/// a fresh root whole where they are directories, reproduced where they are symbolic
/// links (a merged `/usr`: `/lib -> usr/lib`).
const SYSTEM_DIRS: [&str; 7] = ["usr", "lib", "lib64", "lib32", "libx32", "bin", "sbin"];
/// The device nodes a fresh root holds.
const DEVICES: [&str; 4] = ["null", "zero", "random", "urandom"];
/// The links of `/dev` to the job's own descriptors.
const DEV_LINKS: [(&str, &str); 4] = [
    ("/proc/self/fd", "dev/fd"),
    ("/proc/self/fd/0", "dev/stdin"),
    ("/proc/self/fd/1", "dev/stdout"),
    ("/proc/self/fd/2", "dev/stderr"),
];
/// The one file of `/etc` a fresh root holds: the dynamic loader's list of where the
/// shared libraries are (without it, libraries outside the loader's built-in
/// directories would not be found). No user data.
const LOADER_CACHE: &str = "etc/ld.so.cache";

/// The fresh root of a job: the system's library directories (`/usr` and its kin) and
/// the interpreter's own directories (`roots`, wherever they are, with only the
/// directories leading to them), the loader's cache, `/dev/null`, `/dev/zero`,
/// `/dev/random`, `/dev/urandom`, an empty `/tmp`, a `/proc` mount point; everything
/// read-only. Its tmpfs is owned by `uid`, `gid` (as the mounting process sees them).
///
/// # Errors
/// [`Error::Io`] when a path has a NUL byte.
fn new_root(roots: &[PathBuf], uid: u32, gid: u32) -> Result<NewRoot, Error> {
    let host = Path::new("/");
    let mut dirs: Vec<PathBuf> = ["dev", "proc", "tmp"].iter().map(PathBuf::from).collect();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut binds: Vec<(PathBuf, PathBuf, bool, bool)> = Vec::new();
    let mut bound: Vec<PathBuf> = Vec::new();
    for name in SYSTEM_DIRS {
        let path = host.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(&path) {
                links.push((target, PathBuf::from(name)));
            }
        } else if meta.is_dir() {
            dirs.push(PathBuf::from(name));
            binds.push((path.clone(), PathBuf::from(name), false, false));
            bound.push(path);
        }
    }
    // The host's root itself is never bound (it would bring the whole tree back).
    let roots: Vec<PathBuf> = roots
        .iter()
        .filter(|root| root.parent().is_some())
        .cloned()
        .collect();
    for root in outermost(&roots) {
        if bound.iter().any(|b| root.starts_with(b)) {
            continue;
        }
        let Ok(relative) = root.strip_prefix(host) else {
            continue;
        };
        let mut ancestors: Vec<PathBuf> = relative
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        ancestors.reverse();
        dirs.extend(ancestors);
        binds.push((root.clone(), relative.to_path_buf(), false, false));
    }
    for device in DEVICES {
        let path = host.join("dev").join(device);
        let is_device = std::fs::metadata(&path)
            .is_ok_and(|meta| std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()));
        if is_device {
            binds.push((path, Path::new("dev").join(device), true, true));
        }
    }
    for (target, link) in DEV_LINKS {
        links.push((PathBuf::from(target), PathBuf::from(link)));
    }
    let cache = host.join(LOADER_CACHE);
    if std::fs::metadata(&cache).is_ok_and(|meta| meta.is_file()) {
        dirs.push(PathBuf::from("etc"));
        binds.push((cache, PathBuf::from(LOADER_CACHE), true, false));
    }
    // Parents first, each once.
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    dirs.sort_by_key(|dir| dir.components().count());
    Ok(NewRoot {
        tmpfs_options: cstring(format!(
            "mode=0755,size=1048576,nr_inodes=4096,uid={uid},gid={gid}"
        ))?,
        dirs: dirs
            .iter()
            .map(|d| path_cstring(d))
            .collect::<Result<_, _>>()?,
        links: links
            .iter()
            .map(|(target, link)| Ok((path_cstring(target)?, path_cstring(link)?)))
            .collect::<Result<_, Error>>()?,
        binds: binds
            .iter()
            .map(|(source, target, file, device)| {
                Ok(Bind {
                    source: path_cstring(source)?,
                    target: path_cstring(target)?,
                    file: *file,
                    device: *device,
                })
            })
            .collect::<Result<_, Error>>()?,
    })
}

/// For each directory the job's user may not search (no `o+x`) above an interpreter
/// directory: cover it with a tmpfs and mount the interpreter's directories back.
fn exposes(roots: &[PathBuf], uid: u32, gid: u32) -> Result<Vec<Expose>, Error> {
    let mut covers: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for root in outermost(roots) {
        if let Some(cover) = highest_closed_ancestor(&root) {
            covers.entry(cover).or_default().push(root);
        }
    }
    // A cover inside another cover is covered already: its trees go to the outer one.
    let all: Vec<PathBuf> = covers.keys().cloned().collect();
    for inner in &all {
        if let Some(outer) = all.iter().find(|o| *o != inner && inner.starts_with(o)) {
            let trees = covers.remove(inner).unwrap_or_default();
            covers.entry(outer.clone()).or_default().extend(trees);
        }
    }
    let mut exposes = Vec::new();
    let mut count = 0;
    for (cover, trees) in covers {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for tree in &trees {
            for dir in tree.ancestors() {
                if dir == cover || !dir.starts_with(&cover) {
                    break;
                }
                dirs.push(dir.to_path_buf());
            }
        }
        dirs.sort_by_key(|dir| dir.components().count());
        dirs.dedup();
        count += trees.len();
        if count > MAX_EXPOSED_TREES {
            break;
        }
        exposes.push(Expose {
            cover: path_cstring(&cover)?,
            tmpfs_options: cstring(format!(
                "mode=0755,size=65536,nr_inodes=1024,uid={uid},gid={gid}"
            ))?,
            trees: trees
                .iter()
                .map(|t| path_cstring(t))
                .collect::<Result<_, _>>()?,
            dirs: dirs
                .iter()
                .map(|d| path_cstring(d))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(exposes)
}

/// The directories of `roots` that are not inside another one.
fn outermost(roots: &[PathBuf]) -> Vec<PathBuf> {
    let mut sorted: Vec<&PathBuf> = roots.iter().collect();
    sorted.sort();
    let mut kept: Vec<PathBuf> = Vec::new();
    for root in sorted {
        if !kept.iter().any(|k| root.starts_with(k)) {
            kept.push(root.clone());
        }
    }
    kept
}

/// The ancestor of `path` nearest to `/` that others may not search, if any.
fn highest_closed_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .filter(|dir| dir.parent().is_some())
        .filter(|dir| {
            std::fs::metadata(dir).is_ok_and(|meta| meta.permissions().mode() & 0o001 == 0)
        })
        .last()
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outermost_drops_nested_roots() {
        let roots = vec![
            PathBuf::from("/opt/py/bin"),
            PathBuf::from("/opt/py"),
            PathBuf::from("/usr/lib"),
        ];
        assert_eq!(
            outermost(&roots),
            vec![PathBuf::from("/opt/py"), PathBuf::from("/usr/lib")]
        );
    }

    #[test]
    fn a_closed_directory_is_covered_and_the_tree_mounted_back() {
        let top = tempfile::tempdir().unwrap();
        let closed = top.path().join("home");
        let tree = closed.join("a/b/python");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let exposes = exposes(std::slice::from_ref(&tree), 65534, 65534).unwrap();
        assert_eq!(exposes.len(), 1);
        let expose = &exposes[0];
        assert_eq!(expose.cover, path_cstring(&closed).unwrap());
        assert_eq!(expose.trees, vec![path_cstring(&tree).unwrap()]);
        let dirs: Vec<_> = ["a", "a/b", "a/b/python"]
            .iter()
            .map(|d| path_cstring(&closed.join(d)).unwrap())
            .collect();
        assert_eq!(expose.dirs, dirs);
    }

    #[test]
    fn a_fresh_root_holds_the_system_the_interpreter_and_the_devices() {
        let top = tempfile::tempdir().unwrap();
        let python = top.path().join("home/user/python");
        std::fs::create_dir_all(&python).unwrap();
        let roots = [
            python.clone(),
            PathBuf::from("/usr/lib/python3"),
            PathBuf::from("/"),
        ];
        let root = new_root(&roots, 65534, 65534).unwrap();
        let targets: Vec<&[u8]> = root.binds.iter().map(|b| b.target.to_bytes()).collect();
        // The interpreter's tree at its path (relative to the new root), with the
        // directories leading to it.
        let relative = python.strip_prefix("/").unwrap();
        assert!(targets.contains(&relative.as_os_str().as_bytes()));
        assert!(root
            .dirs
            .contains(&path_cstring(relative.parent().unwrap()).unwrap()));
        // Under /usr: bound with it; the host's root itself never.
        assert!(!targets.iter().any(|t| t.starts_with(b"usr/")));
        assert!(!targets.iter().any(|t| t.is_empty() || t.starts_with(b"/")));
        let null = root
            .binds
            .iter()
            .find(|b| b.target.to_bytes() == b"dev/null")
            .unwrap();
        assert!(null.file && null.device);
        // Nothing of /etc but the loader's cache.
        assert!(targets
            .iter()
            .filter(|t| t.starts_with(b"etc"))
            .all(|t| *t == LOADER_CACHE.as_bytes()));
        // Parents before their children.
        for (i, dir) in root.dirs.iter().enumerate() {
            let dir = Path::new(std::ffi::OsStr::from_bytes(dir.to_bytes()));
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                assert!(root.dirs[..i].contains(&path_cstring(parent).unwrap()));
            }
        }
    }

    #[test]
    fn rlimits_round_the_cpu_time_up() {
        let limits = Limits::new(std::time::Duration::from_millis(1500), 1 << 30, 1024, 8).unwrap();
        let rlimits = job_rlimits(&limits, 1 << 20, ProcessLimit::PerJob);
        assert!(rlimits.contains(&(rlimit::CPU, 2, 3)));
        assert!(rlimits.contains(&(rlimit::NPROC, 8, 8)));
        let without = job_rlimits(&limits, 1 << 20, ProcessLimit::NotEnforced);
        assert!(!without.iter().any(|r| r.0 == rlimit::NPROC));
    }
}
