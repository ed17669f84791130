//! Integration tests, one binary for every area (faster linking); helpers live beside.

mod gbdt;
mod journal;
mod report;
