//! Loading stays safe and fast on hostile or huge patches: 100 000 neurons, a tiny PNG that
//! claims 16384² pixels, a patch whose streams need more memory than the machine has, and the
//! same under an address-space limit (`ulimit -v`), where the process must exit with an error,
//! not abort.

mod common;
use common::*;
use dmm_synth::patch::Patch;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

/// A chain of `n` neurons, each fed from the one before.
fn big_patch(n: usize) -> String {
    let mut s = String::from(
        r#"{"settings": {"tick_rate": 100, "sample_rate": 1600}, "neurons": {"k": {"type": "one"}"#,
    );
    for i in 0..n {
        let _ = write!(s, r#", "n{i}": {{"type": "identity"}}"#);
    }
    s.push_str(r#"}, "weights": {"n0.in": {"k.out": 1}"#);
    for i in 1..n {
        let _ = write!(s, r#", "n{i}.in": {{"n{}.out": 0.5}}"#, i - 1);
    }
    s.push_str("}}");
    s
}

#[test]
fn a_hundred_thousand_neurons_load_in_linear_time() {
    let n = 100_000;
    let text = big_patch(n);
    let t0 = Instant::now();
    let p = Patch::parse(&text, "big.json", &assets()).unwrap_or_else(|e| panic!("{e}"));
    let took = t0.elapsed();
    // Printed, not asserted (machines differ); the release build takes well under a second.
    println!(
        "parsed and checked {n} neurons, {} weights in {took:?}",
        p.weights.len()
    );
    assert_eq!(p.neurons.len(), n + 1);
    assert_eq!(p.weights.len(), n);
    assert_eq!(p.network.scalar_ports.len(), n + 1);
    // The indexes agree with the order after a removal too.
    let mut net = p.network.clone();
    assert!(net.remove("n5"));
    let (i, def) = net.find("n6").unwrap();
    assert_eq!(def.name, "n6");
    assert_eq!(net.neurons[i].name, "n6");
    assert!(
        net.scalar_ports
            .iter()
            .all(|&(i, _)| !net.neurons[i].engine_side())
    );
}

/// Writes a valid blank grey PNG of `w`×`h` pixels, streaming (a 16384² one is a few hundred KB).
fn blank_png(path: &Path, w: u32, h: u32) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fastest);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; w as usize];
    for _ in 0..h {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
}

fn picture_patch(dir: &Path, file: &str) -> std::path::PathBuf {
    let p = dir.join("pic.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"neurons": {{"p": {{"type": "picture", "rows": 8, "cols": 8, "file": "{file}"}}}}}}"#
        ),
    )
    .unwrap();
    p
}

fn dmm(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dmm-synth"));
    c.args(args);
    c
}

/// Runs the binary under `ulimit -v` (KiB), so allocation beyond it fails.
fn under_ulimit(kib: u64, args: &[&str]) -> Output {
    let mut script = format!("ulimit -v {kib}; exec \"$0\"");
    for i in 0..args.len() {
        let _ = write!(script, " \"${}\"", i + 1);
    }
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_dmm-synth"))
        .args(args)
        .output()
        .unwrap()
}

/// Exited by itself with code 1 (an error, reported), not killed by a signal or a panic (101).
fn assert_clean_failure(out: &Output, words: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "status {:?}: {err}", out.status);
    assert!(err.contains(words), "stderr lacks {words:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_huge_png_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("huge.png");
    blank_png(&png, 16384, 16384);
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size < 4 << 20, "the bomb is small: {size} bytes");
    let patch = picture_patch(dir.path(), "huge.png");
    let errs = Patch::load(&patch).unwrap_err();
    let e = &errs.0[0];
    assert_eq!(e.place, "neurons.p.file");
    assert!(e.msg.contains("16384x16384 pixels"), "{}", e.msg);
    assert!(e.msg.contains("1..=4096 pixels a side"), "{}", e.msg);
    // Under a 1 GiB address-space limit: the same one-line error, no panic, no abort.
    let out = under_ulimit(1 << 20, &["check", patch.to_str().unwrap()]);
    assert_clean_failure(&out, "16384x16384 pixels");
    // A picture within the limit still loads (and is resized to the neuron's shape).
    blank_png(&dir.path().join("ok.png"), 300, 200);
    let ok = picture_patch(dir.path(), "ok.png");
    let p = Patch::load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let pic = p
        .network
        .find("p")
        .unwrap()
        .1
        .params
        .picture
        .clone()
        .unwrap();
    assert_eq!(pic.len(), 64);
}

