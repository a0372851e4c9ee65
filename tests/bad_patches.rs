//! Malformed patches: each gets its own specific message (file, place, what was expected) and
//! none panics. `dmm-synth check` prints them and exits non-zero.

mod common;
use common::*;
use dmm_synth::patch::Patch;

/// (name, patch text, expected place, expected words in the message)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "syntax",
        r#"{"neurons": {"a": {"type": "sin"}"#,
        "1:",
        "invalid JSON",
    ),
    (
        "trailing comma",
        "{\n  \"neurons\": {},\n}",
        "3:1",
        "invalid JSON",
    ),
    (
        "not an object",
        "[1, 2]",
        "(top level)",
        "expected an object",
    ),
    (
        "unknown top key",
        r#"{"nerons": {}}"#,
        "nerons",
        "unknown key",
    ),
    (
        "unknown type",
        r#"{"neurons": {"a": {"type": "sine"}}}"#,
        "neurons.a.type",
        "unknown neuron type \"sine\"",
    ),
    (
        "missing type",
        r#"{"neurons": {"a": {"kind": "audio"}}}"#,
        "neurons.a",
        "missing \"type\"",
    ),
    (
        "bad kind",
        r#"{"neurons": {"a": {"type": "sin", "kind": "video"}}}"#,
        "neurons.a.kind",
        "expected \"scalar\", \"audio\" or \"image\"",
    ),
    (
        "matrix kind on dense type",
        r#"{"neurons": {"a": {"type": "tanh", "kind": "matrix"}}}"#,
        "neurons.a.kind",
        "expected \"scalar\", \"audio\" or \"image\"",
    ),
    (
        "unknown setting",
        r#"{"neurons": {"a": {"type": "sin", "freq": 3}}}"#,
        "neurons.a.freq",
        "unknown setting \"freq\"",
    ),
    (
        "bad name",
        r#"{"neurons": {"a.b": {"type": "sin"}}}"#,
        "neurons[\"a.b\"]",
        "must be 1-64 letters",
    ),
    (
        "duplicate names",
        r#"{"neurons": {"a": {"type": "sin"}, "a": {"type": "tanh"}}}"#,
        "neurons.a",
        "duplicate neuron name \"a\"",
    ),
    (
        "duplicate source",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": 1, "k.out": 2}}}"#,
        "weights[\"a.x\"][\"k.out\"]",
        "appears twice",
    ),
    (
        "unknown port",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.freq": {"k.out": 1}}}"#,
        "weights[\"a.freq\"][\"k.out\"]",
        "has no input port \"freq\"; its inputs are: x (scalar), a (scalar), b (scalar)",
    ),
    (
        "unknown source port",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.y": 1}}}"#,
        "weights[\"a.x\"][\"k.y\"]",
        "has no output port \"y\"",
    ),
    (
        "unknown neuron in weights",
        r#"{"neurons": {"a": {"type": "sin"}}, "weights": {"a.x": {"ghost.out": 1}}}"#,
        "weights[\"a.x\"][\"ghost.out\"]",
        "unknown neuron \"ghost\"",
    ),
    (
        "output used as target",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.out": {"k.out": 1}}}"#,
        "weights[\"a.out\"][\"k.out\"]",
        "has no input port \"out\"",
    ),
    (
        "kind mismatch",
        r#"{"neurons": {"a": {"type": "sin", "kind": "audio"}, "k": {"type": "one", "kind": "scalar"}}, "weights": {"a.x": {"k.out": 1}}}"#,
        "weights[\"a.x\"][\"k.out\"]",
        "kind mismatch: a.x is audio but k.out is scalar",
    ),
    (
        "shape mismatch",
        r#"{"neurons": {"a": {"type": "tanh", "kind": "image", "rows": 4, "cols": 4}, "b": {"type": "one", "kind": "image", "rows": 4, "cols": 5}}, "weights": {"a.x": {"b.out": 1}}}"#,
        "weights[\"a.x\"][\"b.out\"]",
        "a.x is image 4x4 but b.out is image 4x5",
    ),
    (
        "matmul inner mismatch",
        r#"{"neurons": {"m": {"type": "matmul", "rows": 3, "cols": 3, "inner": 2}, "b": {"type": "one", "kind": "image", "rows": 3, "cols": 3}}, "weights": {"m.a": {"b.out": 1}}}"#,
        "weights[\"m.a\"][\"b.out\"]",
        "m.a is image 3x2 but b.out is image 3x3",
    ),
    (
        "non-number weight",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": "1"}}}"#,
        "weights[\"a.x\"][\"k.out\"]",
        "expected a finite number, found a string",
    ),
    (
        "NaN weight",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": NaN}}}"#,
        "1:",
        "invalid JSON",
    ),
    (
        "overflowing weight",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": 1e999}}}"#,
        "1:",
        "invalid JSON",
    ),
    (
        "not a port ref",
        r#"{"neurons": {"a": {"type": "sin"}}, "weights": {"ax": {"a.out": 1}}}"#,
        "weights.ax",
        "expected \"neuron.port\"",
    ),
    (
        "missing asset",
        r#"{"neurons": {"p": {"type": "picture", "file": "no-such.png"}}}"#,
        "neurons.p.file",
        "asset \"no-such.png\" not found",
    ),
    (
        "asset not an image",
        r#"{"neurons": {"p": {"type": "picture", "file": "../Cargo.toml"}}}"#,
        "neurons.p.file",
        "cannot read",
    ),
    (
        "bad block",
        r#"{"settings": {"tick_rate": 7, "sample_rate": 48000}}"#,
        "settings.tick_rate",
        "whole number of samples per tick",
    ),
    (
        "bad image size",
        r#"{"settings": {"image_size": [0, 10]}}"#,
        "settings.image_size",
        "each in 1..=4096",
    ),
    (
        "unknown setting key",
        r#"{"settings": {"tickrate": 10}}"#,
        "settings",
        "unknown field `tickrate`",
    ),
    (
        "edit self accum",
        r#"{"neurons": {"k": {"type": "identity", "kind": "matrix"}}, "weights": {"self.accum": {"k.out": 1}}}"#,
        "weights[\"self.accum\"][\"k.out\"]",
        "cannot be edited",
    ),
    (
        "self as a user neuron",
        r#"{"neurons": {"self": {"type": "sin"}}}"#,
        "neurons.self",
        "already exists",
    ),
    (
        "bad matrix init",
        r#"{"neurons": {"u": {"type": "identity", "kind": "matrix", "init": {"ghost.x": {"u.out": 1}}}}}"#,
        "neurons.u.init",
        "unknown neuron \"ghost\"",
    ),
    (
        "init wrong type",
        r#"{"neurons": {"a": {"type": "accum", "init": "zero"}}}"#,
        "neurons.a.init",
        "expected a finite number",
    ),
    (
        "negative temperature",
        r#"{"neurons": {"s": {"type": "softmax_rows", "temperature": -1}}}"#,
        "neurons.s.temperature",
        "expected a positive number",
    ),
    (
        "huge image",
        r#"{"neurons": {"a": {"type": "one", "kind": "image", "rows": 100000}}}"#,
        "neurons.a.rows",
        "expected an integer in 1..=4096",
    ),
    (
        "weight beyond f32's range",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": 1e39}}}"#,
        "weights[\"a.x\"][\"k.out\"]",
        "is 1e39: beyond the largest allowed |w| (1e30)",
    ),
    (
        "negative weight beyond the bound",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": -2e30}}}"#,
        "weights[\"a.x\"][\"k.out\"]",
        "is -2e30: beyond",
    ),
    (
        "matrix init weight beyond the bound",
        r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}, "u": {"type": "identity", "kind": "matrix", "init": {"a.x": {"k.out": 1e35}}}}}"#,
        "neurons.u.init",
        "beyond the largest allowed",
    ),
    (
        "init beyond f32's range",
        r#"{"neurons": {"a": {"type": "accum", "init": 1e39}}}"#,
        "neurons.a.init",
        "within f32's range",
    ),
    (
        "newline in a neuron name",
        "{\"neurons\": {\"a\\nb\": {\"type\": \"sin\"}}}",
        "neurons[\"a\\nb\"]",
        "neuron name \"a\\nb\" must be",
    ),
    (
        "control character in a port",
        "{\"neurons\": {\"a\": {\"type\": \"sin\"}}, \"weights\": {\"a.x\\u001b[2J\": {\"a.out\": 1}}}",
        "weights[\"a.x\\u{1b}[2J\"]",
        "without control characters",
    ),
];

