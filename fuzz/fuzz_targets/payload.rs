//! Fuzz target: see [`leadgate_fuzz::payload`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::payload(data));
