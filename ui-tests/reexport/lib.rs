//! `lift-runtime` under another name, as a user's own facade crate would re-export it.
pub use lift_runtime::*;
