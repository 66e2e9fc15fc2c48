//! The plan of a child: the namespaces and set-up a sandbox shares between its
//! children ([`Jail`]), one child's command, directory, limits and pipes ([`Launch`]),
//! and the steps its set-up may fail at ([`Stage`]). Prepared before the clone, walked
//! by the child (see `spawn/`).

use std::ffi::{c_int, CStr, CString};
use std::io;
use std::os::fd::OwnedFd;

/// Most directories [`Expose`] may clone in one jail.
pub(crate) const MAX_EXPOSED_TREES: usize = 16;
/// Most mounts a [`NewRoot`] may bind in.
pub(crate) const MAX_ROOT_BINDS: usize = 32;

/// The set-up step a child failed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stage {
    /// `clone3` itself (the parent saw the error).
    Clone = 1,
    /// Writing the user namespace's id maps (the parent saw the error).
    IdMaps,
    /// Waiting for the parent.
    Sync,
    /// `setsid`.
    Session,
    /// Making every mount private.
    MountPrivate,
    /// Cloning the interpreter's directories.
    ExposeClone,
    /// Covering the directory above them with a tmpfs.
    ExposeCover,
    /// Dropping supplementary groups.
    Groups,
    /// Switching group id.
    SetGid,
    /// Switching user id.
    SetUid,
    /// Making the directories the interpreter's directories go back to.
    ExposeDirs,
    /// Putting the interpreter's directories back.
    ExposeMove,
    /// Cloning what the fresh root binds in.
    RootClone,
    /// Mounting the fresh root's tmpfs.
    RootTmpfs,
    /// Making the fresh root's directories, links and mount points.
    RootMake,
    /// Binding the interpreter, the libraries and the devices into the fresh root.
    RootBind,
    /// Entering the fresh root and detaching the host's tree.
    RootPivot,
    /// Making the fresh root read-only.
    RootSeal,
    /// Making the file tree read-only.
    ReadOnly,
    /// Mounting `/proc`.
    Proc,
    /// Mounting the work directory's tmpfs.
    Workdir,
    /// Entering the work directory.
    Chdir,
    /// Writing the job's source.
    Source,
    /// Setting a resource limit.
    Rlimit,
    /// Moving the pipes to standard input, output and error.
    Stdio,
    /// Marking other descriptors close-on-exec.
    Descriptors,
    /// `execve`.
    Exec,
}

impl Stage {
    const ALL: [Stage; 27] = [
        Stage::Clone,
        Stage::IdMaps,
        Stage::Sync,
        Stage::Session,
        Stage::MountPrivate,
        Stage::ExposeClone,
        Stage::ExposeCover,
        Stage::Groups,
        Stage::SetGid,
        Stage::SetUid,
        Stage::ExposeDirs,
        Stage::ExposeMove,
        Stage::RootClone,
        Stage::RootTmpfs,
        Stage::RootMake,
        Stage::RootBind,
        Stage::RootPivot,
        Stage::RootSeal,
        Stage::ReadOnly,
        Stage::Proc,
        Stage::Workdir,
        Stage::Chdir,
        Stage::Source,
        Stage::Rlimit,
        Stage::Stdio,
        Stage::Descriptors,
        Stage::Exec,
    ];

    pub(crate) fn from_code(code: u32) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| *stage as u32 == code)
    }

    /// Whether the step is one of building the fresh root.
    pub(crate) fn builds_root(self) -> bool {
        matches!(
            self,
            Stage::RootClone
                | Stage::RootTmpfs
                | Stage::RootMake
                | Stage::RootBind
                | Stage::RootPivot
                | Stage::RootSeal
        )
    }

    /// What the step does, in words that follow "failed to".
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Clone => "clone into new namespaces",
            Stage::IdMaps => "write the user namespace's id maps",
            Stage::Sync => "wait for its parent",
            Stage::Session => "start a session",
            Stage::MountPrivate => "make its mounts private",
            Stage::ExposeClone => "clone the interpreter's directories",
            Stage::ExposeCover => "cover a private directory with a tmpfs",
            Stage::Groups => "drop supplementary groups",
            Stage::SetGid => "switch to the job's group",
            Stage::SetUid => "switch to the job's user",
            Stage::ExposeDirs => "make the interpreter's directories",
            Stage::ExposeMove => "mount the interpreter's directories",
            Stage::RootClone => "clone what the fresh root holds",
            Stage::RootTmpfs => "mount the fresh root's tmpfs",
            Stage::RootMake => "make the fresh root's directories",
            Stage::RootBind => "bind the interpreter, libraries and devices into the fresh root",
            Stage::RootPivot => "enter the fresh root and detach the host's file tree",
            Stage::RootSeal => "make the fresh root read-only",
            Stage::ReadOnly => "make the file tree read-only",
            Stage::Proc => "mount /proc",
            Stage::Workdir => "mount the work directory",
            Stage::Chdir => "enter the work directory",
            Stage::Source => "write the job's source",
            Stage::Rlimit => "set a resource limit",
            Stage::Stdio => "set up standard input and output",
            Stage::Descriptors => "close inherited descriptors",
            Stage::Exec => "execute the interpreter",
        }
    }
}

