//! Inline SVG charts (line charts and grouped bar charts) drawn as plain text, so a report
//! needs neither JavaScript nor any file beside it. Every text that reaches the SVG goes
//! through [`escape`]; every value drawn carries a `<title>` tooltip with the number.

use std::fmt::Write;

/// Chart width and height in SVG user units.
const W: f64 = 560.0;
const H: f64 = 330.0;
/// Plot area margins: left, right, top, bottom.
const ML: f64 = 60.0;
const MR: f64 = 16.0;
const MT: f64 = 34.0;
const MB: f64 = 46.0;

/// Series colours (colour-blind safe, Okabe–Ito), cycled.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
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

/// A number for labels: up to 4 significant decimals, `-` when not finite.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1000.0 || v == v.trunc() && a < 1e6 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// One point of a line series, with the tooltip shown on hover.
#[derive(Clone, Debug)]
pub struct Point {
    /// X value.
    pub x: f64,
    /// Y value.
    pub y: f64,
    /// Tooltip text.
    pub tip: String,
}

/// A named line.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points in drawing order (non-finite points are skipped).
    pub points: Vec<Point>,
    /// Draw a marker with a tooltip on each point.
    pub markers: bool,
}

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title drawn above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// X range.
    pub x_max: f64,
    /// Y range.
    pub y_max: f64,
    /// Draw the y = x reference line (ROC, calibration, gain).
    pub diagonal: Option<String>,
    /// Lines.
    pub series: Vec<Series>,
    /// Legend position.
    pub legend: Corner,
}

/// A bar chart: one group of bars per category, one bar per series.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// Title drawn above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Category labels (x axis).
    pub categories: Vec<String>,
    /// `(name, value per category)`; NaN values draw no bar.
    pub series: Vec<(String, Vec<f64>)>,
    /// Horizontal reference line `(y, label)`, e.g. lift 1.
    pub reference: Option<(f64, String)>,
}

/// A tick label: the shortest decimal that shows a multiple of `step`.
fn tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    format!("{v:.decimals$}")
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about five ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    mag * if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Axis maximum rounded up to a whole tick.
fn nice_max(max: f64) -> f64 {
    let step = tick_step(max);
    (max / step).ceil().max(1.0) * step
}

struct Frame {
    x_max: f64,
    y_max: f64,
    /// Chart height and bottom margin (taller when bar labels are tilted).
    h: f64,
    mb: f64,
    /// Left margin (wider when the first tilted label needs room).
    ml: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        self.ml + (W - self.ml - MR) * (v / self.x_max).clamp(0.0, 1.0)
    }
    fn y(&self, v: f64) -> f64 {
        self.h - self.mb - (self.h - MT - self.mb) * (v / self.y_max).clamp(0.0, 1.0)
    }
}

/// Opening tag, title, axes and y grid; x ticks are the caller's.
fn open(out: &mut String, title: &str, x_label: &str, y_label: &str, f: &Frame) {
    let _ = write!(
        out,
        r##"<svg class="chart" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img"><title>{t}</title><text class="title" x="{tx}" y="18">{t}</text>"##,
        t = escape(title),
        tx = W / 2.0,
        h = f.h,
    );
    let step = tick_step(f.y_max);
    let mut v = 0.0;
    while v <= f.y_max + step * 1e-9 {
        let y = f.y(v);
        let _ = write!(
            out,
            r##"<line class="grid" x1="{ml}" y1="{y:.1}" x2="{x2}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{l}</text>"##,
            ml = f.ml,
            x2 = W - MR,
            tx = f.ml - 6.0,
            ty = y + 4.0,
            l = tick(v, step),
        );
        v += step;
    }
    let _ = write!(
        out,
        r##"<line class="axis" x1="{ml}" y1="{yb}" x2="{xr}" y2="{yb}"/><line class="axis" x1="{ml}" y1="{MT}" x2="{ml}" y2="{yb}"/><text class="label" x="{cx}" y="{lx}" text-anchor="middle">{xl}</text><text class="label" transform="translate(14 {cy}) rotate(-90)" text-anchor="middle">{yl}</text>"##,
        yb = f.h - f.mb,
        xr = W - MR,
        ml = f.ml,
        cx = f.ml + (W - f.ml - MR) / 2.0,
        lx = f.h - 8.0,
        cy = MT + (f.h - MT - f.mb) / 2.0,
        xl = escape(x_label),
        yl = escape(y_label),
    );
}