#[test]
fn every_malformed_patch_gets_its_own_specific_error() {
    assert!(CASES.len() >= 15);
    let mut messages = std::collections::HashSet::new();
    for (name, text, place, words) in CASES {
        let errs = match Patch::parse(text, "bad.json", &assets()) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let e = &errs.0[0];
        assert_eq!(e.file, "bad.json", "{name}");
        assert!(
            e.place.starts_with(place),
            "{name}: place {:?}, expected {place:?} ({})",
            e.place,
            e.msg
        );
        assert!(
            e.msg.contains(words),
            "{name}: message {:?} lacks {words:?}",
            e.msg
        );
        let line = errs.to_string();
        assert!(line.starts_with("bad.json:"), "{name}: {line}");
        for e in &errs.0 {
            let one = e.to_string();
            assert!(
                !one.chars().any(char::is_control),
                "{name}: one line, no control characters: {one:?}"
            );
        }
        messages.insert(format!("{}: {}", e.place, e.msg));
    }
    // Specific means different: no two cases share a message.
    assert_eq!(messages.len(), CASES.len());
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = r#"{"neurons": {"a": {"type": "sine"}, "b": {"type": "tanh", "bogus": 1}, "k": {"type": "one"}},
                   "weights": {"k.x": {"k.out": 1}}}"#;
    let errs = Patch::parse(text, "many.json", &assets()).unwrap_err();
    let places: Vec<&str> = errs.0.iter().map(|e| e.place.as_str()).collect();
    assert_eq!(
        places,
        [
            "neurons.a.type",
            "neurons.b.bogus",
            "weights[\"k.x\"][\"k.out\"]"
        ]
    );
}

