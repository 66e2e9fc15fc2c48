//! Values as the renderers write them: cut to a length, kept on one line.

use std::borrow::Cow;

use next_core::trace::Binding;

/// Cuts `value` to at most `max_chars` characters (Unicode scalar values) as
/// `trace-format.md` says: a longer value keeps its first `(max_chars - 3) / 2` and last
/// `max_chars - 3 - (max_chars - 3) / 2` characters around `...`, so the result is exactly
/// `max_chars` long. Values of `max_chars` or fewer characters are returned whole. Below
/// the 5 characters the renderers accept, the result is `...` plus what fits.
///
/// ```
/// use next_tracers::render::cut_value;
///
/// assert_eq!(cut_value("[1, 2, 3]", 60), "[1, 2, 3]");
/// assert_eq!(cut_value("abcdefghij", 8), "ab...hij");
/// ```
pub fn cut_value(value: &str, max_chars: usize) -> Cow<'_, str> {
    let count = value.chars().count();
    if count <= max_chars {
        return Cow::Borrowed(value);
    }
    let keep = max_chars.saturating_sub(3);
    let head = keep / 2;
    let tail = keep - head;
    let mut cut = String::with_capacity(max_chars + 8);
    cut.extend(value.chars().take(head));
    cut.push_str("...");
    cut.extend(value.chars().skip(count - tail));
    Cow::Owned(cut)
}

/// `text` with the characters that would end a line of the rendering (`\n`, `\r`)
/// written as the escapes `\n` and `\r`, as `repr` writes them. A tracer's `repr` never
/// holds them, but a user-defined `__repr__` can.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if text.contains(['\n', '\r']) {
        Cow::Owned(text.replace('\n', "\\n").replace('\r', "\\r"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A value as rendered: on one line, then cut to `max_chars`.
pub(crate) fn show(value: &str, max_chars: usize) -> String {
    cut_value(&one_line(value), max_chars).into_owned()
}

/// `name=value`, the value shown with [`show`].
pub(crate) fn binding(binding: &Binding, max_chars: usize) -> String {
    format!(
        "{}={}",
        one_line(&binding.name),
        show(&binding.value, max_chars)
    )
}

/// `name=value`, for a name and value that are not a [`Binding`].
pub(crate) fn item(name: &str, value: &str, max_chars: usize) -> String {
    format!("{name}={}", show(value, max_chars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_head_and_tail() {
        let value: String = ('a'..='z').collect();
        assert_eq!(cut_value(&value, 26), value);
        assert_eq!(cut_value(&value, 25), "abcdefghijk...pqrstuvwxyz");
        assert_eq!(cut_value(&value, 25).chars().count(), 25);
        assert_eq!(cut_value(&value, 5), "a...z");
        assert_eq!(cut_value(&value, 6), "a...yz");
        assert_eq!(cut_value("ééééééé", 5), "é...é");
        assert_eq!(cut_value(&value, 0), "...");
    }

    #[test]
    fn values_stay_on_one_line() {
        assert_eq!(show("a\nb\r", 60), "a\\nb\\r");
        assert_eq!(show("a\nbcdef", 5), "a...f");
        assert_eq!(binding(&Binding::new("x", "'ab'"), 60), "x='ab'");
    }
}
