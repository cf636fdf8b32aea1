#![no_main]
//! See `tests/support/fuzz.rs`: `jwks_keys`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::jwks_keys(data));
