//! How the command-line tools print an error with its causes.

use std::error::Error;

/// The error and its causes joined by ": ", leaving out a cause whose message is already
/// part of the text. Several error types name their cause in their own message (so a plain
/// `{}` in a log says everything) and also return it as their source, which a plain walk
/// of the chain (anyhow's `{:#}`) would print twice.
pub fn describe(e: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let message = c.to_string();
        if !out.contains(&message) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&message);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("no training rows")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("propensity models: {0}")]
        Says(#[from] Inner),
        #[error("propensity models")]
        Quiet(#[source] Inner),
    }

    #[test]
    fn each_cause_is_said_once() {
        for outer in [Outer::Says(Inner), Outer::Quiet(Inner)] {
            let e = anyhow::Error::new(outer).context("training");
            assert_eq!(
                describe(e.as_ref()),
                "training: propensity models: no training rows"
            );
        }
    }
}
