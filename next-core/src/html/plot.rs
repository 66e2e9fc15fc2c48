//! The plots: small SVG charts written as text, with no script. Rates are drawn on a
//! fixed 0-100% axis, so that two plots of a page read alike.

use std::fmt::Write as _;

use super::page::escape;

/// The series colours, distinguishable and printable.
const COLOURS: [&str; 8] = [
    "#3b6fd4", "#e0702a", "#2f9e55", "#c0392b", "#8e5cc2", "#8c6d31", "#d6609e", "#5f6b7a",
];

/// The colour of series `i`.
fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// A value with its interval, where it has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Value {
    /// The estimate, a rate in [0, 1].
    pub(crate) estimate: f64,
    /// The interval, `(low, high)`.
    pub(crate) interval: Option<(f64, f64)>,
}

/// A line: its label and one value per x position (`None` where it has none).
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) values: Vec<Option<Value>>,
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 58.0;

/// The plot area's y for a rate.
fn y_of(rate: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - rate.clamp(0.0, 1.0))
}

/// The opening of a chart: the frame, the title and the y axis with its grid, 0-100%
/// for rates, or 0 to `most` for counts.
fn frame(title: &str, x_label: &str, most: Option<usize>) -> String {
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" font-family=\"sans-serif\" \
         font-size=\"11\"><title>{t}</title>\
         <text x=\"{x}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" \
         font-weight=\"bold\">{t}</text>\
         <text x=\"{x}\" y=\"{xl}\" text-anchor=\"middle\">{xlab}</text>",
        t = escape(title),
        x = WIDTH / 2.0,
        xl = HEIGHT - 6.0,
        xlab = escape(x_label),
    );
    for tick in 0..=5 {
        let rate = f64::from(tick) / 5.0;
        let y = y_of(rate);
        #[allow(clippy::cast_precision_loss)]
        let label = match most {
            None => format!("{}%", tick * 20),
            Some(most) => {
                let value = format!("{:.1}", most as f64 * rate);
                value.trim_end_matches(".0").to_owned()
            }
        };
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#e3e7ef\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#5b6475\"/>",
        y_of(0.0)
    );
    svg
}

/// A line chart of rates: one line per series over the categories `xs` (their labels),
/// each point with its interval as a whisker, and a legend.
pub(crate) fn lines(title: &str, x_label: &str, xs: &[String], series: &[Series]) -> String {
    let mut svg = frame(title, x_label, None);
    let span = WIDTH - LEFT - RIGHT;
    #[allow(clippy::cast_precision_loss)] // a handful of categories
    let x_of = |i: usize| LEFT + span * (i as f64 + 0.5) / xs.len().max(1) as f64;
    for (i, label) in xs.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x_of(i),
            y_of(0.0) + 15.0,
            escape(label)
        );
    }
    for (s, line) in series.iter().enumerate() {
        let stroke = colour(s);
        let points: Vec<(usize, Value)> = line
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|(i, v)| format!("{:.1},{:.1}", x_of(*i), y_of(v.estimate)))
            .collect();
        if path.len() > 1 {
            let _ = write!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"2\"/>",
                path.join(" ")
            );
        }
        for (i, v) in &points {
            let x = x_of(*i);
            if let Some((low, high)) = v.interval {
                let _ = write!(
                    svg,
                    "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" \
                     stroke=\"{stroke}\" stroke-width=\"1.5\" opacity=\"0.6\"/>",
                    y_of(low),
                    y_of(high)
                );
            }
            let _ = write!(
                svg,
                "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{stroke}\">\
                 <title>{}: {}: {:.1}%</title></circle>",
                y_of(v.estimate),
                escape(&line.label),
                escape(&xs[*i]),
                100.0 * v.estimate
            );
        }
    }
    legend(&mut svg, series.iter().map(|s| s.label.as_str()));
    svg.push_str("</svg>");
    svg
}

/// A bar chart of rates: one group per category, one bar per series in each, with
/// whiskers for the intervals, and a legend.
pub(crate) fn bars(title: &str, x_label: &str, xs: &[String], series: &[Series]) -> String {
    bars_scaled(title, x_label, xs, series, None)
}

