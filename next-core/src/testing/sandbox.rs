//! [`ScriptedSandbox`]: a sandbox whose results are written by the test, plus helpers to
//! make [`Execution`]s.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::sandbox::{Execution, Job, Sandbox, SandboxError, Termination};

type Script = dyn Fn(&Job) -> Result<Execution, SandboxError> + Send + Sync;

/// A [`Sandbox`] that runs nothing: a script (a closure, or a queue of results) decides
/// what each job returns, and every job received is recorded.
///
/// Use it to test a [`Tracer`](crate::trace::Tracer) or
/// [`Verifier`](crate::verify::Verifier) backend without Python: script the harness
/// output the backend should parse, then check both the jobs it sent and what it made
/// of the results. Clones share the script and the record of jobs, so keep one clone
/// and hand the other to the code under test.
#[derive(Clone)]
pub struct ScriptedSandbox {
    script: Arc<Script>,
    jobs: Arc<Mutex<Vec<Job>>>,
}

impl fmt::Debug for ScriptedSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedSandbox")
            .field("jobs", &self.job_count())
            .finish_non_exhaustive()
    }
}

impl ScriptedSandbox {
    /// A sandbox that answers each job with `script(&job)`.
    pub fn from_fn(
        script: impl Fn(&Job) -> Result<Execution, SandboxError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            script: Arc::new(script),
            jobs: Arc::default(),
        }
    }

    /// A sandbox that answers the jobs, in the order they arrive, with these results;
    /// once they are used up, every job gets [`SandboxError::Unavailable`].
    pub fn from_queue(results: impl IntoIterator<Item = Result<Execution, SandboxError>>) -> Self {
        let queue = Mutex::new(results.into_iter().collect::<VecDeque<_>>());
        Self::from_fn(move |_job| {
            queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front()
                .unwrap_or_else(|| {
                    Err(SandboxError::Unavailable(
                        "the scripted sandbox ran out of results".to_owned(),
                    ))
                })
        })
    }

    /// A sandbox that answers every job with a copy of `execution`.
    pub fn always(execution: Execution) -> Self {
        Self::from_fn(move |_job| Ok(execution.clone()))
    }

    /// The jobs received so far, in order of arrival.
    pub fn jobs(&self) -> Vec<Job> {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many jobs were received so far.
    pub fn job_count(&self) -> usize {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[async_trait]
impl Sandbox for ScriptedSandbox {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        let result = (self.script)(&job);
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(job);
        result
    }
}

/// An execution that exited with `code`, printing `stdout` and `stderr`, in 1 ms.
pub fn exited(code: i32, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Execution {
    Execution {
        stdout: stdout.into(),
        stderr: stderr.into(),
        termination: Termination::Exited { code },
        output_truncated: false,
        wall_time: Duration::from_millis(1),
    }
}

/// An execution killed at its wall-time limit, with no output.
pub fn timed_out(limit: Duration) -> Execution {
    Execution {
        stdout: Vec::new(),
        stderr: Vec::new(),
        termination: Termination::TimedOut,
        output_truncated: false,
        wall_time: limit,
    }
}

/// An execution killed for exceeding the named resource limit (`memory`, `processes`,
/// ...), with no output.
pub fn resource_limit(resource: impl Into<String>) -> Execution {
    Execution {
        stdout: Vec::new(),
        stderr: Vec::new(),
        termination: Termination::ResourceLimit {
            resource: resource.into(),
        },
        output_truncated: false,
        wall_time: Duration::from_millis(1),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn queue_answers_in_order_then_runs_dry() {
        let sandbox = ScriptedSandbox::from_queue([
            Ok(exited(0, "ok", "")),
            Ok(timed_out(Duration::from_secs(1))),
        ]);
        let handle = sandbox.clone();
        let first = block_on(sandbox.run(Job::new("print('ok')"))).unwrap();
        assert!(first.succeeded());
        assert_eq!(first.stdout, b"ok");
        let second = block_on(sandbox.run(Job::new("while True: pass"))).unwrap();
        assert_eq!(second.termination, Termination::TimedOut);
        let third = block_on(sandbox.run(Job::new("x").with_stdin("in")));
        assert!(matches!(third, Err(SandboxError::Unavailable(_))));
        let sources: Vec<String> = handle.jobs().into_iter().map(|j| j.source).collect();
        assert_eq!(sources, ["print('ok')", "while True: pass", "x"]);
        assert_eq!(handle.jobs()[2].stdin, b"in");
    }

    #[test]
    fn closures_see_the_job() {
        let sandbox = ScriptedSandbox::from_fn(|job| {
            if job.source.contains("boom") {
                Ok(resource_limit("memory"))
            } else {
                Ok(exited(0, job.source.clone(), ""))
            }
        });
        let echo = block_on(sandbox.run(Job::new("hi"))).unwrap();
        assert_eq!(echo.stdout, b"hi");
        let boom = block_on(sandbox.run(Job::new("boom"))).unwrap();
        assert!(!boom.succeeded());
        assert_eq!(sandbox.job_count(), 2);
        let always = ScriptedSandbox::always(exited(3, "", "err"));
        assert_eq!(
            block_on(always.run(Job::new("a"))).unwrap().termination,
            Termination::Exited { code: 3 }
        );
    }
}
