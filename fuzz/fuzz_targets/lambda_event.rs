#![no_main]
//! See `tests/support/fuzz.rs`: `lambda_event`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::lambda_event(data));
