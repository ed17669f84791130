//! Progress of the trainer's long stages: a bar per running stage on an interactive
//! terminal (stage, done of total, rate, time left) and each stage's time in the log.
//!
//! The library only reports. Whether anything is drawn is the binary's choice: until it
//! calls [`draw_on`], every [`Stage`] is a hidden bar, so library users and tests pay an
//! atomic add per report. Stages report per chunk (a sweep, a round, a buffer), never per
//! event, and may run side by side (the propensity models and the recommender do), each
//! with its own line.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::Instant;

static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Draws every stage started from now on into `bars`; false if bars were already set.
pub fn draw_on(bars: MultiProgress) -> bool {
    BARS.set(bars).is_ok()
}

/// The bars being drawn, if any (the binary routes its log lines around them).
pub fn bars() -> Option<&'static MultiProgress> {
    BARS.get()
}

/// What a stage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes read or written (shown as MiB and MiB/s).
    Bytes,
    /// Named things: rounds, sweeps, customers, snapshots.
    Items(&'static str),
}

/// One running stage; [`Stage::finish`] logs its time, dropping it unfinished (an error
/// path) only clears its bar.
#[derive(Debug)]
pub struct Stage {
    name: String,
    unit: Unit,
    bar: ProgressBar,
    started: Instant,
}

impl Stage {
    /// Starts a stage of `total` units (0 when unknown: a spinner with a count).
    pub fn start(name: impl Into<String>, total: u64, unit: Unit) -> Stage {
        let name = name.into();
        let bar = match BARS.get() {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new(total));
                bar.set_style(style(unit, total));
                bar.set_prefix(name.clone());
                bar
            }
            None => ProgressBar::hidden(),
        };
        Stage {
            name,
            unit,
            bar,
            started: Instant::now(),
        }
    }

    /// Counts `n` more units done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.bar.position()
    }

    /// Wraps a reader so that every byte read counts as done.
    pub fn reader<R: Read>(&self, inner: R) -> StageReader<'_, R> {
        StageReader { stage: self, inner }
    }

    /// Wraps a writer so that every byte written counts as done.
    pub fn writer<W: Write>(&self, inner: W) -> StageWriter<'_, W> {
        StageWriter { stage: self, inner }
    }

    /// Ends the stage: clears its bar, logs its time and count, returns the seconds.
    pub fn finish(self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        let done = self.bar.position();
        match self.unit {
            Unit::Bytes => tracing::info!(stage = %self.name, seconds, bytes = done, "stage done"),
            Unit::Items(what) => {
                tracing::info!(stage = %self.name, seconds, done, unit = what, "stage done")
            }
        }
        seconds
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        if let Some(bars) = BARS.get() {
            bars.remove(&self.bar);
        }
    }
}

/// A reader counting its bytes into a [`Stage`].
#[derive(Debug)]
pub struct StageReader<'s, R> {
    stage: &'s Stage,
    inner: R,
}

impl<R: Read> Read for StageReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.stage.inc(n as u64);
        Ok(n)
    }
}

/// A writer counting its bytes into a [`Stage`].
#[derive(Debug)]
pub struct StageWriter<'s, W> {
    stage: &'s Stage,
    inner: W,
}

impl<W> StageWriter<'_, W> {
    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for StageWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.stage.inc(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn style(unit: Unit, total: u64) -> ProgressStyle {
    ProgressStyle::with_template(&template(unit, total))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The bar's layout: stage name, bar, done/total, rate, elapsed<left.
fn template(unit: Unit, total: u64) -> String {
    match (unit, total) {
        (Unit::Bytes, 0) => {
            "{spinner} {prefix:<22} {binary_bytes} {binary_bytes_per_sec} {elapsed}".to_string()
        }
        (Unit::Bytes, _) => "{prefix:<22} {wide_bar} {binary_bytes}/{binary_total_bytes} \
                             {binary_bytes_per_sec} {elapsed}<{eta}"
            .to_string(),
        (Unit::Items(what), 0) => {
            format!("{{spinner}} {{prefix:<22}} {{human_pos}} {what} {{per_sec}} {{elapsed}}")
        }
        (Unit::Items(what), _) => format!(
            "{{prefix:<22}} {{wide_bar}} {{human_pos}}/{{human_len}} {what} {{per_sec}} \
             {{elapsed}}<{{eta}}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        // `style` falls back to a plain bar at run time; a typo must fail here instead.
        for unit in [Unit::Bytes, Unit::Items("rounds")] {
            for total in [0, 10] {
                let t = template(unit, total);
                assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
            }
        }
    }

    #[test]
    fn a_reader_counts_its_bytes_and_finish_reports_time() {
        let stage = Stage::start("test read", 11, Unit::Bytes);
        let mut out = String::new();
        stage
            .reader(&b"hello world"[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello world");
        assert_eq!(stage.done(), 11);
        stage.inc(4);
        assert_eq!(stage.done(), 15);
        assert!(stage.finish() >= 0.0);
    }
}