/// [`bars`] on the axis of [`frame`]'s `most`.
fn bars_scaled(
    title: &str, x_label: &str, xs: &[String], series: &[Series], most: Option<usize>,
) -> String {
    let mut svg = frame(title, x_label, most);
    let span = WIDTH - LEFT - RIGHT;
    #[allow(clippy::cast_precision_loss)]
    let group = span / xs.len().max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let bar = (group * 0.8) / series.len().max(1) as f64;
    for (i, label) in xs.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let start = LEFT + group * i as f64 + group * 0.1;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            start + group * 0.4,
            y_of(0.0) + 15.0,
            escape(label)
        );
        for (s, line) in series.iter().enumerate() {
            let Some(Some(v)) = line.values.get(i) else {
                continue;
            };
            #[allow(clippy::cast_precision_loss)]
            let x = start + bar * s as f64;
            let top = y_of(v.estimate);
            #[allow(clippy::cast_precision_loss)]
            let shown = match most {
                None => format!("{:.1}%", 100.0 * v.estimate),
                Some(most) => format!("{:.0}", v.estimate * most as f64),
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{}\"><title>{}: {}: {shown}</title></rect>",
                (bar - 2.0).max(1.0),
                y_of(0.0) - top,
                colour(s),
                escape(&line.label),
                escape(label),
            );
            if let Some((low, high)) = v.interval {
                let mid = x + (bar - 2.0).max(1.0) / 2.0;
                let _ = write!(
                    svg,
                    "<line x1=\"{mid:.1}\" x2=\"{mid:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" \
                     stroke=\"#1d2330\" stroke-width=\"1.2\"/>",
                    y_of(low),
                    y_of(high)
                );
            }
        }
    }
    legend(&mut svg, series.iter().map(|s| s.label.as_str()));
    svg.push_str("</svg>");
    svg
}

/// Counts as bars (training examples kept, tasks found hard): `(label, count)`, on an
/// axis from 0 to the largest.
pub(crate) fn counts(title: &str, x_label: &str, values: &[(String, usize)]) -> String {
    let most = values.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    #[allow(clippy::cast_precision_loss)]
    let series = [Series {
        label: "count".to_owned(),
        values: values
            .iter()
            .map(|(_, n)| {
                Some(Value {
                    estimate: *n as f64 / most as f64,
                    interval: None,
                })
            })
            .collect(),
    }];
    let labels: Vec<String> = values.iter().map(|(l, _)| l.clone()).collect();
    bars_scaled(title, x_label, &labels, &series, Some(most))
}

/// The legend, one swatch and label per series, along the bottom.
fn legend<'a>(svg: &mut String, labels: impl Iterator<Item = &'a str>) {
    let mut x = LEFT;
    let y = HEIGHT - 24.0;
    for (i, label) in labels.enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            y - 9.0,
            colour(i),
            x + 14.0,
            escape(label)
        );
        #[allow(clippy::cast_precision_loss)]
        let width = 7.0 * label.chars().count() as f64;
        x += 30.0 + width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_escapes_its_labels_and_draws_each_point() {
        let series = [Series {
            label: "<b>".to_owned(),
            values: vec![
                Some(Value {
                    estimate: 0.5,
                    interval: Some((0.25, 0.75)),
                }),
                None,
                Some(Value {
                    estimate: 1.0,
                    interval: None,
                }),
            ],
        }];
        let xs = ["a".to_owned(), "b&".to_owned(), "c".to_owned()];
        let svg = lines("t", "x", &xs, &series);
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;") && svg.contains("b&amp;"));
        assert_eq!(svg.matches("<circle").count(), 2);
        let svg = bars("t", "x", &xs, &series);
        assert_eq!(svg.matches("<rect").count(), 2 + 1, "two bars and a swatch");
        let svg = counts("t", "x", &[("iter-1".into(), 3), ("iter-2".into(), 5)]);
        assert!(svg.contains(">5</text>") && svg.contains(">4</text>") && !svg.contains('%'));
    }
}
