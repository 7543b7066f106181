//! Fuzz target: see [`leadgate_fuzz::pop3`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::pop3(data));
