//! [`Captured`]: a job's stdout or stderr, kept up to the output limit while the guest
//! writes, the rest counted and dropped (a guest that prints 100 MB never makes the
//! host hold more than the limit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What a guest may write in one go: the stream is always ready for this much.
const PERMIT: usize = 1 << 20;

/// Bytes of the end of the stream kept apart from its head, to read the last line of a
/// traceback whose head filled the limit.
const TAIL: usize = 4096;

/// One captured stream, shared by the guest's handles to it and the host.
///
/// Invariant: `kept.len() <= cap`; `truncated` is set once a byte was dropped; `tail`
/// holds the last (at most [`TAIL`]) bytes written, kept or not.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    kept: Mutex<Vec<u8>>,
    tail: Mutex<Vec<u8>>,
    truncated: AtomicBool,
}

impl Captured {
    /// An empty stream that keeps `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                cap,
                kept: Mutex::new(Vec::new()),
                tail: Mutex::new(Vec::new()),
                truncated: AtomicBool::new(false),
            }),
        }
    }

    /// Keeps what fits of `data`.
    pub fn push(&self, data: &[u8]) {
        let mut kept = self
            .inner
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let room = self.inner.cap.saturating_sub(kept.len());
        if data.len() > room {
            self.inner.truncated.store(true, Ordering::Relaxed);
        }
        kept.extend_from_slice(&data[..data.len().min(room)]);
        drop(kept);
        let mut tail = self
            .inner
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if data.len() >= TAIL {
            tail.clear();
            tail.extend_from_slice(&data[data.len() - TAIL..]);
        } else {
            let over = (tail.len() + data.len()).saturating_sub(TAIL);
            tail.drain(..over);
            tail.extend_from_slice(data);
        }
    }

    /// The last bytes written (at most 4 KiB), whether kept or dropped.
    pub fn tail(&self) -> Vec<u8> {
        self.inner
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.inner.truncated.load(Ordering::Relaxed)
    }

    /// What was kept, leaving the stream empty.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .inner
                .kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>, buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_up_to_the_cap_and_says_it_cut() {
        let out = Captured::new(5);
        out.push(b"abc");
        assert!(!out.truncated());
        out.push(b"defg");
        out.push(b"h");
        assert!(out.truncated());
        assert_eq!(out.tail(), b"abcdefgh");
        assert_eq!(out.take(), b"abcde");
        let long = vec![b'x'; TAIL + 10];
        out.push(&long);
        out.push(b"end");
        let tail = out.tail();
        assert_eq!(tail.len(), TAIL);
        assert!(tail.ends_with(b"xend"));
    }
}
