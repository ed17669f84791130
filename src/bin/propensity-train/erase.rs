//! `propensity-train erase`: rewrite an event log without some customers.

use anyhow::{Context, bail};
use propensity::ingest::{Format, erase_customers, parquet};
use std::collections::HashSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Rewrite an event log without the given customers (streaming, atomic).
///
/// The output has the input's format, Ta-Feng and CDNOW files included: kept rows are
/// copied as read (line endings become \n, a byte-order mark and blank lines are dropped).
/// A Parquet file is rewritten as Parquet with the same schema, metadata and codecs.
/// A row whose customer id cannot be read is an error, since it might be one of theirs.
#[derive(clap::Args)]
pub struct Args {
    /// Events file to rewrite (left unchanged).
    #[arg(long)]
    events: PathBuf,
    /// Events format; guessed from the extension (.csv, .jsonl, .ndjson, .parquet) when
    /// left out.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Customer id to remove (repeat for several).
    #[arg(long = "customer", required = true)]
    customers: Vec<String>,
    /// Output file; must differ from --events. Written to a temporary file, then renamed.
    #[arg(long)]
    out: PathBuf,
    /// Succeed even if some customer has no row in the file (otherwise nothing is written).
    #[arg(long)]
    allow_missing: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if same_file(&args.events, &args.out)? {
        bail!(
            "--out {} is the --events file; hint: write to a new file, check it, then replace \
             the original yourself",
            args.out.display()
        );
    }
    let format = Format::resolve(args.format, &args.events)?;
    let customers: HashSet<String> = args
        .customers
        .iter()
        .map(|c| c.trim().to_string())
        .collect();
    let input = std::fs::File::open(&args.events)
        .with_context(|| format!("opening {}", args.events.display()))?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let report = propensity::fsutil::atomic_write_with(&args.out, |out| {
        let report = if format == Format::Parquet {
            // Parquet is rewritten whole (schema and footer), not copied row by row.
            parquet::erase::erase_customers(&args.events, &customers, out, &args.out)?.0
        } else {
            erase_customers(
                BufReader::with_capacity(1 << 20, input),
                &args.events,
                format,
                &customers,
                out,
                &args.out,
            )?
        };
        let missing = report.missing();
        if !missing.is_empty() && !args.allow_missing {
            bail!(
                "{}: no rows for customer {}; nothing written (hint: check the id, or pass \
                 --allow-missing to write the file anyway)",
                args.events.display(),
                missing.join(", ")
            );
        }
        Ok(report)
    })?;
    let missing = report.missing();
    println!("out         {} ({})", args.out.display(), format.as_str());
    println!("kept        {} rows", report.kept);
    println!("removed     {} rows", report.removed);
    for (id, n) in &report.removed_by_customer {
        println!("  {id:<20} {n}");
    }
    if !missing.is_empty() {
        eprintln!("warning: no rows for customer {}", missing.join(", "));
    }
    Ok(())
}

/// Whether `out` names the same file as `events` (through links or `..`).
fn same_file(events: &Path, out: &Path) -> anyhow::Result<bool> {
    let events = events
        .canonicalize()
        .with_context(|| format!("opening {}", events.display()))?;
    // The output need not exist yet: resolve its directory instead.
    let out = match out.canonicalize() {
        Ok(p) => p,
        Err(_) => {
            let parent = match out.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            match (parent.canonicalize(), out.file_name()) {
                (Ok(p), Some(n)) => p.join(n),
                _ => return Ok(false),
            }
        }
    };
    Ok(events == out)
}
