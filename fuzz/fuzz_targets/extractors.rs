#![no_main]
//! See `tests/support/fuzz.rs`: `extractors`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::extractors(data));