/// `n` image neurons of side×side (one input and one output each).
fn images_patch(n: usize, side: usize, budget_mb: Option<u64>) -> String {
    let budget = budget_mb
        .map(|b| format!(r#", "memory_budget_mb": {b}"#))
        .unwrap_or_default();
    let mut s =
        format!(r#"{{"settings": {{"image_size": [{side}, {side}]{budget}}}, "neurons": {{"#);
    for i in 0..n {
        let sep = if i > 0 { ", " } else { "" };
        let _ = write!(s, r#"{sep}"i{i}": {{"type": "identity", "kind": "image"}}"#);
    }
    s.push_str("}}");
    s
}

#[test]
fn a_patch_beyond_the_memory_budget_is_refused_with_the_figure() {
    // 64 image neurons of 4096²: 64 × 2 ports × 64 MiB = 8192 MiB.
    let errs =
        Patch::parse(&images_patch(64, 4096, Some(4096)), "mem.json", &assets()).unwrap_err();
    let e = &errs.0[0];
    assert_eq!(e.place, "neurons");
    assert!(e.msg.contains("8192.0 MiB"), "{}", e.msg);
    assert!(e.msg.contains("budget of 4096.0 MiB"), "{}", e.msg);
    assert!(e.msg.contains("settings.memory_budget_mb"), "{}", e.msg);
    // Within a budget: fine (2 × 128² × 4 bytes × 3 = 384 KiB).
    assert!(Patch::parse(&images_patch(3, 128, Some(1)), "ok.json", &assets()).is_ok());
    // A budget of 0 is a mistake, said so.
    let errs = Patch::parse(&images_patch(1, 8, Some(0)), "zero.json", &assets()).unwrap_err();
    assert_eq!(errs.0[0].place, "settings.memory_budget_mb");
}

#[test]
fn the_default_budget_follows_the_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mem.json");
    std::fs::write(&p, images_patch(64, 4096, None)).unwrap();
    // Under 3 GiB of address space the default budget is at most 1.5 GiB: refused at check.
    let out = under_ulimit(3 << 20, &["check", p.to_str().unwrap()]);
    assert_clean_failure(&out, "beyond the budget");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the default"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

#[test]
fn an_allocation_failure_while_rendering_is_an_error_not_an_abort() {
    // The patch says its budget is large, so check passes; the address-space limit then makes
    // the CPU backend's allocation fail, which must come back as an error.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mem.json");
    std::fs::write(&p, images_patch(64, 4096, Some(1 << 20))).unwrap();
    let out_dir = dir.path().join("out");
    let out = under_ulimit(
        3 << 20,
        &[
            "render",
            p.to_str().unwrap(),
            "--backend",
            "cpu",
            "--ticks",
            "1",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_clean_failure(&out, "cannot allocate");
}

#[test]
fn an_edits_file_error_gives_one_place() {
    let dir = tempfile::tempdir().unwrap();
    let edits = dir.path().join("e.jsonl");
    std::fs::write(&edits, "\n  {\"tick\": 1, \"op\": \"sett\"}\n").unwrap();
    let out = dmm(&[
        "render",
        root().join("patches/sine.json").to_str().unwrap(),
        "--backend",
        "cpu",
        "--ticks",
        "1",
        "--edits",
        edits.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("e.jsonl: line 2:"), "{err}");
    assert!(!err.contains(" at line "), "one place only: {err}");
    assert!(!err.contains("column"), "one place only: {err}");
}
