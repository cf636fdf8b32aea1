#![no_main]
//! See `tests/support/fuzz.rs`: `jwt_connect`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::jwt_connect(data));