/// Why a spawn failed: the step and the kernel's error.
#[derive(Debug)]
pub(crate) struct SpawnError {
    /// The step.
    pub stage: Stage,
    /// The error.
    pub error: io::Error,
}

impl SpawnError {
    pub(crate) fn new(stage: Stage, error: io::Error) -> Self {
        Self { stage, error }
    }
}

impl From<SpawnError> for crate::error::Error {
    fn from(err: SpawnError) -> Self {
        crate::error::Error::Setup {
            stage: err.stage.describe(),
            source: err.error,
        }
    }
}

/// The user namespace's id maps, written by the parent.
#[derive(Debug, Clone)]
pub(crate) struct IdMaps {
    /// Contents of `uid_map`, e.g. `65534 65534 1`.
    pub uid_map: String,
    /// Contents of `gid_map`.
    pub gid_map: String,
    /// Write `deny` to `setgroups` first (required of an unprivileged parent).
    pub deny_setgroups: bool,
}

/// The ids the child switches to before exec (inside its user namespace, if any).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Drop every supplementary group (possible where the parent is root).
    pub drop_groups: bool,
}

/// A directory the job's user may not enter (mode without `o+x`), under which the
/// interpreter lives: it is covered by a tmpfs, and the interpreter's directories are
/// mounted back at their paths, so that the job reaches them and nothing else there.
#[derive(Debug, Clone)]
pub(crate) struct Expose {
    /// The directory covered.
    pub cover: CString,
    /// Options of the covering tmpfs (mode, owner).
    pub tmpfs_options: CString,
    /// The directories cloned before covering, then mounted back at their paths.
    pub trees: Vec<CString>,
    /// Directories to make in the tmpfs, parents first, so that the trees have mount
    /// points.
    pub dirs: Vec<CString>,
}

/// A mount bound into a [`NewRoot`]: a clone of `source` (with what is mounted under
/// it), read-only, nosuid, and nodev unless `device`.
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    /// The absolute path on the host.
    pub source: CString,
    /// Where it goes, relative to the new root.
    pub target: CString,
    /// A file (its mount point is an empty file), not a directory.
    pub file: bool,
    /// A device node, which must stay usable (no `nodev`).
    pub device: bool,
}

/// A fresh root, as bubblewrap and nsjail build one: a small tmpfs holding only what
/// is listed here, entered with `pivot_root`, the host's tree detached. The paths are
/// relative to the new root.
#[derive(Debug, Clone)]
pub(crate) struct NewRoot {
    /// Options of its tmpfs (mode, size, owner).
    pub tmpfs_options: CString,
    /// Directories to make, parents first.
    pub dirs: Vec<CString>,
    /// Symbolic links to make: `(target, path)`.
    pub links: Vec<(CString, CString)>,
    /// Mounts to bind in; their mount points are made (files) or listed in `dirs`.
    pub binds: Vec<Bind>,
}

/// What a mount namespace is made into.
#[derive(Debug, Clone)]
pub(crate) struct Mounts {
    /// A fresh root to enter (then `exposes` is empty and `read_only` moot: the root
    /// holds nothing else of the host, all of it read-only).
    pub root: Option<NewRoot>,
    /// Directories to expose under covered ones.
    pub exposes: Vec<Expose>,
    /// Make the whole tree read-only and nosuid.
    pub read_only: bool,
    /// Mount a `/proc` of the child's PID namespace.
    pub proc: bool,
}

/// The namespaces and set-up shared by every child a sandbox starts in one mode.
#[derive(Debug, Clone)]
pub(crate) struct Jail {
    /// `CLONE_NEW*` flags.
    pub namespaces: u64,
    /// Id maps, with a user namespace.
    pub id_maps: Option<IdMaps>,
    /// Ids to switch to.
    pub identity: Option<Identity>,
    /// Switch ids before the second half of the mounts (in a user namespace) rather
    /// than after all of them (a real root, which would lose its capabilities).
    pub ids_before_mounts: bool,
    /// Mount set-up, with a mount namespace.
    pub mounts: Option<Mounts>,
}

/// One child to start: what to exec, where, with what.
#[derive(Debug)]
pub(crate) struct Launch {
    /// The program (absolute path) and its arguments.
    pub argv: Vec<CString>,
    /// The whole environment, `KEY=value`.
    pub env: Vec<CString>,
    /// The work directory (it exists).
    pub workdir: CString,
    /// Options of a tmpfs to mount on the work directory, if one is to be.
    pub workdir_tmpfs: Option<CString>,
    /// Bytes to write to `main.py` in the work directory.
    pub source: Option<Vec<u8>>,
    /// `(resource, soft, hard)`.
    pub rlimits: Vec<(c_int, u64, u64)>,
    /// Standard input, output and error.
    pub stdio: [OwnedFd; 3],
    /// A descriptor to hand over as fd 3.
    pub extra: Option<OwnedFd>,
}

/// The name the source is written to in the work directory.
pub(crate) const SOURCE_NAME: &CStr = c"main.py";
