//! What the CLI's end-to-end tests share: the CPython they run jobs with, and a chat
//! completions server of their own on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

/// The interpreter: the first of `NEXT_TEST_PYTHONS` (paths separated by `:` or `,`),
/// else CPython 3.12 from pyenv; `None` when there is none.
pub fn python() -> Option<PathBuf> {
    let given = std::env::var("NEXT_TEST_PYTHONS").ok().and_then(|list| {
        list.split([':', ','])
            .map(str::trim)
            .find(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let root = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_owned());
    given
        .or_else(|| {
            let versions = std::fs::read_dir(PathBuf::from(root).join("versions")).ok()?;
            versions
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin/python3.12"))
                .find(|path| path.is_file())
        })
        .filter(|path| path.is_file())
}

/// A loopback chat completions server; `answer` gives the choices of each request (its
/// JSON body), and `None` to stop serving. Returns the base URL.
pub fn chat_server(
    mut answer: impl FnMut(&serde_json::Value) -> Option<Vec<String>> + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || loop {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let Some(answers) = answer(&request) else {
            return;
        };
        let choices: Vec<serde_json::Value> = answers
            .iter()
            .enumerate()
            .map(|(i, content)| {
                serde_json::json!({"index": i, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": content}})
            })
            .collect();
        let reply = serde_json::json!({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": choices,
        })
        .to_string();
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .unwrap();
    });
    format!("http://127.0.0.1:{port}/v1")
}
