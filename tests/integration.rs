//! Integration tests, one binary for every area (faster linking); helpers live beside.

mod cli;
mod gbdt;
mod journal;
mod report;
