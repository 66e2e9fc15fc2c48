//! `python::decode_source` against CPython's own reading of source files
//! (`tokenize.detect_encoding`, which applies PEP 263 as the interpreter does), on programs in the
//! encodings a coding line commonly declares.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use next_core::python::decode_source;

/// Writes, for each encoding, a program with a coding line and text in that encoding;
/// answers a JSON list of [encoding, bytes as hex, the text CPython reads].
const SCRIPT: &str = r##"
import json, io, tokenize
words = {
    "latin-1": "café", "iso8859_15": "€uro", "cp1252": "naïve “quotes”",
    "cp1251": "Привет", "koi8_r": "Привет", "iso8859_2": "Łódź", "cp1250": "Łódź",
    "shift_jis": "日本語", "euc_jp": "日本語", "gbk": "中文", "big5": "中文",
    "euc_kr": "한국어", "utf-8": "ünïcödé", "ascii": "plain",
}
out = []
for encoding, word in words.items():
    for head in ("# -*- coding: %s -*-\n", "#!/usr/bin/env python\n# vim: set fileencoding=%s :\n"):
        data = (head % encoding + "word = %r\nprint(word)\n" % word).encode(encoding)
        encoding_found, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding_found)
        out.append([encoding, data.hex(), text])
print(json.dumps(out))
"##;

fn python() -> Option<String> {
    let candidates = [
        std::env::var("NEXT_TEST_PYTHON").ok(),
        Some("python3".to_owned()),
    ];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .arg("-c")
            .arg("pass")
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

#[test]
fn sources_decode_as_cpython_reads_them() {
    let Some(python) = python() else {
        eprintln!("no python3: skipped");
        return;
    };
    let out = Command::new(&python)
        .args(["-I", "-c", SCRIPT])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: Vec<(String, String, String)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cases.len(), 28);
    for (encoding, hex, text) in cases {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let decoded = decode_source(&bytes).unwrap_or_else(|e| panic!("{encoding}: {e}"));
        assert_eq!(decoded, text, "{encoding}");
    }
}
