//! `hpo`: parallel hyperparameter search for clusters and workstations.
//!
//! The architecture, in the order a search runs:
//! - [`space`]: typed, ordered parameters and the blocks of sets that fill them.
//! - [`acquisition`] and [`gp`]: the Bayesian suggestion, computed on the worker.
//! - [`objective`]: what is evaluated (builtin test functions, an external command, or a
//!   user's Rust function).
pub mod acquisition;
pub mod config;
pub mod gp;
pub mod objective;
pub mod space;
