//! Adapters for public data sets, read exactly as their packages ship them.

pub mod cdnow;
pub mod tafeng;
