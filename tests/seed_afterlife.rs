//! The Processing matrix-stream machines (DMM-REFERENCE §3.3, §5.1, §5.2) as shipped patches,
//! against a straightforward re-implementation of the sketches written here: Java's 48-bit LCG,
//! Processing's random(2) - 1, the sketches' loops in float32 and in their order.

mod common;
use common::*;
use dmm_synth::backend::Backend;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::backend::gpu::{GpuBackend, GpuContext};
use dmm_synth::engine::Machine;
use dmm_synth::patch::Patch;
use dmm_synth::patch::sketches::{NAMES, generate};
use dmm_synth::stream::wmatrix::PortRef;

/// java.util.Random: setSeed scrambling, the 48-bit LCG, nextFloat; Processing's random(h).
struct Jr(u64);

impl Jr {
    fn new(seed: i64) -> Jr {
        Jr((seed as u64 ^ 0x5DEECE66D) & ((1 << 48) - 1))
    }
    fn random(&mut self, h: f32) -> f32 {
        loop {
            self.0 = (self.0.wrapping_mul(0x5DEECE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
            let v = (self.0 >> 24) as f32 / 16777216.0 * h;
            if v != h {
                return v;
            }
        }
    }
}

type M = Vec<Vec<f32>>;

/// One afterlife sketch: its matrices and its draw() (the Processing code, transcribed).
struct Sketch {
    ni: usize,
    no: usize,
    outs: Vec<M>,
    ins: Vec<M>,
    conway: bool,
}

impl Sketch {
    fn new(ni: usize, no: usize, seed: i64, conway: bool) -> Sketch {
        let mut r = Jr::new(seed);
        let mut outs = vec![vec![vec![0.0f32; no]; ni]; no];
        for i in 0..ni {
            for j in 0..no {
                if conway {
                    for m in outs.iter_mut() {
                        m[i][j] = r.random(2.0) - 1.0;
                    }
                } else {
                    for k in [0, 1, 2, 3, 4, 8, 5, 6, 9, 10, 7] {
                        outs[k][i][j] = r.random(2.0) - 1.0;
                    }
                }
            }
        }
        outs[0][0][0] = 1.0;
        Sketch {
            ni,
            no,
            outs,
            ins: vec![vec![vec![0.0; no]; ni]; ni],
            conway,
        }
    }

    fn squeeze(m: &mut M) {
        let mut mx = 0.0f32;
        for row in m.iter() {
            for v in row {
                mx = mx.max(v.abs());
            }
        }
        for row in m.iter_mut() {
            for v in row.iter_mut() {
                *v /= mx;
            }
        }
    }

    fn pseudoconway(&self, a: &M) -> M {
        let (ni, no) = (self.ni, self.no);
        let mut out = vec![vec![0.0; no]; ni];
        for i in 0..ni {
            for j in 0..no {
                let mut sum = 2.0 * a[i][j];
                for i1 in -1i32..2 {
                    for j1 in -1i32..2 {
                        let r = (i as i32 + i1 + ni as i32) as usize % ni;
                        let c = (j as i32 + j1 + no as i32) as usize % no;
                        sum += a[r][c];
                    }
                }
                let alive = (-1.0..=1.0).contains(&sum) || (4.0..=6.0).contains(&sum);
                out[i][j] = if alive { -1.0 } else { 1.0 };
            }
        }
        out
    }

    fn zip(a: &M, b: &M, f: impl Fn(f32, f32) -> f32) -> M {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.iter().zip(y).map(|(&p, &q)| f(p, q)).collect())
            .collect()
    }

    fn draw(&mut self) {
        let (ni, no) = (self.ni, self.no);
        for i in 0..ni {
            for j in 0..no {
                let coef = self.outs[0][i][j];
                if coef != 0.0 {
                    for r in 0..ni {
                        for c in 0..no {
                            self.ins[i][r][c] += coef * self.outs[j][r][c];
                        }
                    }
                }
            }
        }
        let x = &self.ins;
        let mut w = Self::zip(&x[0], &x[1], |a, b| a + b);
        w[0] = vec![0.0; no];
        w[0][0] = 1.0;
        self.outs[0] = w;
        for k in [2, 4, 6, 8, 10] {
            self.outs[k] = if self.conway {
                self.pseudoconway(&x[k])
            } else {
                match k {
                    2 => Self::zip(&x[2], &x[3], |a, b| a + b),
                    4 | 6 => Self::zip(&x[k], &x[k + 1], |a, b| a * b),
                    _ => Self::zip(&x[k], &x[k + 1], f32::max),
                }
            };
        }
        for k in 0..no {
            Self::squeeze(&mut self.outs[k]);
            self.outs[0][0][0] = 1.0;
        }
        for m in self.ins.iter_mut() {
            Self::squeeze(m);
        }
    }
}

/// The generated patch without its display (the board's matmuls are large for lavapipe and
/// only read the machine): the declarations and rows of the `oNN` and `iNN` neurons.
fn machine_only(name: &str) -> Patch {
    let text = generate(name).expect("a sketch");
    let keep = |l: &&str| {
        let w: String = l
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        l.starts_with('#')
            || l.starts_with("settings")
            || l.trim().is_empty()
            || (w.len() == 3 && (w.starts_with('o') || w.starts_with('i')))
    };
    let text: Vec<&str> = text.lines().filter(keep).collect();
    Patch::parse(&text.join("\n"), &format!("{name}.dmm"), &assets())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn start(p: &Patch, backend: Box<dyn Backend>) -> Machine {
    Machine::new(p.network.clone(), p.initial_w(), backend, assets(), 0)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The largest difference between the engine's streams and the sketch's, after each of 50
/// frames, over every output and every (squeezed) input.
fn run_against_sketch(m: &mut Machine, s: &mut Sketch, tol: f32, what: &str) {
    for frame in 1..=50 {
        m.tick(false).unwrap();
        s.draw();
        let streams = (0..s.no)
            .map(|k| (format!("o{k:02}.out"), &s.outs[k]))
            .chain((0..s.ni).map(|i| (format!("i{i:02}.out"), &s.ins[i])));
        for (port, want) in streams {
            let got = m.read(&port).unwrap_or_else(|| panic!("{port}"));
            for (n, (g, w)) in got.iter().zip(want.iter().flatten()).enumerate() {
                assert!(
                    (g - w).abs() <= tol,
                    "{what}: frame {frame}, {port}[{},{}]: engine {g}, sketch {w}",
                    n / s.no,
                    n % s.no
                );
            }
        }
        // The real W holds the sketch's network matrix: W[X_i's ports][o_j] = out[0][i][j].
        let w = m.w();
        for i in 0..s.ni {
            for j in 0..s.no {
                let t = PortRef::new(format!("i{i:02}"), "a");
                let src = PortRef::new(format!("o{j:02}"), "out");
                let got = w.get(&t, &src) as f32;
                assert!(
                    (got - s.outs[0][i][j]).abs() <= tol,
                    "{what}: frame {frame}, W[{i}][{j}] = {got}, sketch {}",
                    s.outs[0][i][j]
                );
            }
        }
    }
}

#[test]
fn shipped_patches_are_the_generators_output() {
    for name in NAMES {
        let file = std::fs::read_to_string(root().join(format!("patches/{name}.dmm")))
            .unwrap_or_else(|e| panic!("patches/{name}.dmm: {e}"));
        assert_eq!(
            file,
            generate(name).unwrap(),
            "patches/{name}.dmm differs from `dmm-synth gen {name}`"
        );
        // The whole patch (display included) loads and runs.
        let mut m = machine(&patch(&format!("{name}.dmm")));
        for _ in 0..3 {
            m.tick(true).unwrap();
        }
        assert!(m.nonfinite_counts().is_empty(), "{name}: NaN/Inf");
    }
}

#[test]
fn lightweight_waves_carries_the_master_row_one_through_columns_1_3_5_7_9() {
    let mut m = machine(&patch("lightweight_waves.dmm"));
    let w_row1 = PortRef::new("o00", "b");
    for tick in 0..100 {
        m.tick(false).unwrap();
        // Frame 1 adds U1 (-1 at column 1, +1 at 3) to W's row 1, and so on: period 5.
        let col = [3, 5, 7, 9, 1][tick % 5];
        let img = m.read("o00.out").unwrap();
        let row1 = &img[11..22];
        for (j, &v) in row1.iter().enumerate() {
            assert_eq!(
                v,
                if j == col { 1.0 } else { 0.0 },
                "tick {tick}, W[1][{j}]"
            );
        }
        // ...and so does the real W: X1 lands on o00.b.
        for j in 0..11 {
            let got = m.w().get(&w_row1, &PortRef::new(format!("o{j:02}"), "out"));
            assert_eq!(
                got,
                if j == col { 1.0 } else { 0.0 },
                "tick {tick}, W o00.b <- o{j:02}"
            );
        }
        // Row 0 stays the accumulator.
        assert_eq!(&img[..11], &[1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.]);
    }
}

#[test]
fn afterlife_sleep_wake_matches_the_sketch_for_50_frames() {
    let p = machine_only("afterlife_sleep_wake");
    let mut m = start(&p, Box::new(CpuBackend::new()));
    let mut s = Sketch::new(12, 11, 746484, false);
    run_against_sketch(&mut m, &mut s, 1e-5, "cpu");
}

#[test]
fn afterlife_conway_matches_the_sketch_for_50_frames() {
    let p = machine_only("afterlife_conway");
    let mut m = start(&p, Box::new(CpuBackend::new()));
    let mut s = Sketch::new(24, 23, 300032, true);
    run_against_sketch(&mut m, &mut s, 1e-5, "cpu");
    // Bistability: the inputs are mostly one sign (the README's "mostly positive or mostly
    // negative"), not an even mix.
    let x: Vec<f32> = (0..24)
        .flat_map(|i| m.read(&format!("i{i:02}.out")).unwrap())
        .collect();
    let pos = x.iter().filter(|&&v| v > 0.0).count() as f64 / x.len() as f64;
    assert!(!(0.3..=0.7).contains(&pos), "positive share {pos}");
}

/// The GPU backend (lavapipe in CI). Every kernel on the way is exact arithmetic except the
/// squeeze's division (WGSL allows 2.5 ulp), so 1e-4 is the stated tolerance; a pseudo-Conway
/// threshold could in principle flip on an ulp, which this test would catch.
fn gpu() -> Option<GpuBackend> {
    match GpuContext::new().and_then(GpuBackend::with_context) {
        Ok(b) => Some(b),
        Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
        }
        Err(e) => {
            eprintln!("NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure");
            None
        }
    }
}

#[test]
fn afterlife_machines_match_the_sketch_on_the_gpu() {
    for (name, ni, no, seed, conway) in [
        ("afterlife_sleep_wake", 12, 11, 746484, false),
        ("afterlife_conway", 24, 23, 300032, true),
    ] {
        let Some(g) = gpu() else { return };
        let mut m = start(&machine_only(name), Box::new(g));
        let mut s = Sketch::new(ni, no, seed, conway);
        run_against_sketch(&mut m, &mut s, 1e-4, &format!("gpu {name}"));
    }
}

#[test]
fn bad_matrix_settings_are_refused_naming_the_place() {
    let cases = [
        (
            r#"w : image_w rows=2 cols=2 targets="x.a; -" sources="w.out, -""#,
            "x.a",
        ),
        (
            r#"w : image_w rows=2 cols=2 targets="w.a" sources="w.out, w.out""#,
            "expected 2 groups",
        ),
        (
            r#"w : image_w rows=2 cols=2 targets="w.a; w.b" sources="w.out""#,
            "expected 2 output ports",
        ),
        (
            r#"w : image_w write="sometimes""#,
            "\"values\" or \"deltas\"",
        ),
        (r#"w : image_w squeeze=2"#, "expected 0 or 1"),
        (
            r#"w : squeeze image of="min""#,
            "\"sum\", \"mul\" or \"max\"",
        ),
        (r#"w : constant image cells="99,0=1""#, "outside"),
        (r#"w : constant image cells="0,0=nan""#, "finite value"),
        (r#"w : constant image cells="0;0=1""#, "row,col=value"),
        (r#"w : constant image random_every=3"#, "needs random_seed"),
        (
            r#"w : constant image random_seed=1 random_every=2 random_at=2"#,
            "below random_every",
        ),
        (
            r#"w : constant image random_seed=1 random_every=0"#,
            "1..=1024",
        ),
        (r#"w : constant cells="0,0=1""#, "image-kind"),
    ];
    for (text, want) in cases {
        let text = format!("settings image=2x2\n{text}\n");
        let err = match Patch::parse(&text, "bad.dmm", &assets()) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(want) && err.contains("bad.dmm"),
            "{text}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{text}: one line: {err}");
    }
}

/// afterlife_sound without the board's display (its matmuls only draw): the machine and the
/// sound.
fn sound_only() -> Patch {
    let text = generate("afterlife_sound").expect("a sketch");
    let display = |l: &&str| {
        let w: String = l
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let b = w.as_bytes();
        let numbered = w.len() == 4
            && (b[0] == b'q' || b[0] == b't')
            && (b[1] == b'o' || b[1] == b'i')
            && b[2..].iter().all(u8::is_ascii_digit);
        numbered || ["ptop", "pbottom", "top", "bottom", "show"].contains(&w.as_str())
    };
    let text: Vec<&str> = text.lines().filter(|l| !display(l)).collect();
    Patch::parse(&text.join("\n"), "afterlife_sound.dmm", &assets())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Processing's per-partial gain: initGain[i] · (0.5 − 0.5·W[1][i]), with `currentGain /= 1.4`
/// on a Java float and the multiplier a double stored as float.
fn sketch_gains(w_row1: &[f32]) -> Vec<f32> {
    let mut g = 1.0f32;
    let mut out = Vec::new();
    for &w in w_row1 {
        let multiplier = (0.5 - 0.5 * w as f64) as f32;
        out.push(g * multiplier);
        g = (g as f64 / 1.4) as f32;
    }
    out
}

/// The sonified afterlife against the sketch, computed here: the machine is conway_2's
/// (randomSeed(300032)); the weight of sine j in the mix, W[mix.in][h_j], follows the sketch's
/// gain of W's master row four frames late (W → master → gain → gains → W); the mix is the sum
/// of sines at 40·(j+1) Hz with those weights ramped across each block; the master fade rises
/// from 0 (until the sketch's frame 50) to 0.3 over 600 frames; the speakers get mix · fade.
#[test]
fn afterlife_sound_plays_w_master_row_with_the_sketch_gains_and_fade() {
    let p = sound_only();
    let mut m = start(&p, Box::new(CpuBackend::new()));
    let mut s = Sketch::new(24, 23, 300032, true);
    let (sr, block) = (48000.0f64, 4800usize);
    let mix_in = PortRef::new("mix", "in");
    let hs: Vec<PortRef> = (1..=23)
        .map(|j| PortRef::new(format!("h{j:02}"), "out"))
        .collect();
    // The sketch's o00 after each frame (index k: after the machine's tick k).
    let mut o00: Vec<Vec<Vec<f32>>> = Vec::new();
    // This test's own 40 Hz phase, per sample in f32 (the phasor's documented rule), and the
    // sine blocks it gives (sines[k]: sin(2π(j+1)·phase) of tick k, what h_j plays at k + 1).
    let dt = (1.0 / sr) as f32;
    let mut phase = 0.0f32;
    let mut sines: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut mixes: Vec<Vec<f32>> = Vec::new();
    let mut fades: Vec<Vec<f32>> = Vec::new();
    let mut weights: Vec<Vec<f64>> = Vec::new();
    let ticks = 700usize;
    let mut loud = 0.0f32;
    for k in 0..ticks {
        let w: Vec<f64> = hs.iter().map(|h| m.w().get(&mix_in, h)).collect();
        let left = m.tick(false).unwrap().left.clone();
        s.draw();
        o00.push(s.outs[0].clone());
        // The first tick ramps every audio weight from 0 (the machine has no earlier W): the
        // 40 of ph.freq too.
        let ph: Vec<f32> = (0..block)
            .map(|n| {
                let f = if k == 0 {
                    (40.0f32 / block as f32) * (n + 1) as f32
                } else {
                    40.0
                };
                let q = phase + f * dt;
                phase = q - q.floor();
                phase
            })
            .collect();
        sines.push(
            (1..=23)
                .map(|j| {
                    let a = (2.0 * std::f64::consts::PI * j as f64) as f32;
                    ph.iter().map(|&p| (a * p).sin()).collect()
                })
                .collect(),
        );
        // 1. The mixing weights are the sketch's gains of W's master row, four frames late.
        if k >= 4 {
            let want = sketch_gains(&o00[k - 4][1]);
            for (j, (&got, &want)) in w.iter().zip(&want).enumerate() {
                assert!(
                    (got as f32 - want).abs() <= 1e-6,
                    "tick {k}: weight of sine {j} {got}, sketch gain {want}"
                );
            }
        }
        weights.push(w);
        // 2. The mix: sine blocks of two ticks ago (phasor, then sine: one tick each), the
        //    weights ramped from the last tick's W to this tick's.
        let mix = m.read("mix.out").unwrap();
        if k >= 2 {
            let (prev, now) = (&weights[k - 1], &weights[k]);
            for (n, &got) in mix.iter().enumerate() {
                let r = (n + 1) as f64 / block as f64;
                let want: f64 = (0..23)
                    .map(|j| (prev[j] + (now[j] - prev[j]) * r) * sines[k - 2][j][n] as f64)
                    .sum();
                assert!(
                    (got as f64 - want).abs() <= 2e-4,
                    "tick {k}, sample {n}: mix {got}, want {want}"
                );
            }
        }
        // 3. The master fade: 0.3·clamp((frame − 50)/600, 0, 1), two ticks late (time, relu,
        //    then hold), ramped across the block from the last tick's value.
        let fade = m.read("fade.out").unwrap();
        let level = |k: usize| 0.3 * ((k as f64 - 2.0 - 49.0) / 600.0).clamp(0.0, 1.0);
        let (from, to) = (if k == 0 { 0.0 } else { level(k - 1) }, level(k));
        for (n, &got) in fade.iter().enumerate() {
            let want = from + (to - from) * (n + 1) as f64 / block as f64;
            assert!(
                (got as f64 - want).abs() <= 2e-6,
                "tick {k}, sample {n}: fade {got}, want {want}"
            );
        }
        // 4. The speakers play mix · fade, each one tick later (amp, then audio_out).
        if k >= 2 {
            for (n, &got) in left.iter().enumerate() {
                let want = mixes[k - 2][n] * fades[k - 2][n];
                assert!(
                    (got - want).abs() <= 1e-7,
                    "tick {k}, sample {n}: left {got}, want {want}"
                );
            }
        }
        if k <= 52 {
            assert!(
                left.iter().all(|&v| v == 0.0),
                "tick {k}: silent before frame 50"
            );
        }
        loud = loud.max(left.iter().fold(0.0f32, |a, v| a.max(v.abs())));
        mixes.push(mix);
        fades.push(fade);
        // Only the last few ticks are needed (a sine block set is 440 kB).
        if k >= 3 {
            sines[k - 3] = Vec::new();
            mixes[k - 3] = Vec::new();
            fades[k - 3] = Vec::new();
        }
    }
    let top = fades[ticks - 1][block - 1];
    assert!((top - 0.3).abs() <= 1e-6, "the fade reaches 0.3: {top}");
    assert!(loud > 0.05, "it plays: peak {loud}");
}
