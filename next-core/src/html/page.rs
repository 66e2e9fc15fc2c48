//! The page itself: escaping, the figures that carry their exact values, and the
//! document around the sections (its inline style, and a policy that forbids scripts).

use std::fmt::Write as _;

/// Escapes `text` for HTML text and for a quoted attribute value: `&`, `<`, `>`, `"`
/// and `'` become character references, so no text can open or close an element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as a figure on the page: shown rounded, with its name in `data-metric` and
/// its exact value in `data-value` (Rust's shortest round-trip form, as `serde_json`
/// writes it), so that a test can compare the page with the JSON it came from.
pub(crate) fn figure(name: &str, value: f64, shown: &str) -> String {
    format!(
        "<span class=\"m\" data-metric=\"{}\" data-value=\"{value}\">{}</span>",
        escape(name),
        escape(shown)
    )
}

/// A rate in [0, 1] shown as a percentage with one decimal.
pub(crate) fn percent(name: &str, value: f64) -> String {
    figure(name, value, &format!("{:.1}%", 100.0 * value))
}

/// A count.
pub(crate) fn count(name: &str, value: usize) -> String {
    #[allow(clippy::cast_precision_loss)] // counts of tasks and samples
    let exact = value as f64;
    figure(name, exact, &value.to_string())
}

/// A rate with its interval, `43.8% [30.1, 55.0]`; the ends are named `NAME.low` and
/// `NAME.high`.
pub(crate) fn interval(name: &str, estimate: f64, low: f64, high: f64) -> String {
    format!(
        "{} <span class=\"ci\">[{}, {}]</span>",
        percent(name, estimate),
        figure(&format!("{name}.low"), low, &format!("{:.1}", 100.0 * low)),
        figure(
            &format!("{name}.high"),
            high,
            &format!("{:.1}", 100.0 * high)
        ),
    )
}

/// Text in a `<pre>` block, escaped.
pub(crate) fn pre(text: &str, class: &str) -> String {
    format!("<pre class=\"{class}\">{}</pre>", escape(text))
}

/// A table: `head` cells (escaped) and rows of cells that are already HTML.
pub(crate) fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for cell in head {
        let _ = write!(out, "<th>{}</th>", escape(cell));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A page being written: a title and sections of HTML.
pub(crate) struct Page {
    title: String,
    body: String,
}

impl Page {
    /// An empty page; `title` is text (escaped here).
    pub(crate) fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            body: String::new(),
        }
    }

    /// Adds a paragraph of HTML.
    pub(crate) fn paragraph(&mut self, html: &str) {
        let _ = write!(self.body, "<p>{html}</p>");
    }

    /// Adds a section with a heading (text) and a body (HTML).
    pub(crate) fn section(&mut self, id: &str, heading: &str, html: &str) {
        let _ = write!(
            self.body,
            "<section id=\"{}\"><h2>{}</h2>{html}</section>",
            escape(id),
            escape(heading)
        );
    }

    /// The whole document. Its content security policy allows no script and no
    /// fetch, so that even a mistake in escaping could not run model output.
    pub(crate) fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; img-src data:\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head>\n<body><h1>{title}</h1>\
             {body}<footer>Written by <code>next report</code>. Intervals are 95% \
             percentile bootstrap intervals over the tasks.</footer></body></html>\n",
            title = escape(&self.title),
            body = self.body,
        )
    }
}

/// The page's style: system fonts only, nothing fetched.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;\
max-width:1100px;padding:0 1em;color:#1d2330;background:#fff}\
h1{font-size:1.6em;border-bottom:3px solid #3b6fd4;padding-bottom:.3em}\
h2{font-size:1.25em;margin-top:1.8em;color:#24427e}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}\
th,td{border:1px solid #cfd6e4;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#e8eef9}tr:nth-child(even) td{background:#f6f8fc}\
.ci{color:#5b6475;font-size:.9em}.m{font-variant-numeric:tabular-nums}\
pre{background:#f3f5f9;border:1px solid #dde3ee;padding:.6em;overflow-x:auto;\
font-size:.85em;white-space:pre-wrap}\
pre.trace{background:#fbf8ee;border-color:#eadfb8}pre.fix{background:#eef8f0}\
details{margin:.4em 0;padding:.2em .6em;border-left:3px solid #cfd6e4}\
summary{cursor:pointer;font-weight:600}\
.pass{color:#1f7a34;font-weight:700}.fail{color:#b3261e;font-weight:700}\
.kept{background:#1f7a34;color:#fff;border-radius:3px;padding:0 .4em;font-size:.8em}\
.plots{display:flex;flex-wrap:wrap;gap:1.2em}svg{background:#fff;border:1px solid #e3e7ef}\
footer{margin-top:3em;color:#5b6475;font-size:.85em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        let text = "</script><script>alert('x')</script> & \"q\"";
        let escaped = escape(text);
        assert_eq!(
            escaped,
            "&lt;/script&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert!(!escaped.contains(['<', '>', '"', '\'']));
    }

    #[test]
    fn a_figure_carries_its_exact_value() {
        let value = 0.1 + 0.2;
        let html = percent("eval-1.pass@1", value);
        assert!(html.contains("data-metric=\"eval-1.pass@1\""), "{html}");
        let exact = html
            .split("data-value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        assert_eq!(exact.parse::<f64>().ok(), Some(value));
        assert!(html.contains(">30.0%<"), "{html}");
        assert!(figure("a\"b", 1.0, "<1>").contains("data-metric=\"a&quot;b\""));
    }
}