/// Where a legend goes: the corner the data leave free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corner {
    /// Upper left of the plot.
    TopLeft,
    /// Lower right of the plot (ROC and gain curves rise to the upper left).
    BottomRight,
}

fn legend(out: &mut String, names: &[&str], corner: Corner, ml: f64) {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    for (i, name) in names.iter().enumerate() {
        let (x, y) = match corner {
            Corner::TopLeft => (ml + 10.0, MT + 6.0 + 16.0 * i as f64),
            Corner::BottomRight => (
                W - MR - 24.0 - 6.2 * longest,
                H - MB - 8.0 - 16.0 * (names.len() - 1 - i) as f64,
            ),
        };
        let _ = write!(
            out,
            r##"<rect class="legend" x="{x}" y="{ry}" width="10" height="10" fill="{c}"/><text class="legend" x="{tx}" y="{ty}">{n}</text>"##,
            ry = y - 9.0,
            c = PALETTE[i % PALETTE.len()],
            tx = x + 14.0,
            ty = y,
            n = escape(name),
        );
    }
}

/// Renders a line chart as an `<svg>` element.
pub fn line_chart(c: &LineChart) -> String {
    let f = Frame {
        x_max: if c.x_max > 0.0 { c.x_max } else { 1.0 },
        y_max: if c.y_max > 0.0 { c.y_max } else { 1.0 },
        h: H,
        mb: MB,
        ml: ML,
    };
    let mut out = String::new();
    open(&mut out, &c.title, &c.x_label, &c.y_label, &f);
    let step = tick_step(f.x_max);
    let mut v = 0.0;
    while v <= f.x_max + step * 1e-9 {
        let _ = write!(
            out,
            r##"<text class="tick" x="{x:.1}" y="{y}" text-anchor="middle">{l}</text>"##,
            x = f.x(v),
            y = f.h - f.mb + 16.0,
            l = tick(v, step),
        );
        v += step;
    }
    if let Some(label) = &c.diagonal {
        let m = f.x_max.min(f.y_max);
        let _ = write!(
            out,
            r##"<line class="diagonal" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"><title>{}</title></line>"##,
            f.x(0.0),
            f.y(0.0),
            f.x(m),
            f.y(m),
            escape(label),
        );
    }
    for (i, s) in c.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pts: Vec<&Point> = s
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .collect();
        let mut path = String::new();
        for p in &pts {
            let _ = write!(path, "{:.1},{:.1} ", f.x(p.x), f.y(p.y));
        }
        let _ = write!(
            out,
            r##"<polyline class="series" fill="none" stroke="{colour}" points="{}"><title>{}</title></polyline>"##,
            path.trim_end(),
            escape(&s.name),
        );
        if s.markers {
            for p in &pts {
                let _ = write!(
                    out,
                    r##"<circle class="point" cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"><title>{}</title></circle>"##,
                    f.x(p.x),
                    f.y(p.y),
                    escape(&p.tip),
                );
            }
        }
    }
    let names: Vec<&str> = c.series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut out, &names, c.legend, ML);
    out.push_str("</svg>");
    out
}

