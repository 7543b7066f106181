//! Fuzz target: see [`leadgate_fuzz::charset`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::charset(data));
