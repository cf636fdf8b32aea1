#![no_main]
//! See `tests/support/fuzz.rs`: `message_body`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::message_body(data));
