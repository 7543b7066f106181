//! Fuzz target: see [`leadgate_fuzz::extract`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::extract(data));
