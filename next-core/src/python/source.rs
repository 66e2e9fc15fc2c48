//! A Python program's text from its file's bytes, as CPython reads a source file.
//!
//! The design decision: **decode here, once, and hand every role a `String`.** A
//! [`Program`](crate::task::Program) is text, and the jobs send it to the interpreter as
//! text, where `compile` ignores a coding line; so a file in another encoding must be
//! decoded as CPython would decode it, or the program the model sees and the program
//! that runs would differ. The rules are CPython's (PEP 263, PEP 3120): a UTF-8
//! byte-order mark, else a coding declaration in a comment on the first line (or on the
//! second, where the first is blank or a comment), else UTF-8. The declared name is
//! looked up as CPython's codecs would spell it; Latin-1, ASCII and UTF-8 are decoded
//! exactly, the others by `encoding_rs` (the WHATWG decoders: `cp1252` and its kin
//! there give C1 controls for the few bytes CPython's codecs leave undefined).

use std::borrow::Cow;

use encoding_rs::Encoding;

/// Why a file's bytes are not a Python program's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The coding line names an encoding this build cannot decode (or one a source file
    /// cannot be in, such as UTF-16).
    #[error("the coding line declares `{0}`, which is not an encoding a Python source can be decoded from here (PEP 263)")]
    UnknownEncoding(String),
    /// The bytes are not valid in the encoding that applies.
    #[error("{0}")]
    Malformed(String),
    /// A UTF-8 byte-order mark and a coding line that declares another encoding (which
    /// CPython refuses too).
    #[error("a UTF-8 byte-order mark, but the coding line declares `{0}`")]
    BomConflict(String),
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The text of the Python source file whose bytes are `bytes`: decoded by its UTF-8
/// byte-order mark (which is dropped), else by the encoding its coding line declares,
/// else as UTF-8. The coding line stays in the text.
///
/// ```
/// use next_core::python::decode_source;
///
/// let latin1 = b"# -*- coding: latin-1 -*-\nname = '\xe9'\n";
/// assert_eq!(decode_source(latin1).unwrap(), "# -*- coding: latin-1 -*-\nname = '\u{e9}'\n");
/// let cyrillic = b"#!/usr/bin/env python\n# coding: cp1251\nword = '\xcf\xf0\xe8'\n";
/// assert!(decode_source(cyrillic).unwrap().ends_with("word = '\u{41f}\u{440}\u{438}'\n"));
/// assert!(decode_source(b"x = '\xe9'\n").is_err()); // no coding line: UTF-8
/// ```
///
/// # Errors
/// [`SourceError::UnknownEncoding`] for a declared encoding that cannot be decoded,
/// [`SourceError::Malformed`] for bytes invalid in the encoding that applies,
/// [`SourceError::BomConflict`] for a byte-order mark with a coding line declaring
/// another encoding.
pub fn decode_source(bytes: &[u8]) -> Result<String, SourceError> {
    if let Some(rest) = bytes.strip_prefix(BOM) {
        if let Some(name) = declared(rest) {
            if !matches!(Codec::of(&name), Some(Codec::Utf8)) {
                return Err(SourceError::BomConflict(name));
            }
        }
        return utf8(rest, "after its byte-order mark");
    }
    let Some(name) = declared(bytes) else {
        return utf8(
            bytes,
            "and no coding line declares another encoding (PEP 263)",
        );
    };
    match Codec::of(&name) {
        None => Err(SourceError::UnknownEncoding(name)),
        Some(Codec::Utf8) => utf8(bytes, "as its coding line declares"),
        Some(Codec::Latin1) => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Some(Codec::Ascii) => match bytes.iter().position(|b| !b.is_ascii()) {
            None => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Some(at) => Err(SourceError::Malformed(format!(
                "byte {at} is not ASCII, as the coding line declares"
            ))),
        },
        Some(Codec::Other(encoding)) => encoding
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(Cow::into_owned)
            .ok_or_else(|| {
                SourceError::Malformed(format!(
                    "not valid {}, as the coding line declares `{name}`",
                    encoding.name()
                ))
            }),
    }
}

/// `bytes` as UTF-8, or the error saying why UTF-8 applied (`why`).
fn utf8(bytes: &[u8], why: &str) -> Result<String, SourceError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|err| {
            SourceError::Malformed(format!(
                "not valid UTF-8 (at byte {}), {why}",
                err.valid_up_to()
            ))
        })
}

