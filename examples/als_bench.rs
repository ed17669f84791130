//! Times an ALS fit on a `user,item,value` CSV of triples (header row), for the side-by-side
//! comparison with Python's `implicit` in `benches/als_vs_implicit.py`.
//!
//! `cargo run --release --example als_bench -- triples.csv --factors 128 --iterations 15 --threads 2`

use anyhow::Context;
use clap::Parser;
use propensity::cf::Interactions;
use propensity::cf::als::{self, AlsParams};
use std::time::Instant;

/// Fit ALS on a triples file and print the fit time of each repeat.
#[derive(Parser)]
struct Args {
    /// CSV with header `user,item,value` (dense 0-based indices).
    triples: std::path::PathBuf,
    /// Latent factors.
    #[arg(long, default_value_t = 128)]
    factors: usize,
    /// Sweeps.
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    /// CG steps per row per sweep.
    #[arg(long, default_value_t = 3)]
    cg_steps: usize,
    /// Regularisation λ.
    #[arg(long, default_value_t = 0.01)]
    regularization: f32,
    /// Confidence scale α.
    #[arg(long, default_value_t = 1.0)]
    alpha: f32,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed fits.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut reader = csv::Reader::from_path(&args.triples)
        .with_context(|| format!("reading {}", args.triples.display()))?;
    let mut triples = Vec::new();
    let (mut n_users, mut n_items) = (0usize, 0usize);
    for (line, record) in reader.deserialize::<(u32, u32, f32)>().enumerate() {
        let t = record.with_context(|| format!("{} line {}", args.triples.display(), line + 2))?;
        n_users = n_users.max(t.0 as usize + 1);
        n_items = n_items.max(t.1 as usize + 1);
        triples.push(t);
    }
    let m = Interactions::from_triples(n_users, n_items, &triples)?;
    println!("matrix {} x {}, nnz {}", m.n_rows(), m.n_cols(), m.nnz());
    let params = AlsParams {
        factors: args.factors,
        iterations: args.iterations,
        cg_steps: args.cg_steps,
        regularization: args.regularization,
        alpha: args.alpha,
        ..AlsParams::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    for repeat in 0..args.repeats {
        let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
        let model = pool.install(|| als::fit(&m, &params))?;
        let secs = start.elapsed().as_secs_f64();
        let cpu = process_cpu_seconds()
            .zip(cpu_start)
            .map_or(f64::NAN, |(end, start)| end - start);
        let loss = als::calculate_loss(&m, &model, &params);
        println!("fit_seconds {secs:.3} cpu_seconds {cpu:.2} repeat {repeat} loss {loss:.1}");
        if repeat + 1 == args.repeats {
            let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
            let lists = pool.install(|| model.recommend_all(10, Some(&m)))?;
            let cpu = process_cpu_seconds()
                .zip(cpu_start)
                .map_or(f64::NAN, |(end, start)| end - start);
            println!(
                "recommend_all_seconds {:.3} cpu_seconds {cpu:.2} customers {} top 10",
                start.elapsed().as_secs_f64(),
                lists.n_rows()
            );
        }
    }
    Ok(())
}

/// User + system CPU time of this process from /proc (Linux), so timings on a shared, loaded
/// machine can be compared by CPU time as well as wall time.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux architecture this runs on.
    Some(ticks / 100.0)
}
