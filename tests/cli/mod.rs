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

/// A small synthetic log in `dir`, as `propensity-train synth` writes it.
fn small_log(dir: &std::path::Path) -> String {
    let events = dir.join("e.csv");
    let events = events.to_str().expect("utf-8").to_string();
    let out = trainer(&[
        "synth",
        "--customers",
        "400",
        "--items",
        "60",
        "--seed",
        "3",
        "--out",
        &events,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events
}

#[test]
fn one_training_config_file_drives_both_model_families_and_lands_in_the_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = small_log(dir.path());
    let defaults = trainer(&["config", "--defaults"]);
    assert!(defaults.status.success());
    let text = String::from_utf8(defaults.stdout).expect("utf-8");
    assert!(text.contains("[propensity.churn]") && text.contains("[recommend.ranker]"));
    // The printed file is a valid config; change one key of each table.
    let text = text
        .replacen("cached_top = 50", "cached_top = 7", 1)
        .replacen("active_days = 90", "active_days = 60", 1);
    assert!(text.contains("cached_top = 7") && text.contains("active_days = 60"));
    let config = dir.path().join("c.toml");
    std::fs::write(&config, &text).expect("write");
    let bundle = dir.path().join("m.bundle");
    let bundle = bundle.to_str().expect("utf-8");
    let out = trainer(&[
        "train",
        "--events",
        &events,
        "--config",
        config.to_str().expect("utf-8"),
        "--out",
        bundle,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = trainer(&["inspect", bundle]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("cached_top = 7"), "{shown}");
    assert!(shown.contains("active_days = 60"), "{shown}");
    assert!(
        shown.contains("[recommend.knn]"),
        "effective config, defaults filled in"
    );

    // A typo names the key, the file and the line.
    std::fs::write(&config, "[recommend]\ncached_tpo = 7\n").expect("write");
    let e = refused(&trainer(&[
        "evaluate",
        "--events",
        &events,
        "--cutoff",
        "2024-12-01",
        "--horizon-days",
        "28",
        "--config",
        config.to_str().expect("utf-8"),
    ]));
    assert!(e.contains("cached_tpo") && e.contains("c.toml"), "{e}");
}

#[test]
fn gbdt_flags_are_the_parameters_doc_comments() {
    let help = trainer(&["gbdt", "train", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for line in [
        "--num-iterations <NUM_ITERATIONS>",
        "Boosting rounds (trees). [default: 100]",
        "--poisson-max-delta-step",
        "[default: binary]",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}

#[test]
fn train_draws_stage_progress_on_a_terminal_only() {
    let Ok(script) = which_script() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "`script` (util-linux) is needed to run the trainer on a terminal"
        );
        eprintln!("skipped: no `script` to give the trainer a terminal");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let events = small_log(dir.path());
    let bin = env!("CARGO_BIN_EXE_propensity-train");
    let run = |quiet: &str| {
        let bundle = dir.path().join("m.bundle");
        let command = format!(
            "{bin} train {quiet} --events {events} --out {}",
            bundle.display()
        );
        let out = std::process::Command::new(&script)
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("run script");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A bar shows "done/total unit" while its stage runs; the log line only names the unit.
    let drawn = |s: &str, unit: &str| {
        s.split(unit).any(|before| {
            let before = before.trim_end();
            let count = before.rsplit(' ').next().unwrap_or("");
            count
                .split_once('/')
                .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok())
        })
    };
    let shown = run("");
    assert!(
        drawn(&shown, "sweeps"),
        "no ALS bar on a terminal:\n{shown}"
    );
    assert!(
        drawn(&shown, "rounds"),
        "no GBDT bar on a terminal:\n{shown}"
    );
    assert!(shown.contains("stage done"), "stage times are still logged");
    let quiet = run("--quiet");
    assert!(
        !drawn(&quiet, "sweeps") && !drawn(&quiet, "rounds"),
        "{quiet}"
    );
    assert!(quiet.contains("stage done"));
    // Not a terminal: no bars either.
    let bundle = dir.path().join("n.bundle");
    let piped = trainer(&[
        "train",
        "--events",
        &events,
        "--out",
        bundle.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !drawn(&stderr, "sweeps") && stderr.contains("stage done"),
        "{stderr}"
    );
}

fn which_script() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/script", "/bin/script"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .ok_or(())
}
