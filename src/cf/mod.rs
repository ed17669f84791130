//! Candidate generators for next-best products.
//!
//! The final ranker (a GBDT over candidate features) stands on the sources built here, each
//! trained from plain arrays so this module does not depend on the event store:
//!
//! - [`Interactions`]: a validated customers × items CSR matrix (and its transpose), the input
//!   of [`als`].
//! - [`als`]: implicit-feedback matrix factorisation (Hu, Koren & Volinsky) solved with the
//!   conjugate-gradient method, plus an exact Cholesky solver kept for tests.
//! - [`copurchase`]: item–item neighbours from baskets (cosine or lift with shrinkage), stored
//!   as flat CSR arrays, and cart-aware scoring.
//! - [`popularity`]: distinct buyers in a recent window, overall and per category.
//! - [`buy_again`]: per (customer, item) repurchase statistics before a snapshot time.
//! - [`user_knn`]: TIFU-KNN-style blend of a customer's own vector with their nearest
//!   customers' vectors.
//!
//! Every source answers top-k queries through [`topk`], so ties break the same way everywhere
//! (higher score first, then lower item index).

pub mod als;
pub mod buy_again;
pub mod copurchase;
mod error;
mod interactions;
pub(crate) mod kernels;
pub mod popularity;
pub mod topk;
pub mod user_knn;

pub use error::Error;
pub use interactions::Interactions;
pub use topk::{Scored, TopLists};
