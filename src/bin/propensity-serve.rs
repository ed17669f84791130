//! `propensity-serve`: the HTTP service.

fn main() {}
