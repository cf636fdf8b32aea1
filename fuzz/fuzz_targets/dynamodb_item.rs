#![no_main]
//! See `tests/support/fuzz.rs`: `dynamodb_item`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lift_tests::fuzz::dynamodb_item(data));
