//! Every fuzz target's committed corpus and regression files, replayed as ordinary tests on the pinned
//! toolchain: an input that once crashed a parser (`fuzz/regressions/<target>/`) or that the fuzzer kept for
//! its coverage (`fuzz/corpus/<target>/`) must go through without a panic or a broken invariant.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code, missing_docs)]
mod targets;

use std::path::{Path, PathBuf};

const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");

/// The files directly under `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    files.retain(|path| path.is_file());
    files.sort();
    files
}

/// Runs `name`'s target over every file of its corpus and regressions; returns how many it ran.
fn replay(name: &str) -> usize {
    let (_, target) = targets::TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    let mut files = files_in(&Path::new(FUZZ).join("corpus").join(name));
    files.extend(files_in(&Path::new(FUZZ).join("regressions").join(name)));
    for file in &files {
        let data =
            std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            panic!("fuzz target {name} fails on {}", file.display());
        }
    }
    files.len()
}

#[test]
fn every_fuzz_target_has_a_seed_corpus_to_replay() {
    for (name, _) in targets::TARGETS {
        let corpus = files_in(&Path::new(FUZZ).join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz target {name} has no corpus");
    }
}

#[test]
fn the_payload_corpus_and_regressions_parse_without_a_panic() {
    assert!(replay("payload") > 0);
}

#[test]
fn the_charset_corpus_and_regressions_decode_without_a_panic() {
    assert!(replay("charset") > 0);
}

#[test]
fn the_subject_corpus_and_regressions_match_without_a_panic() {
    assert!(replay("subject") > 0);
}

#[test]
fn the_mime_extraction_corpus_and_regressions_read_without_a_panic() {
    assert!(replay("extract") > 0);
}

#[test]
fn the_pop3_answers_corpus_and_regressions_parse_without_a_panic() {
    assert!(replay("pop3") > 0);
}

#[test]
fn the_imap_responses_corpus_and_regressions_parse_without_a_panic() {
    assert!(replay("imap") > 0);
}
