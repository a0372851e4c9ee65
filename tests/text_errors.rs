//! Malformed text patches: each gives `file: line:col: message` with what was expected, and
//! nothing panics.

mod common;

use dmm_synth::patch::text::parse_text;

const HEAD: &str = "k : one\nosc : sin\nout : audio_out\n";

/// (what, patch text after HEAD, expected place `line:col`, expected part of the message)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "weight too large",
        "osc.x <- 2e30 k",
        "4:15",
        "beyond the largest allowed",
    ),
    (
        "rows adding up beyond the bound",
        "osc.x <- 9e29 k\nosc.x += 9e29 k",
        "5:1",
        "is 1.8e30",
    ),
    (
        "a constant on a mis-declared implicit one",
        "_one_audio : one\nosc2 : sin audio\nosc2.x <- 3",
        "6:11",
        "osc2.x is audio but _one_audio.out is scalar",
    ),
    (
        "unknown type",
        "x : sinn",
        "4:5",
        "unknown neuron type `sinn`",
    ),
    (
        "unknown source neuron",
        "osc.x <- 2 lfo",
        "4:12",
        "unknown neuron `lfo`",
    ),
    (
        "unknown target neuron",
        "env.x <- k",
        "4:1",
        "unknown neuron `env`",
    ),
    (
        "unknown input port",
        "osc.y <- k",
        "4:1",
        "has no input port `y`",
    ),
    (
        "unknown output port",
        "osc.x <- k.value",
        "4:10",
        "has no output port `value`",
    ),
    (
        "row for an output port",
        "osc.out <- k",
        "4:1",
        "is an output port",
    ),
    (
        "an input used as a source",
        "osc.x <- osc.a",
        "4:10",
        "is an input; a source is an output",
    ),
    (
        "into self.accum",
        "self.accum <- k",
        "4:1",
        "self.accum is Self's own accumulator",
    ),
    (
        "kind mismatch",
        "r : rms\nout.left <- r",
        "5:13",
        "kind mismatch",
    ),
    (
        "kind conflict",
        "r : rms\nph : phasor\nph.freq <- r\nosc2 : sin audio\nosc2.x <- ph",
        "8:11",
        "kind conflict",
    ),
    (
        "shape conflict",
        "a : coords\nb : coords rows=4\nsh : tanh image\nsh.x <- a.x + b.x",
        "7:15",
        "but b.x is image 4x128",
    ),
    ("bad number", "osc.x <- 1e999 k", "4:10", "out of range"),
    (
        "division by zero",
        "osc.x <- 1/(2-2) k",
        "4:11",
        "division by zero",
    ),
    (
        "unterminated expression",
        "osc.x <- 2 * (k + 1",
        "4:20",
        "expected `)`",
    ),
    (
        "dangling operator",
        "osc.x <- k +",
        "4:13",
        "expected a number, a constant or a source",
    ),
    (
        "duplicate declaration",
        "osc : tanh",
        "4:1",
        "duplicate declaration of `osc` (first declared at line 2)",
    ),
    (
        "row stated twice",
        "osc.x <- k\nosc.x <- 2 k",
        "5:1",
        "stated twice (first at line 4)",
    ),
    (
        "two streams multiplied",
        "osc.x <- k osc",
        "4:10",
        "multiplies two streams",
    ),
    (
        "division by a stream",
        "osc.x <- 1 / k",
        "4:14",
        "cannot divide by a stream",
    ),
    (
        "missing arrow",
        "osc.x k",
        "4:7",
        "expected `:` (a declaration) or `<-`",
    ),
    (
        "equals instead of arrow",
        "osc.x = k",
        "4:7",
        "expected `<-`",
    ),
    ("missing type", "x :", "4:4", "expected a neuron type"),
    (
        "unknown setting",
        "x : sin gain=2",
        "4:9",
        "unknown setting \"gain\"",
    ),
    (
        "bad kind value",
        "x : noise matrix",
        "4:11",
        "expected \"scalar\", \"audio\" or \"image\"",
    ),
    (
        "unknown settings key",
        "settings speed=2",
        "4:10",
        "unknown setting `speed`",
    ),
    (
        "bad settings value",
        "settings tick_rate=7",
        "4:10",
        "whole number of samples",
    ),
    (
        "second settings line",
        "settings tick_rate=100\nsettings morph=1",
        "5:1",
        "a second settings line",
    ),
    (
        "unexpected character",
        "osc.x <- k $",
        "4:12",
        "unexpected character '$'",
    ),
    (
        "unterminated string",
        "p : picture file=\"a.png",
        "4:18",
        "unterminated string",
    ),
    (
        "constant into a matrix port",
        "self.delta <- 1",
        "4:15",
        "a constant cannot feed `self.delta`",
    ),
    (
        "edits as a source",
        "self.delta <- edits",
        "4:15",
        "`edits` feeds self.delta",
    ),
    (
        "target with several inputs",
        "osc <- k",
        "4:1",
        "has several inputs",
    ),
    (
        "remove in a file",
        "remove osc",
        "4:8",
        "only works when evaluating",
    ),
    (
        "bad morph unit",
        "osc.x <- k ~2h",
        "4:14",
        "expected the unit `s` or `ms`",
    ),
    (
        "missing asset",
        "p : picture file=nope.png",
        "4:13",
        "asset \"nope.png\" not found",
    ),
    (
        "bad matrix init",
        "u : identity matrix init={osc.x <- k",
        "4:37",
        "or `}` to close the matrix",
    ),
    (
        "matrix into a dense neuron",
        "u : identity matrix\nosc.x <- u",
        "5:10",
        "cannot carry matrix values",
    ),
    (
        "name with a control",
        "`a\tb` : sin",
        "4:1",
        "must be 1-64 letters",
    ),
    (
        "kind as a setting",
        "x : sin kind=audio",
        "4:9",
        "write the kind as a word",
    ),
    (
        "statement starting with a number",
        "2 osc",
        "4:1",
        "expected a declaration",
    ),
];

