#![no_main]
//! See `tests/support/fuzz.rs`: `route_selection`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::route_selection(data));