#[test]
fn garbage_never_panics() {
    // A crude fuzz: every prefix of every example patch, plus byte flips.
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("patches")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let bytes = text.as_bytes();
        for cut in (0..bytes.len()).step_by(7) {
            let _ = Patch::parse(
                &String::from_utf8_lossy(&bytes[..cut]),
                "cut.json",
                &assets(),
            );
            n += 1;
        }
        for i in (0..bytes.len()).step_by(13) {
            let mut b = bytes.to_vec();
            b[i] = b"{}[]\":,0-e.x"[i % 12];
            let _ = Patch::parse(&String::from_utf8_lossy(&b), "flip.json", &assets());
            n += 1;
        }
    }
    assert!(n > 100);
}

#[test]
fn check_command_prints_errors_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"neurons": {"a": {"type": "sine"}}}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .arg("check")
        .arg(&bad)
        .arg(root().join("patches/sine.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json:neurons.a.type: unknown neuron type \"sine\""),
        "{err}"
    );
    let ok = String::from_utf8_lossy(&out.stdout);
    assert!(ok.contains("sine.json: ok"), "{ok}");
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .args(["check", "/no/such/patch.json"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the patch file"));
}

#[test]
fn all_example_patches_check_and_run() {
    for name in [
        "default.json",
        "sine.json",
        "fm.json",
        "poster.json",
        "waves.json",
    ] {
        let p = patch(name);
        assert!(
            p.comment.as_deref().is_some_and(|c| c.len() > 40),
            "{name} needs a comment saying what it shows"
        );
        let mut m = machine(&p);
        for _ in 0..6 {
            m.tick(true).unwrap();
        }
        assert!(
            m.nonfinite_counts().is_empty(),
            "{name}: {:?}",
            m.nonfinite_counts()
        );
    }
}

#[test]
fn hostile_names_and_numbers_give_one_line_errors() {
    // Names with every kind of control character, in every place a name can go, and numbers at
    // and beyond the edges: each error is one line and names the file.
    let names = [
        "a\nb",
        "a\rb",
        "x\u{1b}[31m",
        "t\tab",
        "nul\u{0}",
        "del\u{7f}",
        "nel\u{85}",
    ];
    let numbers = [
        "1e30",
        "1.0000001e30",
        "-1e31",
        "3.4e38",
        "1e39",
        "1e308",
        "5e-324",
    ];
    let mut n = 0;
    for name in names {
        let q = serde_json::to_string(name).unwrap();
        let qp = serde_json::to_string(&format!("{name}.x")).unwrap();
        for w in numbers {
            let texts = [
                format!(r#"{{"neurons": {{{q}: {{"type": "sin"}}}}}}"#),
                format!(
                    r#"{{"neurons": {{"a": {{"type": "sin"}}, "k": {{"type": "one"}}}}, "weights": {{{qp}: {{"k.out": {w}}}}}}}"#
                ),
                format!(
                    r#"{{"neurons": {{"a": {{"type": "sin"}}, "k": {{"type": "one"}}}}, "weights": {{"a.x": {{{qp}: {w}}}}}}}"#
                ),
                format!(
                    r#"{{"neurons": {{"a": {{"type": "sin"}}, "k": {{"type": "one"}}}}, "weights": {{"a.x": {{"k.out": {w}}}}}}}"#
                ),
                format!(r#"{{"neurons": {{"a": {{"type": "accum", "init": {w}, {q}: 1}}}}}}"#),
            ];
            for text in &texts {
                n += 1;
                let Err(errs) = Patch::parse(text, "evil\n.json", &assets()) else {
                    continue;
                };
                for e in &errs.0 {
                    let line = e.to_string();
                    assert!(!line.chars().any(char::is_control), "{text}: {line:?}");
                    assert!(line.starts_with("evil\\n.json:"), "{line}");
                }
            }
        }
    }
    assert_eq!(n, names.len() * numbers.len() * 5);
    // The bound itself: 1e30 loads, a little more does not.
    let ok = r#"{"neurons": {"a": {"type": "sin"}, "k": {"type": "one"}}, "weights": {"a.x": {"k.out": 1e30}}}"#;
    assert!(Patch::parse(ok, "ok.json", &assets()).is_ok());
    let over = ok.replace("1e30", "1.000001e30");
    assert!(Patch::parse(&over, "over.json", &assets()).is_err());
}
