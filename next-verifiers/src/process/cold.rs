//! The cold mode: one interpreter per job, exec'd in the jail, in a fresh work
//! directory.

use std::ffi::CString;
use std::path::Path;
use std::sync::Arc;

use next_core::sandbox::{Execution, Job};
use tokio::time::Instant;

use super::child::RawStatus;
use super::collect::{collect, pipes, ChildEnds};
use super::config::OnOutputLimit;
use super::isolation::ProcessLimit;
use super::jail::{Jail, Launch, SOURCE_NAME};
use super::plan::{
    cstring, env_cstrings, job_env, job_rlimits, path_cstring, workdir_tmpfs_options,
};
use super::spawn::spawn;
use super::termination::classify;
use super::workdir::Base;
use crate::error::Error;

/// What every cold job of a sandbox shares.
#[derive(Debug)]
pub(crate) struct Cold {
    /// The jail.
    pub jail: Jail,
    /// The interpreter and its flags.
    pub argv_prefix: Vec<CString>,
    /// Size of the work directory (its tmpfs, and the file-size rlimit).
    pub workdir_bytes: u64,
    /// How the process limit is enforced.
    pub process_limit: ProcessLimit,
    /// Ids that own the work directory's tmpfs, as the job's mount namespace sees them
    /// (with a mount namespace).
    pub tmpfs_owner: Option<(u32, u32)>,
    /// Ids to give the work directory itself to (without a mount namespace, when the
    /// job runs as another user).
    pub dir_owner: Option<(u32, u32)>,
    /// What to do at the output limit.
    pub policy: OnOutputLimit,
}

impl Cold {
    /// The launch of `job` in `workdir`, with the child's pipe ends.
    ///
    /// # Errors
    /// [`Error::Io`] when a path or the environment holds a NUL byte.
    pub fn launch(&self, workdir: &Path, job: &Job, ends: ChildEnds) -> Result<Launch, Error> {
        let mut argv = self.argv_prefix.clone();
        argv.push(cstring(SOURCE_NAME.to_bytes())?);
        Ok(Launch {
            argv,
            env: env_cstrings(&job_env(workdir))?,
            workdir: path_cstring(workdir)?,
            workdir_tmpfs: match self.tmpfs_owner {
                Some((uid, gid)) => Some(cstring(workdir_tmpfs_options(
                    self.workdir_bytes,
                    uid,
                    gid,
                ))?),
                None => None,
            },
            source: Some(job.source.clone().into_bytes()),
            rlimits: job_rlimits(&job.limits, self.workdir_bytes, self.process_limit),
            stdio: [ends.stdin, ends.stdout, ends.stderr],
            extra: None,
        })
    }
}

/// Runs `job` cold.
///
/// # Errors
/// [`Error`] when the job could not be started or its end could not be learnt.
pub(crate) async fn run(cold: &Arc<Cold>, base: &Base, job: Job) -> Result<Execution, Error> {
    let started = Instant::now();
    let deadline = started + job.limits.wall_time();
    let workdir = base.fresh("job", cold.dir_owner)?;
    let (ours, theirs) = pipes()?;
    let launch = cold.launch(workdir.path(), &job, theirs)?;
    let jail_of = Arc::clone(cold);
    // Dropping this future while the spawn runs drops the spawned child when the
    // blocking task finishes, which kills it.
    let child = tokio::task::spawn_blocking(move || spawn(&jail_of.jail, launch))
        .await
        .map_err(|e| Error::io("starting a job", std::io::Error::other(e)))??;
    let kill = || child.kill();
    let collected = collect(ours, &job, cold.policy, deadline, child.wait(), &kill).await?;
    let status: RawStatus = match collected.end {
        Some(Ok(status)) => status,
        Some(Err(err)) => return Err(Error::io("waiting for a job", err)),
        None => {
            child.kill();
            child
                .wait_blocking()
                .map_err(|e| Error::io("waiting for a killed job", e))?
        }
    };
    let termination = classify(status, collected.killed, collected.stderr.tail());
    let output_truncated = collected.stdout.truncated() || collected.stderr.truncated();
    drop(child);
    drop(workdir);
    Ok(Execution {
        stdout: collected.stdout.into_kept(),
        stderr: collected.stderr.into_kept(),
        termination,
        output_truncated,
        wall_time: started.elapsed(),
    })
}
