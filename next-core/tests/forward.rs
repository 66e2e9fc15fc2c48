//! The role traits' forwarding impls: `&T`, `Box<T>` and `Arc<T>` (of sized types and of
//! trait objects) forward every method, the provided ones included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use futures::executor::block_on;

use next_core::render::{NoneRenderer, TraceRenderer};
use next_core::sandbox::{Execution, Job, Sandbox, SandboxError};
use next_core::task::Program;

/// A renderer that overrides every provided method.
struct Shouting;

impl TraceRenderer for Shouting {
    fn name(&self) -> &'static str {
        "shouting"
    }
    fn shows_execution(&self) -> bool {
        false
    }
    fn legend(&self) -> &'static str {
        "READ IT LOUD"
    }
    fn render(
        &self, program: &Program, _tests: &[next_core::task::TestCase],
        _traces: &[next_core::trace::Trace],
    ) -> String {
        program.source().to_uppercase()
    }
}

fn renders_as_shouting(renderer: &impl TraceRenderer) {
    assert_eq!(renderer.name(), "shouting");
    assert!(!renderer.shows_execution());
    assert_eq!(renderer.legend(), "READ IT LOUD");
    assert_eq!(
        renderer.render(&Program::new("x = 1\n"), &[], &[]),
        "X = 1\n"
    );
}

#[test]
fn pointers_to_a_renderer_forward_provided_and_required_methods() {
    renders_as_shouting(&Shouting);
    renders_as_shouting(&&Shouting);
    renders_as_shouting(&Box::new(Shouting));
    renders_as_shouting(&Arc::new(Shouting));
    let boxed: Box<dyn TraceRenderer> = Box::new(Shouting);
    renders_as_shouting(&boxed);
    renders_as_shouting(&&*boxed);
    let shared: Arc<dyn TraceRenderer> = Arc::new(Shouting);
    renders_as_shouting(&shared);
    // Nested pointers forward all the way down.
    renders_as_shouting(&Box::new(Arc::new(&Shouting)));
    // A renderer keeping the defaults keeps them behind a pointer too.
    assert_eq!(Box::new(NoneRenderer).legend(), NoneRenderer.legend());
}

/// A sandbox that takes every preloaded module and runs nothing.
struct Taking;

#[async_trait]
impl Sandbox for Taking {
    async fn run(&self, job: Job) -> Result<Execution, SandboxError> {
        Err(SandboxError::Unavailable(job.source))
    }
    async fn preload(&self, name: &str, _source: &str) -> Result<bool, SandboxError> {
        Ok(name == "harness")
    }
}

async fn sandboxes_as_taking(sandbox: impl Sandbox) {
    assert!(sandbox.preload("harness", "").await.unwrap());
    assert!(!sandbox.preload("other", "").await.unwrap());
    let err = sandbox.run(Job::new("print(1)")).await.err().unwrap();
    assert!(matches!(err, SandboxError::Unavailable(source) if source == "print(1)"));
}

#[test]
fn pointers_to_a_sandbox_forward_provided_and_required_methods() {
    block_on(async {
        sandboxes_as_taking(&Taking).await;
        sandboxes_as_taking(Box::new(Taking)).await;
        sandboxes_as_taking(Arc::new(Taking)).await;
        let boxed: Box<dyn Sandbox> = Box::new(Taking);
        sandboxes_as_taking(&*boxed).await;
        sandboxes_as_taking(boxed).await;
        let shared: Arc<dyn Sandbox> = Arc::new(Taking);
        sandboxes_as_taking(&shared).await;
        sandboxes_as_taking(shared).await;
    });
}
