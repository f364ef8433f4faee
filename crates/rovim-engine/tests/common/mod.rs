//! The engine's tests share the crate's test support (feature `test-support`).
#![allow(unused_imports)]

pub use rovim_engine::test_support::*;
