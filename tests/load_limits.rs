//! Loading stays safe and fast on hostile or huge patches: 100 000 neurons, a small PNG of 16384²
//! pixels (downscaled while decoding), PNG headers that claim too much, a patch whose streams need more memory than the machine has, and the
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

/// The picture neuron `p`'s pixels once `patch` loads.
fn picture_of(patch: &Path) -> Vec<f32> {
    let p = Patch::load(patch).unwrap_or_else(|e| panic!("{e}"));
    let (_, def) = p.network.find("p").unwrap();
    def.params.picture.clone().unwrap().to_vec()
}

/// Writes an 8-bit PNG (grey, or RGB when `rgb`) of w×h pixels, row by row from `px(x, y)`.
fn pattern_png(path: &Path, w: u32, h: u32, rgb: bool, px: impl Fn(u32, u32) -> [u8; 3]) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(if rgb {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fastest);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let mut row = Vec::new();
    for y in 0..h {
        row.clear();
        for x in 0..w {
            let v = px(x, y);
            row.extend(if rgb { &v[..] } else { &v[..1] });
        }
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
}

/// Writes only a PNG's header, claiming w×h pixels (what a decompression bomb's header says).
fn header_only_png(path: &Path, w: u32, h: u32) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(f, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    drop(enc.write_header().unwrap());
}

/// The area average of a w×h picture (grey values `v(x, y)`) over rows×cols cells, in f64: each
/// cell's mean over the part of the picture it covers, pixels cut by its edges counted by the
/// fraction inside.
fn area_average(w: u32, h: u32, rows: u32, cols: u32, v: impl Fn(u32, u32) -> f64) -> Vec<f64> {
    let overlap = |p: u32, cell: u32, n: u32, m: u32| {
        let (lo, hi) = (
            cell as f64 * n as f64 / m as f64,
            (cell + 1) as f64 * n as f64 / m as f64,
        );
        ((p + 1) as f64).min(hi) - (p as f64).max(lo)
    };
    let mut out = Vec::new();
    for i in 0..rows {
        for j in 0..cols {
            let (mut sum, mut area) = (0.0, 0.0);
            for y in 0..h {
                let fy = overlap(y, i, h, rows);
                if fy <= 0.0 {
                    continue;
                }
                for x in 0..w {
                    let fx = overlap(x, j, w, cols);
                    if fx > 0.0 {
                        sum += v(x, y) * fx * fy;
                        area += fx * fy;
                    }
                }
            }
            out.push(sum / area);
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((*g as f64 - w).abs() < 1e-5, "{what}: cell {i}: {g} vs {w}");
    }
}

/// Finding 6: a 261 KB PNG of 16384² pixels took 4.1 GB and panicked under a memory limit. It is
/// now read row by row and area-averaged into the neuron's shape while decoding: it loads, with
/// the right pixels, under a 1 GiB address-space limit.
#[test]
fn a_huge_png_loads_downscaled_while_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("huge.png");
    // 8×8 flat squares of 2048² pixels each: compresses like a blank file, but every cell of the
    // 8×8 neuron has its own value.
    let square = |x: u32, y: u32| ((x / 2048 + 8 * (y / 2048)) * 4) as u8;
    pattern_png(&png, 16384, 16384, false, |x, y| [square(x, y); 3]);
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size < 4 << 20, "the file is small: {size} bytes");
    let patch = picture_patch(dir.path(), "huge.png");
    let t0 = Instant::now();
    let got = picture_of(&patch);
    println!("loaded 16384x16384 into 8x8 in {:?}", t0.elapsed());
    let want: Vec<f64> = (0..64).map(|i| (i * 4) as f64 / 255.0).collect();
    assert_close(&got, &want, "16384² squares");
    // Under a 1 GiB address-space limit (the file's pixels alone are 256 MiB as bytes, 1 GiB as
    // f32): checked, no panic, no abort.
    let out = under_ulimit(1 << 20, &["check", patch.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The pixels of a downscaled picture are the area average of the file's, for whole and
/// fractional ratios, grey and RGB (BT.601 luma).
#[test]
fn a_picture_is_the_area_average_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let grey = |x: u32, y: u32| ((x * 7 + y * 13 + (x * y) % 31) % 256) as u8;
    pattern_png(&dir.path().join("g.png"), 1024, 1024, false, |x, y| {
        [grey(x, y); 3]
    });
    let rgb = |x: u32, y: u32| {
        [
            (x % 256) as u8,
            (y * 3 % 256) as u8,
            ((x + y) * 5 % 256) as u8,
        ]
    };
    pattern_png(&dir.path().join("c.png"), 1000, 700, true, rgb);
    let patch = |file: &str, rows: u32, cols: u32| {
        let p = dir.path().join(format!("{file}.json"));
        std::fs::write(
            &p,
            format!(
                r#"{{"neurons": {{"p": {{"type": "picture", "rows": {rows}, "cols": {cols}, "file": "{file}"}}}}}}"#
            ),
        )
        .unwrap();
        p
    };
    let want = area_average(1024, 1024, 64, 64, |x, y| grey(x, y) as f64 / 255.0);
    assert_close(&picture_of(&patch("g.png", 64, 64)), &want, "1024² -> 64²");
    let luma = |x: u32, y: u32| {
        let [r, g, b] = rgb(x, y).map(|c| c as f64 / 255.0);
        0.299 * r + 0.587 * g + 0.114 * b
    };
    let want = area_average(1000, 700, 48, 64, luma);
    assert_close(
        &picture_of(&patch("c.png", 48, 64)),
        &want,
        "1000x700 -> 64x48",
    );
}

/// A header claiming more than a picture may have is refused from the header, before anything
/// is decoded, with the figure; also under a memory limit.
#[test]
fn an_absurd_png_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    header_only_png(&dir.path().join("wide.png"), 100_000, 100_000);
    header_only_png(&dir.path().join("bomb.png"), 40_000, 40_000);
    for (file, words) in [
        (
            "wide.png",
            "100000x100000 pixels; a picture may be 1..=65535 pixels a side",
        ),
        (
            "bomb.png",
            "40000x40000 pixels, more than the 268435456 a picture may have",
        ),
    ] {
        let dir = dir.path().join(file.replace(".png", ""));
        std::fs::create_dir(&dir).unwrap();
        std::fs::rename(dir.parent().unwrap().join(file), dir.join(file)).unwrap();
        let patch = picture_patch(&dir, file);
        let errs = Patch::load(&patch).unwrap_err();
        let e = &errs.0[0];
        assert_eq!(e.place, "neurons.p.file");
        assert!(e.msg.contains(words), "{}", e.msg);
        let out = under_ulimit(1 << 20, &["check", patch.to_str().unwrap()]);
        assert_clean_failure(&out, words);
    }
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
