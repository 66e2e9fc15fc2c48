//! Python's `repr` of plain values, and plain values as Python source.

use std::fmt::Write as _;

use super::data::Value;
use num_traits::Signed;

impl Value {
    /// `repr(self)`, cut after about `limit` characters with `...`.
    pub fn repr(&self, limit: usize) -> String {
        let mut out = Repr {
            text: String::new(),
            limit,
        };
        // Writing stops with Err once the limit is passed; the text so far is kept.
        let complete = out.value(self).is_ok();
        let mut text = out.text;
        if !complete {
            let mut cut = limit.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        text
    }
}

/// Python's `repr` of a float.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Rust's shortest round-trip digits, re-laid out the way Python's repr does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            let zeros = usize::try_from(-point).unwrap_or(0);
            format!("0.{}{digits}", "0".repeat(zeros))
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

/// Python's `repr` of a complex number.
pub fn complex_repr(re: f64, im: f64) -> String {
    let part = |f: f64| {
        let r = float_repr(f);
        r.strip_suffix(".0").map_or(r.clone(), str::to_owned)
    };
    let imag = format!("{}j", part(im));
    if re == 0.0 && re.is_sign_positive() {
        imag
    } else {
        let sign = if im.is_sign_negative() || im.is_nan() && im.is_sign_negative() {
            ""
        } else {
            "+"
        };
        format!("({}{sign}{imag})", part(re))
    }
}

/// Python's `repr` of a str (close enough for messages): the data loaders' literal.
pub fn str_repr(s: &str) -> String {
    next_core::data::str_literal(s)
}

fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(char::from(quote));
    for &x in b {
        match x {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            x if x == quote => {
                out.push('\\');
                out.push(char::from(x));
            }
            0x20..=0x7e => out.push(char::from(x)),
            x => {
                let _ = write!(out, "\\x{x:02x}");
            }
        }
    }
    out.push(char::from(quote));
    out
}

struct Repr {
    text: String,
    limit: usize,
}

/// Marks that the repr passed its limit.
struct Full;

impl Repr {
    fn push(&mut self, s: &str) -> Result<(), Full> {
        self.text.push_str(s);
        if self.text.len() > self.limit {
            Err(Full)
        } else {
            Ok(())
        }
    }

    fn items<'a>(
        &mut self, open: &str, close: &str, items: impl Iterator<Item = &'a Value>, one_tuple: bool,
    ) -> Result<(), Full> {
        self.push(open)?;
        let mut count = 0;
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.push(", ")?;
            }
            self.value(item)?;
            count += 1;
        }
        if one_tuple && count == 1 {
            self.push(",")?;
        }
        self.push(close)
    }

    fn value(&mut self, v: &Value) -> Result<(), Full> {
        match v {
            Value::None => self.push("None"),
            Value::Bool(true) => self.push("True"),
            Value::Bool(false) => self.push("False"),
            Value::Int(i) => {
                if i.bits() > 20_000 {
                    let sign = if i.is_negative() { "-" } else { "" };
                    self.push(&format!("{sign}<an int of {} bits>", i.bits()))
                } else {
                    self.push(&i.to_string())
                }
            }
            Value::Float(f) => self.push(&float_repr(*f)),
            Value::Complex(re, im) => self.push(&complex_repr(*re, *im)),
            Value::Str(s) => {
                let cut: String = s.chars().take(self.limit + 1).collect();
                self.push(&str_repr(&cut))
            }
            Value::Bytes(b) => {
                let cut = &b[..b.len().min(self.limit + 1)];
                self.push(&bytes_repr(cut))
            }
            Value::List(items) => self.items("[", "]", items.iter(), false),
            Value::Tuple(items) => self.items("(", ")", items.iter(), true),
            Value::Set(items) if items.is_empty() => self.push("set()"),
            Value::Set(items) => self.items("{", "}", items.iter(), false),
            Value::FrozenSet(items) if items.is_empty() => self.push("frozenset()"),
            Value::FrozenSet(items) => self.items("frozenset({", "})", items.iter(), false),
            Value::Dict(pairs) => {
                self.push("{")?;
                for (i, (k, x)) in pairs.iter().enumerate() {
                    if i > 0 {
                        self.push(", ")?;
                    }
                    self.value(k)?;
                    self.push(": ")?;
                    self.value(x)?;
                }
                self.push("}")
            }
        }
    }
}

/// Writes a plain value as Python source that evaluates to it.
pub fn py_literal(v: &Value) -> String {
    let mut out = String::new();
    literal_into(v, &mut out);
    out
}

fn literal_into(v: &Value, out: &mut String) {
    let seq = |open: &str, close: &str, items: &[Value], out: &mut String| {
        out.push_str(open);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            literal_into(item, out);
        }
        out.push_str(close);
    };
    match v {
        Value::Float(f) if f.is_nan() => out.push_str("float('nan')"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 {
            "float('inf')"
        } else {
            "float('-inf')"
        }),
        Value::Complex(re, im) => {
            out.push_str("complex(");
            literal_into(&Value::Float(*re), out);
            out.push_str(", ");
            literal_into(&Value::Float(*im), out);
            out.push(')');
        }
        Value::Str(s) => out.push_str(&str_literal(s)),
        Value::List(items) => seq("[", "]", items, out),
        Value::Tuple(items) if items.len() == 1 => seq("(", ",)", items, out),
        Value::Tuple(items) => seq("(", ")", items, out),
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => seq("{", "}", items, out),
        Value::FrozenSet(items) => seq("frozenset([", "])", items, out),
        Value::Dict(pairs) => {
            out.push('{');
            for (i, (k, x)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                literal_into(k, out);
                out.push_str(": ");
                literal_into(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.repr(usize::MAX / 2)),
    }
}

/// A Python string literal for `s`, escaping everything that is not printable ASCII.
pub fn str_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('\'');
    out
}
