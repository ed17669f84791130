//! `propensity-train evaluate --report --html` end to end on a small synthetic log whose
//! path contains markup: the HTML must be well formed, self-contained, escaped, and show the
//! same figures as the JSON.

use std::path::Path;

fn train(args: &[&str]) {
    let out = crate::trainer(args);
    assert!(
        out.status.success(),
        "{args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Elements HTML allows without a closing tag.
const VOID: [&str; 2] = ["meta", "br"];

/// Checks that every start tag is closed in order (SVG elements included) and returns the
/// number of `<svg>` elements.
fn check_balanced(html: &str) -> usize {
    let mut stack: Vec<String> = Vec::new();
    let mut svgs = 0;
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unterminated tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_default();
            assert_eq!(open, name, "</{name}> closes <{open}>");
            continue;
        }
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad tag <{tag}>"
        );
        if name == "svg" {
            svgs += 1;
        }
        if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    svgs
}

/// The text of the element with id `id` (no nested tags).
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let key = format!("id=\"{id}\">");
    let start = html.find(&key).unwrap_or_else(|| panic!("no #{id}")) + key.len();
    let len = html[start..].find('<').expect("element text ends");
    &html[start..start + len]
}

#[test]
fn html_report_is_self_contained_escaped_and_matches_the_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A directory and a file name that together spell a script tag in the shown path.
    let odd = dir.path().join("<script>alert(1)<");
    std::fs::create_dir(&odd).expect("mkdir");
    let events = odd.join("script>.csv");
    let ev = events.to_str().expect("utf-8 path");
    train(&[
        "synth",
        "--customers",
        "400",
        "--items",
        "80",
        "--days",
        "240",
        "--seed",
        "42",
        "--out",
        ev,
    ]);
    let json_path = dir.path().join("r.json");
    let html_path = dir.path().join("r.html");
    train(&[
        "evaluate",
        "--events",
        ev,
        "--items",
        odd.join("script>.items.csv").to_str().expect("utf-8"),
        "--cutoff",
        "2024-07-01",
        "--horizon-days",
        "28",
        "--report",
        json_path.to_str().expect("utf-8"),
        "--html",
        html_path.to_str().expect("utf-8"),
    ]);
    let html = std::fs::read_to_string(&html_path).expect("read html");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("read json"))
            .expect("json");

    // Well formed, and every chart present: ROC, calibration, lift, gain, two
    // recommendation breakdowns, repurchase curve, day error.
    assert_eq!(check_balanced(&html), 8);
    // Self-contained and escaped.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("src=") && !html.contains("href="));
    assert!(!html.to_lowercase().contains("<script"), "unescaped markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.csv"));

    // Ten decile bars, each with its value as a tooltip.
    let lift = &html[html.find("id=\"lift-deciles\"").expect("lift chart")..];
    let lift = &lift[..lift.find("</svg>").expect("end of chart")];
    assert_eq!(lift.matches("<rect class=\"bar\"").count(), 10);
    // The chart title, ten bars and the lift-1 reference line.
    assert_eq!(lift.matches("<title>").count(), 12);

    // The figures quoted are the JSON's.
    let churn = &json["churn"];
    let auc = churn["auc"].as_f64().expect("auc");
    let lift10 = churn["lift@10pct"].as_f64().expect("lift@10pct");
    assert_eq!(by_id(&html, "churn-auc"), format!("{auc:.4}"));
    assert_eq!(by_id(&html, "churn-lift"), format!("{lift10:.4}"));
    assert!(
        lift10 > 1.0,
        "the churn model beats random on synth: {lift10}"
    );
    let deciles = churn["deciles"].as_array().expect("deciles");
    assert_eq!(deciles.len(), 10);
    assert_eq!(deciles[0]["lift"].as_f64(), Some(lift10));
    let last_gain = deciles[9]["cum_gain"].as_f64().expect("cum_gain");
    assert!((last_gain - 1.0).abs() < 1e-9);
    // Recommendation metrics per segment and history bucket come from the same run.
    let ranker_ndcg = json["recommend"]["ndcg@10"].as_f64().expect("ndcg@10");
    assert!(html.contains(&format!("<td>{ranker_ndcg:.4}</td>")));
    assert!(html.contains("By RFM segment") && html.contains("10+"));
    assert!(
        Path::new(&html_path)
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0)
            < 400_000
    );
}
