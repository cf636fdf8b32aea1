//! Compile-pass and compile-fail cases of the Lift macros; see `tests/ui.rs`.