/// How a declared encoding is decoded.
enum Codec {
    /// UTF-8, strictly.
    Utf8,
    /// Latin-1: each byte the character of its value.
    Latin1,
    /// ASCII, strictly.
    Ascii,
    /// A decoder of `encoding_rs`.
    Other(&'static Encoding),
}

impl Codec {
    /// The codec of the encoding CPython's codecs know as `name`, where one is
    /// available.
    fn of(name: &str) -> Option<Codec> {
        // CPython's codec lookup: case and the separators `-`, `_`, space do not count.
        let key: String = name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c == '_' || c == ' ' { '-' } else { c })
            .collect();
        let base = key.as_str();
        if base == "utf-8" || base == "utf8" || base.starts_with("utf-8-") || base == "u8" {
            return Some(Codec::Utf8);
        }
        let latin1 = [
            "latin-1",
            "latin1",
            "iso-8859-1",
            "iso8859-1",
            "l1",
            "iso-latin-1",
            "cp819",
            "8859",
            "latin",
        ];
        if latin1.contains(&base)
            || base.starts_with("iso-8859-1-")
            || base.starts_with("latin-1-")
            || base.starts_with("iso-latin-1-")
        {
            return Some(Codec::Latin1);
        }
        if matches!(base, "ascii" | "us-ascii" | "646" | "us") {
            return Some(Codec::Ascii);
        }
        // `encoding_rs` knows WHATWG labels, which spell some names with `_`
        // (`shift_jis`), some with `-` (`euc-jp`), some with neither (`iso88592`).
        let spellings = [
            base.to_owned(),
            base.replace('-', "_"),
            base.replace('-', ""),
        ];
        let encoding = spellings
            .iter()
            .find_map(|label| Encoding::for_label_no_replacement(label.as_bytes()))?;
        // A source file is never in UTF-16 (its coding line would not be ASCII).
        if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
            return None;
        }
        // WHATWG folds Latin-1's and ASCII's other names into windows-1252; CPython
        // does not.
        if encoding == encoding_rs::WINDOWS_1252 && !base.contains("1252") {
            return Some(if base.starts_with("ansi") {
                Codec::Ascii
            } else {
                Codec::Latin1
            });
        }
        Some(Codec::Other(encoding))
    }
}

/// The encoding that a coding declaration in the first two lines of `bytes` names: on
/// the first line, or on the second where the first is blank or a comment (as CPython's
/// tokenizer looks).
fn declared(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let first = lines.next()?;
    if let Some(name) = cookie(first) {
        return Some(name);
    }
    let trimmed = first
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\x0c' | b'\r'))
        .map(|at| &first[at..]);
    match trimmed {
        None => lines.next().and_then(cookie),
        Some(rest) if rest.first() == Some(&b'#') => lines.next().and_then(cookie),
        Some(_) => None,
    }
}

/// The encoding named by a coding declaration on `line` (PEP 263's
/// `^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`).
fn cookie(line: &[u8]) -> Option<String> {
    let text: String = line.iter().map(|&b| char::from(b)).collect();
    let comment = text
        .trim_start_matches([' ', '\t', '\x0c'])
        .strip_prefix('#')?;
    let mut from = 0;
    while let Some(at) = comment[from..].find("coding") {
        let rest = &comment[from + at + "coding".len()..];
        if let Some(value) = rest.strip_prefix([':', '=']) {
            let name: String = value
                .trim_start_matches([' ', '\t'])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
        from += at + "coding".len();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_the_default_and_the_byte_order_mark_is_dropped() {
        assert_eq!(decode_source("x = 'é'\n".as_bytes()).unwrap(), "x = 'é'\n");
        assert_eq!(decode_source(b"\xef\xbb\xbfx = 1\n").unwrap(), "x = 1\n");
        let err = decode_source(b"x = '\xe9'\n").unwrap_err();
        assert!(err.to_string().contains("no coding line"), "{err}");
        let err = decode_source(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n").unwrap_err();
        assert_eq!(err, SourceError::BomConflict("latin-1".into()));
        assert!(decode_source(b"\xef\xbb\xbf# coding: utf-8\nx = 1\n").is_ok());
    }

    #[test]
    fn the_second_line_counts_only_after_a_comment_or_a_blank_line() {
        let after_shebang = b"#!/usr/bin/python\n# vim: set fileencoding=latin-1 :\nx = '\xe9'\n";
        assert!(decode_source(after_shebang)
            .unwrap()
            .ends_with("x = '\u{e9}'\n"));
        let after_blank = b"\n# coding=latin-1\nx = '\xe9'\n";
        assert!(decode_source(after_blank).is_ok());
        let after_code = b"x = 1\n# coding: latin-1\ny = '\xe9'\n";
        assert!(decode_source(after_code).is_err());
        let third_line = b"#\n#\n# coding: latin-1\ny = '\xe9'\n";
        assert!(decode_source(third_line).is_err());
    }

    #[test]
    fn other_encodings_decode_by_their_python_names() {
        // "Привет" in cp1251 and in koi8-r, "日本" in Shift JIS and in EUC-JP.
        let cases: [(&str, &[u8], &str); 5] = [
            ("cp1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2", "Привет"),
            ("koi8_r", b"\xf0\xd2\xc9\xd7\xc5\xd4", "Привет"),
            ("shift_jis", b"\x93\xfa\x96\x7b", "日本"),
            ("euc_jp", b"\xc6\xfc\xcb\xdc", "日本"),
        ];
        for (name, word, text) in cases {
            let mut source = format!("# -*- coding: {name} -*-\nw = '").into_bytes();
            source.extend_from_slice(word);
            source.extend_from_slice(b"'\n");
            let decoded = decode_source(&source).unwrap();
            assert_eq!(
                decoded,
                format!("# -*- coding: {name} -*-\nw = '{text}'\n"),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_and_impossible_encodings_and_bad_bytes_are_errors() {
        let err = decode_source(b"# coding: klingon\nx = 1\n").unwrap_err();
        assert_eq!(err, SourceError::UnknownEncoding("klingon".into()));
        assert!(decode_source(b"# coding: utf-16\nx = 1\n").is_err());
        let err = decode_source(b"# coding: ascii\nx = '\xe9'\n").unwrap_err();
        assert!(matches!(err, SourceError::Malformed(_)), "{err}");
        let err = decode_source(b"# coding: shift_jis\nx = '\x93'\n").unwrap_err();
        assert!(err.to_string().contains("Shift_JIS"), "{err}");
    }
}
