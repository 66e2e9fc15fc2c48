//! The one framing of the project's byte channels: a frame is a 4-byte big-endian
//! length and that many bytes. The head of a harness job's stdin
//! ([`Preload::stdin_head`](super::Preload::stdin_head), read by the tracer's and the
//! verifier's `bootstrap.py` with `int.from_bytes(.., "big")`) and every message between
//! the process sandbox and its warm fork server (`warm_server.py`, `struct` `>I`) are
//! frames.

/// Bytes of a frame's length.
pub const LENGTH_BYTES: usize = 4;

/// A body too long for a frame (its length must fit in 32 bits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is too large for a frame ({len} bytes; at most 4 GiB - 1)")]
pub struct FrameTooLarge {
    /// What was to be framed.
    pub what: &'static str,
    /// Its length in bytes.
    pub len: usize,
}

/// Appends `body` to `out` as one frame; `what` names it in the error.
///
/// # Errors
/// [`FrameTooLarge`] when `body` is 4 GiB or longer (`out` is then unchanged).
pub fn write(out: &mut Vec<u8>, what: &'static str, body: &[u8]) -> Result<(), FrameTooLarge> {
    let length = u32::try_from(body.len()).map_err(|_| FrameTooLarge {
        what,
        len: body.len(),
    })?;
    out.reserve(LENGTH_BYTES + body.len());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// The first frame of `buffer`: its body and the bytes it takes with its length;
/// `None` while the buffer does not hold all of it yet.
pub fn split(buffer: &[u8]) -> Option<(&[u8], usize)> {
    let (length, rest) = buffer.split_first_chunk::<LENGTH_BYTES>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    let body = rest.get(..length)?;
    Some((body, LENGTH_BYTES + length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_their_bytes() {
        let mut out = Vec::new();
        write(&mut out, "a", b"xyz").unwrap();
        write(&mut out, "b", b"").unwrap();
        assert_eq!(out, b"\x00\x00\x00\x03xyz\x00\x00\x00\x00");
        assert_eq!(split(&out), Some((&b"xyz"[..], 7)));
        assert_eq!(split(&out[7..]), Some((&b""[..], 4)));
        assert_eq!(split(&out[..6]), None);
        assert_eq!(split(&out[..3]), None);
    }
}