#[test]
fn each_malformed_snippet_has_its_own_message_and_place() {
    let mut failures = Vec::new();
    for (what, body, place, msg) in CASES {
        let src = format!("{HEAD}{body}\n");
        let got = match parse_text(&src, "bad.dmm", &common::assets()) {
            Ok(_) => {
                failures.push(format!("{what}: parsed without error"));
                continue;
            }
            Err(e) => e,
        };
        let first = &got.0[0];
        let line = first.to_string();
        assert!(!line.contains('\n'), "{what}: one line: {line}");
        // `file:line:column: message`, the form Vim's quickfix and editors' matchers jump to.
        let want = format!("bad.dmm:{place}: ");
        if !line.starts_with(&want) {
            failures.push(format!("{what}: not `{want}...`: {line}"));
        }
        if first.file != "bad.dmm" || first.place != *place || !first.msg.contains(msg) {
            failures.push(format!(
                "{what}: expected {place} ~ {msg:?}\n      got {line}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    // Every message is distinct.
    let mut msgs: Vec<&str> = CASES.iter().map(|c| c.3).collect();
    msgs.sort();
    msgs.dedup();
    assert_eq!(msgs.len(), CASES.len());
}

/// Random bytes, truncations and mutations of a valid patch: errors, never a panic.
#[test]
fn garbage_never_panics() {
    let good = std::fs::read_to_string(common::root().join("patches/sine.dmm")).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = " \n\t:.=<-+*/(){};~#`\"abcxyz0123456789eE_"
        .chars()
        .collect();
    for i in 0..3000 {
        let mut s: Vec<char> = good.chars().collect();
        for _ in 0..1 + i % 5 {
            let at = (next() as usize) % (s.len() + 1);
            match next() % 3 {
                0 if at < s.len() => {
                    s.remove(at);
                }
                1 => s.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => s.truncate(at),
            }
        }
        let text: String = s.into_iter().collect();
        if let Err(e) = parse_text(&text, "g.dmm", &common::assets()) {
            for err in &e.0 {
                assert!(!err.to_string().contains('\n'), "{err}");
            }
        }
    }
}

/// Mutated lines evaluated against a running network: an error or an edit, never a panic, and
/// every edit the engine then accepts or rejects cleanly.
#[test]
fn evaluating_garbage_never_panics() {
    use dmm_synth::patch::text::eval_snippet;
    let p = common::patch("fm.dmm");
    let w = p.initial_w();
    let good = std::fs::read_to_string(common::root().join("patches/fm.dmm")).unwrap();
    let lines: Vec<&str> = good.lines().filter(|l| !l.is_empty()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = " :.=<-+*/(){};~#`\"abkxyz0123456789e_".chars().collect();
    let mut edits = 0;
    let mut m = common::machine(&p);
    for _ in 0..2000 {
        let mut s: Vec<char> = lines[(next() as usize) % lines.len()].chars().collect();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % (s.len() + 1);
            match next() % 3 {
                0 if at < s.len() => {
                    s.remove(at);
                }
                1 => s.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                _ => s.truncate(at),
            }
        }
        let text: String = s.into_iter().collect();
        match eval_snippet(&text, 7, &p.network, &w, &common::assets(), 0.0) {
            Ok(Some(e)) => {
                edits += 1;
                m.submit(e);
            }
            Ok(None) => {}
            Err(errs) => {
                assert!(!errs.is_empty());
                for e in errs {
                    assert_eq!(e.line, 7, "{text}: {e}");
                    assert!(e.col >= 1 && e.len >= 1, "{text}: {e:?}");
                }
            }
        }
    }
    m.tick(false).unwrap();
    m.tick(false).unwrap();
    assert!(edits > 0);
}
