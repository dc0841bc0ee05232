//! The benchmark engine: claims paid reports and runs them.

pub mod queue;
pub mod score;
