//! The committed fuzz corpus (`fuzz/corpus/<target>/`, minimized with
//! `cargo fuzz cmin`) replayed on stable through the very functions the
//! fuzz targets call: an input that once crashed a target, or that covers
//! a path the fuzzer found, keeps being checked by `cargo test`. See
//! fuzz/README.md for the targets and how to run them.

use std::path::PathBuf;

/// A fuzz target's body: panics on a finding.
type Body = fn(&[u8]);

/// Every fuzz target, by its name in `fuzz/Cargo.toml`, and its body.
const TARGETS: &[(&str, Body)] = &[
    ("frame", hisock::fuzzing::frame),
    ("event_fast_path", hisock::fuzzing::event_fast_path),
    ("payload_value", hisock::fuzzing::payload_value),
    ("payload_typed", hisock::fuzzing::payload_typed),
    ("handshake", hisock::fuzzing::handshake),
    ("tcp_reader", hisock_tcp::fuzzing::tcp_reader),
    ("browser_msgpack", hisock_wasm::fuzzing::browser_msgpack),
];

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_committed_fuzz_input_passes_its_target() {
    for &(target, body) in TARGETS {
        let dir = corpus(target);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        let mut replayed = 0;
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let input = std::fs::read(&path).expect("a corpus file");
            // A panic names the target and the file, for `cargo fuzz run
            // <target> <file>`.
            eprintln!("{target}: {}", path.display());
            body(&input);
            replayed += 1;
        }
        assert!(replayed > 0, "the corpus of {target} is empty");
    }
}

#[test]
fn every_fuzz_target_has_a_corpus_and_every_corpus_a_target() {
    let listed: Vec<&str> = TARGETS.iter().map(|&(name, _)| name).collect();
    let manifest = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"),
    )
    .expect("fuzz/Cargo.toml");
    let declared: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "hisock-fuzz")
        .collect();
    assert_eq!(declared, listed, "fuzz/Cargo.toml's targets, in order");
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus(""))
        .expect("fuzz/corpus")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = listed.iter().map(|name| name.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fuzz/corpus/ has one folder per target");
}

/// Found while fuzzing `browser_msgpack`: the browser's reader and the
/// native decoder must refuse the same nesting (the native one had rmp-serde's
/// 1,024 levels, the browser 128, counted differently). The target's body
/// checks that they agree; these inputs sit on the limit.
#[test]
fn the_browser_and_native_payload_readers_agree_at_the_depth_limit() {
    use hisock::value::MAX_DEPTH;
    let nested = |levels: usize, inner: &[u8]| {
        let mut payload = vec![0x91; levels];
        payload.extend_from_slice(inner);
        payload
    };
    for levels in [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1_000] {
        for inner in [
            &[0xc0][..],
            &[0x90],
            &[0x80],
            &[0xd4, 1, 0],
            &[0x81, 0x90, 0xc0],
        ] {
            let payload = nested(levels, inner);
            hisock_wasm::fuzzing::browser_msgpack(&payload);
            hisock::fuzzing::payload_value(&payload);
        }
    }
    // An empty array is a level too.
    let decode = |payload: Vec<u8>| hisock::value::decode::<hisock::Value>(&payload);
    assert!(decode(nested(MAX_DEPTH - 1, &[0x90])).is_ok());
    assert!(decode(nested(MAX_DEPTH, &[0x90])).is_err());
}
