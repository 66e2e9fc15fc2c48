//! A JSON reader that keeps what `serde_json` (without `arbitrary_precision`) loses:
//! integers of any size, kept as their digits, and the non-standard `Infinity`,
//! `-Infinity` and `NaN` of the EvalPlus files. Its values are written back as Python
//! literals, exactly (a 100-digit integer stays 100 digits).

use std::fmt::Write as _;

/// A JSON value with numbers kept as their source text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (`12`, `-1.5e-06`, a 100-digit integer).
    Number(String),
    /// `Infinity` (`true`) or `-Infinity` (`false`).
    Infinity(bool),
    /// `NaN`.
    NaN,
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, its members in file order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON text (a whole line of a JSON Lines file).
    ///
    /// # Errors
    /// A message with the byte offset where the text stops being JSON.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
            depth: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at byte {}", p.i));
        }
        Ok(v)
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as an `f64`, if this is a number (infinities included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.parse().ok(),
            Json::Infinity(positive) => Some(if *positive {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            }),
            _ => None,
        }
    }

    /// The value as a Python literal that `ast.literal_eval` reads back: arrays as
    /// lists, objects as dicts, infinities as `1e999`/`-1e999`.
    ///
    /// # Errors
    /// A message for `NaN`, which has no literal.
    pub fn to_python(&self) -> Result<String, String> {
        let mut out = String::new();
        self.write_python(&mut out)?;
        Ok(out)
    }

    fn write_python(&self, out: &mut String) -> Result<(), String> {
        match self {
            Json::Null => out.push_str("None"),
            Json::Bool(true) => out.push_str("True"),
            Json::Bool(false) => out.push_str("False"),
            Json::Number(n) => out.push_str(n),
            Json::Infinity(true) => out.push_str("1e999"),
            Json::Infinity(false) => out.push_str("-1e999"),
            Json::NaN => return Err("NaN has no Python literal".to_owned()),
            Json::Str(s) => out.push_str(&str_literal(s)),
            Json::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    item.write_python(out)?;
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&str_literal(k));
                    out.push_str(": ");
                    v.write_python(out)?;
                }
                out.push('}');
            }
        }
        Ok(())
    }
}

/// A Python string literal for `s`, quoted as `repr` quotes it (single quotes unless the
/// text holds one and no double quote).
pub fn str_literal(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let code = u32::from(c);
                if code < 0x100 {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{code:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Arrays and objects nested deeper than this are refused rather than recursed into.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return self.err("unexpected end");
        };
        match c {
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.err("nesting too deep");
                }
                let v = if c == b'{' {
                    self.object()
                } else {
                    self.array()
                };
                self.depth -= 1;
                v
            }
            b'"' => self.string().map(Json::Str),
            b'-' if self.s[self.i..].starts_with(b"-Infinity") => {
                self.i += "-Infinity".len();
                Ok(Json::Infinity(false))
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ if self.eat("true") => Ok(Json::Bool(true)),
            _ if self.eat("false") => Ok(Json::Bool(false)),
            _ if self.eat("null") => Ok(Json::Null),
            _ if self.eat("Infinity") => Ok(Json::Infinity(true)),
            _ if self.eat("NaN") => Ok(Json::NaN),
            _ => self.err("unexpected character"),
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return self.err("expected a key");
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return self.err("expected `:`");
            }
            let value = self.value()?;
            members.push((key, value));
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Json::Object(members));
            }
            return self.err("expected `,` or `}`");
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Json::Array(items));
            }
            return self.err("expected `,` or `]`");
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let from = p.i;
            while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i > from
        };
        if !digits(self) {
            return self.err("expected digits");
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return self.err("expected digits after `.`");
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return self.err("expected exponent digits");
            }
        }
        let text = &self.text[start..self.i];
        // Python reads `007` as an error; JSON forbids it too, but be exact anyway.
        let int_part = text.trim_start_matches('-');
        if int_part.len() > 1
            && int_part.starts_with('0')
            && int_part.as_bytes()[1].is_ascii_digit()
        {
            return self.err("leading zero");
        }
        Ok(Json::Number(text.to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let Some(hex) = self.text.get(self.i..self.i + 4) else {
            return self.err("short \\u escape");
        };
        let code = u32::from_str_radix(hex, 16).or_else(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(code)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(_) => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code) && self.eat("\\u") {
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return self.err("unpaired surrogate");
                                }
                                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                            }
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => return self.err("unpaired surrogate"),
                            }
                        }
                        _ => return self.err("unknown escape"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_integers_and_infinities_survive() {
        let big = "1234567890123456789012345678901234567890";
        let v = Json::parse(&format!(r#"{{"a": [{big}, -Infinity, Infinity, 1e-06]}}"#)).unwrap();
        assert_eq!(
            v.get("a").unwrap().to_python().unwrap(),
            format!("[{big}, -1e999, 1e999, 1e-06]")
        );
        assert!(Json::parse("[NaN]").unwrap().to_python().is_err());
    }

    #[test]
    fn strings_become_python_literals() {
        let v =
            Json::parse(r#"["it's", "a\"b\\\n\u0001", "\ud83d\ude00", {"k": null, "t": true}]"#)
                .unwrap();
        assert_eq!(
            v.to_python().unwrap(),
            "[\"it's\", 'a\"b\\\\\\n\\x01', '\u{1F600}', {'k': None, 't': True}]"
        );
    }

    #[test]
    fn malformed_json_is_refused_with_an_offset() {
        for bad in ["[1,", "{\"a\" 1}", "[01]", "\"\\ud800\"", "[1] x", "tru"] {
            let err = Json::parse(bad).unwrap_err();
            assert!(err.contains("byte"), "{bad}: {err}");
        }
    }
}
