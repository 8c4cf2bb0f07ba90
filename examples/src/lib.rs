//! The parts of the runnable examples that deserve unit tests, kept in a library so the
//! binaries in `src/bin/` stay short.

pub mod cli;
pub mod gateway;
pub mod shop;
pub mod tls;
pub mod turn;
pub mod voice;
