//! A keyed GCRA rate limiter with strictly bounded memory.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod clock;
mod gcra;
mod limiter;
mod quota;
mod store;

pub use backend::{Backend, Check};
pub use limiter::{Allowed, InsufficientCapacity, Limited, LimitedReason, Limiter, LimiterStats};
pub use quota::Quota;
pub use store::Overflow;
