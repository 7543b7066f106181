//! Fuzz target: see [`leadgate_fuzz::imap`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| leadgate_fuzz::imap(data));
