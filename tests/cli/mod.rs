//! `propensity-train` refusing what would silently give wrong models or figures.

use crate::trainer;
use std::process::Output;

/// Exit status 2 and the error line on stderr.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    stderr
}

#[test]
fn label_windows_past_the_logs_last_day_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("e.csv");
    std::fs::write(
        &events,
        "customer_id,item_id,timestamp\nc1,i1,2024-01-05\nc2,i2,2024-03-10T15:00:00Z\n",
    )
    .expect("write");
    let events = events.to_str().expect("utf-8");
    let out = dir.path().join("m.bundle");
    let out = out.to_str().expect("utf-8");

    // A cutoff after the log ends (a stale export, say): training windows would see nobody buy.
    let e = refused(&trainer(&[
        "train",
        "--events",
        events,
        "--cutoff",
        "2024-04-01",
        "--out",
        out,
    ]));
    assert!(e.contains("after the log's last day, 2024-03-10"), "{e}");
    assert!(
        e.contains("2024-03-11T00:00:00Z"),
        "names the default cutoff: {e}"
    );

    // An evaluated window running past the last day, and the latest cutoff that fits.
    let csv = dir.path().join("f.csv");
    for (command, extra) in [
        ("evaluate", vec![]),
        ("features", vec!["--out", csv.to_str().expect("utf-8")]),
    ] {
        let mut args = vec![
            command,
            "--events",
            events,
            "--cutoff",
            "2024-03-01",
            "--horizon-days",
            "28",
        ];
        args.extend(extra);
        let e = refused(&trainer(&args));
        assert!(
            e.contains("[2024-03-01, 2024-03-29) runs past the log's last day, 2024-03-10"),
            "{command}: {e}"
        );
        assert!(e.contains("2024-02-12 or earlier"), "{command}: {e}");
    }
}