/// Renders a grouped bar chart as an `<svg>` element; each bar is a `<rect class="bar">`
/// with a tooltip naming its category, series and value.
pub fn bar_chart(c: &BarChart) -> String {
    let top = c
        .series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .chain(c.reference.as_ref().map(|r| r.0))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let n_cat = c.categories.len().max(1) as f64;
    let n_series = c.series.len().max(1) as f64;
    // Long labels would overlap: tilt them when they do not fit their slot, and make room
    // below for all of them and on the left for the first.
    let chars = |s: &String| s.chars().count() as f64;
    let longest = c.categories.iter().map(chars).fold(0.0, f64::max);
    let first = c.categories.first().map_or(0.0, chars);
    let tilt = longest * 6.0 > (W - ML - MR) / n_cat;
    let extra = if tilt { longest * 6.0 * 0.35 } else { 0.0 };
    let ml = if tilt {
        // The smallest ml with ml + slot / 2 >= the first label's width, where
        // slot = (W - ml - MR) / n_cat.
        let need = first * 6.0 * 0.94 + 4.0;
        ML.max((need * 2.0 * n_cat - (W - MR)) / (2.0 * n_cat - 1.0))
    } else {
        ML
    };
    let slot = (W - ml - MR) / n_cat;
    let bar_w = slot * 0.8 / n_series;
    // Headroom above the bars for the legend when there is one.
    let headroom = if c.series.len() > 1 { 1.3 } else { 1.05 };
    let f = Frame {
        x_max: 1.0,
        y_max: nice_max(top * headroom),
        h: H + extra,
        mb: MB + extra,
        ml,
    };
    let mut out = String::new();
    open(&mut out, &c.title, &c.x_label, &c.y_label, &f);
    for (k, cat) in c.categories.iter().enumerate() {
        let x0 = ml + slot * k as f64;
        let (cx, cy) = (x0 + slot / 2.0, f.h - f.mb + 14.0);
        if tilt {
            let _ = write!(
                out,
                r##"<text class="tick" transform="translate({cx:.1} {cy}) rotate(-20)" text-anchor="end">{}</text>"##,
                escape(cat),
            );
        } else {
            let _ = write!(
                out,
                r##"<text class="tick" x="{cx:.1}" y="{}" text-anchor="middle">{}</text>"##,
                cy + 2.0,
                escape(cat),
            );
        }
        for (j, (name, values)) in c.series.iter().enumerate() {
            let Some(&v) = values.get(k) else { continue };
            if !v.is_finite() {
                continue;
            }
            let (y, base) = (f.y(v.max(0.0)), f.y(0.0));
            let _ = write!(
                out,
                r##"<rect class="bar" x="{:.1}" y="{y:.1}" width="{bar_w:.1}" height="{:.1}" fill="{}"><title>{}: {} = {}</title></rect>"##,
                x0 + slot * 0.1 + bar_w * j as f64,
                base - y,
                PALETTE[j % PALETTE.len()],
                escape(cat),
                escape(name),
                num(v),
            );
        }
    }
    if let Some((v, label)) = &c.reference {
        let y = f.y(*v);
        let _ = write!(
            out,
            r##"<line class="diagonal" x1="{ml}" y1="{y:.1}" x2="{}" y2="{y:.1}"><title>{}</title></line>"##,
            W - MR,
            escape(label),
        );
    }
    if c.series.len() > 1 {
        let names: Vec<&str> = c.series.iter().map(|s| s.0.as_str()).collect();
        legend(&mut out, &names, Corner::TopLeft, ml);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(1.0), 0.2);
        assert_eq!(tick_step(7.3), 2.0);
        assert_eq!(nice_max(7.3), 8.0);
        assert_eq!(tick(0.4, 0.2), "0.4");
        assert_eq!(tick(15.0, 5.0), "15");
        assert_eq!(tick(0.05, 0.05), "0.05");
        assert_eq!(tick_step(f64::NAN), 1.0);
    }

    #[test]
    fn bar_chart_draws_one_rect_per_finite_value_with_tooltips() {
        let svg = bar_chart(&BarChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            categories: vec!["a".into(), "<b>".into(), "c".into()],
            series: vec![("s".into(), vec![1.0, 2.5, f64::NAN])],
            reference: Some((1.0, "random".into())),
        });
        assert_eq!(svg.matches(r#"<rect class="bar""#).count(), 2);
        assert!(svg.contains("&lt;b&gt;: s = 2.5000"), "{svg}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn line_chart_marks_points_and_skips_non_finite_ones() {
        let svg = line_chart(&LineChart {
            title: "roc".into(),
            x_label: "fpr".into(),
            y_label: "tpr".into(),
            x_max: 1.0,
            y_max: 1.0,
            diagonal: Some("random".into()),
            series: vec![Series {
                name: "m".into(),
                points: vec![
                    Point {
                        x: 0.0,
                        y: 0.0,
                        tip: "a".into(),
                    },
                    Point {
                        x: f64::NAN,
                        y: 0.5,
                        tip: "b".into(),
                    },
                    Point {
                        x: 1.0,
                        y: 1.0,
                        tip: "c".into(),
                    },
                ],
                markers: true,
            }],
            legend: Corner::TopLeft,
        });
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"points="60.0,284.0 544.0,34.0""#), "{svg}");
    }
}
