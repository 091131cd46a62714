#![no_main]
//! See fuzz/README.md; the body is `hisock::fuzzing::frame`, which the stable test
//! tests/tests/fuzz_corpus.rs replays over this target's corpus.

libfuzzer_sys::fuzz_target!(|data: &[u8]| hisock::fuzzing::frame(data));
