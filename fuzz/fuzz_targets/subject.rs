//! Fuzz target: see [`leadgate_fuzz::subject`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::subject(data));
