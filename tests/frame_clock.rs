//! The two clocks (issue 12, DESIGN §1): image-clocked neurons run on frame ticks only (every
//! round(tick_rate / frame_rate)-th tick, tick 0 included) and hold their outputs in between;
//! scalars, audio and Self run every tick. Boundary cases: a frame rate above, equal to and not
//! dividing the tick rate, a neuron's own frame rate, an edit and a morph landing between frames,
//! a neuron added between frames, the held values in the trace, and bad settings.
//! tests/gpu.rs runs the same clocks on the GPU backend against the CPU.

mod common;
use common::*;
use dmm_synth::engine::{Edit, Machine, PortRef, WMatrix};
use dmm_synth::neurons::NeuronSpec;
use dmm_synth::patch::Patch;
use serde_json::json;

/// A counter on each clock: `c` (an image accum, 4×3) adds `ones` (w = 1) on each of its frame
/// ticks; `m` is `max_norm` of `c` (image-clocked: it holds between frames); `s` is a scalar
/// accum counting every tick; `show` displays `c`. `own` is `c`'s own frame rate.
fn counters(tick_rate: f64, frame_rate: Option<f64>, own: Option<f64>) -> Patch {
    let mut settings = json!({"tick_rate": tick_rate, "sample_rate": 48000, "image_size": [4, 3]});
    if let Some(f) = frame_rate {
        settings["frame_rate"] = json!(f);
    }
    let mut c = json!({"type": "accum", "kind": "image"});
    if let Some(f) = own {
        c["frame_rate"] = json!(f);
    }
    let p = json!({
        "settings": settings,
        "neurons": {
            "k": {"type": "one"},
            "ones": {"type": "one", "kind": "image"},
            "c": c,
            "m": {"type": "max_norm", "kind": "image"},
            "s": {"type": "accum"},
            "show": {"type": "display"},
        },
        "weights": {
            "c.accum": {"c.out": 1},
            "c.delta": {"ones.out": 1},
            "m.in": {"c.out": 1},
            "s.accum": {"s.out": 1},
            "s.delta": {"k.out": 1},
            "show.in": {"c.out": 1},
        }
    });
    patch_str(&p.to_string())
}

fn out0(m: &mut Machine, port: &str) -> f64 {
    m.read(port).unwrap_or_else(|| panic!("no port {port}"))[0] as f64
}

/// Runs `ticks` ticks; per tick `(c, m, s)` after it.
fn run(p: &Patch, ticks: u64) -> Vec<(f64, f64, f64)> {
    let mut m = machine(p);
    (0..ticks)
        .map(|_| {
            m.tick(false).unwrap_or_else(|e| panic!("{e}"));
            (
                out0(&mut m, "c.out"),
                out0(&mut m, "m.out"),
                out0(&mut m, "s.out"),
            )
        })
        .collect()
}

/// `c` counts its frame ticks (1 after tick 0, 2 after tick p, ...); `m` reads `c` as it was
/// before each of its own frame ticks (p_m) and holds; `s` counts every tick.
fn assert_clocks(rows: &[(f64, f64, f64)], p_c: u64, p_m: u64, what: &str) {
    let c_after = |t: u64| (t / p_c + 1) as f64;
    for (t, &(c, m, s)) in rows.iter().enumerate() {
        let t = t as u64;
        assert_eq!(c, c_after(t), "{what}: c after tick {t} (period {p_c})");
        let last_frame = t - t % p_m;
        let m_want = if last_frame == 0 {
            0.0
        } else {
            c_after(last_frame - 1)
        };
        assert_eq!(m, m_want, "{what}: m after tick {t} (period {p_m})");
        assert_eq!(s, (t + 1) as f64, "{what}: s after tick {t}");
    }
}

#[test]
fn image_neurons_run_every_period_th_tick_and_hold_in_between() {
    // (tick_rate, frame_rate, period): the default 60, a frame rate equal to and above the tick
    // rate (every tick), and ratios that are not whole numbers (rounded to the nearest tick).
    let cases = [
        (300.0, None, 5),
        (300.0, Some(300.0), 1),
        (300.0, Some(1000.0), 1),
        (375.0, None, 6),
        (375.0, Some(100.0), 4),
        (375.0, Some(150.0), 3),
        (375.0, Some(160.0), 2),
        (60.0, None, 1),
        (30.0, None, 1),
    ];
    for (tick_rate, frame_rate, period) in cases {
        let p = counters(tick_rate, frame_rate, None);
        assert_eq!(
            p.settings.frame_period(),
            period,
            "{tick_rate}/{frame_rate:?}"
        );
        let what = format!("tick_rate {tick_rate} frame_rate {frame_rate:?}");
        assert_clocks(&run(&p, 3 * period + 2), period, period, &what);
    }
}

#[test]
fn a_neurons_own_frame_rate_overrides_the_patchs() {
    // c at 30 frames a second (period 10), m and the display at the patch's 60 (period 5): m
    // sees c change only every other frame of its own.
    let p = counters(300.0, None, Some(30.0));
    assert_clocks(&run(&p, 32), 10, 5, "own frame_rate 30");
    // Faster than the patch: c every tick, m every 5th.
    let p = counters(300.0, Some(60.0), Some(300.0));
    assert_clocks(&run(&p, 12), 1, 5, "own frame_rate 300");
}

#[test]
fn the_trace_shows_the_held_values() {
    let p = counters(300.0, None, None);
    let dir = tempfile::tempdir().expect("tempdir");
    render_to(&p, dir.path(), 17, 1000, Vec::new(), 0);
    let m = trace_series(dir.path(), "m.out");
    let s = trace_series(dir.path(), "s.out");
    let want: Vec<f64> = (0..17u64).map(|t| (t / 5) as f64).collect();
    assert_eq!(m, want, "max_norm holds between frames in the trace");
    assert_eq!(s, (1..=17).map(|t| t as f64).collect::<Vec<_>>());
}

/// `W[c.delta][ones.out]` as the next down stroke reads it.
fn w_image(m: &Machine) -> f64 {
    m.w()
        .get(&PortRef::new("c", "delta"), &PortRef::new("ones", "out"))
}

#[test]
fn an_image_weight_edit_between_frames_takes_effect_at_the_next_frame_tick() {
    let p = counters(300.0, None, None);
    let mut m = machine(&p);
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for t in 0..16u64 {
        if t == 6 {
            // Taken at tick 6, in W for the down stroke of tick 8 (latency 2): between frames.
            m.submit(Edit::Batch {
                edits: vec![
                    Edit::set("c.delta", "ones.out", 2.0).expect("edit"),
                    Edit::set("s.delta", "k.out", 2.0).expect("edit"),
                ],
            });
        }
        m.tick(false).expect("tick");
        c.push(out0(&mut m, "c.out"));
        s.push(out0(&mut m, "s.out"));
    }
    // The scalar counts by 2 from tick 8; the image still adds 1 at frame tick 5 and first adds
    // 2 at frame tick 10, not at 8.
    assert_eq!(s[7] - s[6], 1.0);
    assert_eq!(s[8] - s[7], 2.0);
    assert_eq!(
        &c[..10],
        &[1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    );
    assert_eq!(&c[10..], &[4.0, 4.0, 4.0, 4.0, 4.0, 6.0]);
}

#[test]
fn a_morph_of_an_image_weight_is_sampled_at_frame_ticks() {
    let p = counters(300.0, None, None);
    let mut m = machine(&p);
    // 23 ticks of morph (0.0767 s at 300 ticks/s) from 1 to 3: W moves every tick, the image
    // reads it every 5th.
    m.submit(Edit::Set {
        target: PortRef::new("c", "delta"),
        source: PortRef::new("ones", "out"),
        weight: 3.0,
        morph: 23.0 / 300.0,
    });
    let mut prev = 0.0;
    let mut seen = Vec::new();
    for t in 0..40u64 {
        let w = w_image(&m);
        m.tick(false).expect("tick");
        let c = out0(&mut m, "c.out");
        if t % 5 == 0 {
            // The sum is in f32: compare with its rounding.
            assert_eq!(
                c as f32,
                prev as f32 + w as f32,
                "frame tick {t}: c adds W as it is now"
            );
            seen.push(w);
        } else {
            assert_eq!(c, prev, "tick {t}: c holds between frames");
        }
        prev = c;
    }
    assert_eq!(seen.first(), Some(&1.0));
    assert_eq!(seen.last(), Some(&3.0));
    assert!(
        seen.iter().any(|&w| w > 1.0 && w < 3.0),
        "a frame tick lands inside the morph: {seen:?}"
    );
}

#[test]
fn an_image_neuron_added_between_frames_starts_at_the_next_frame_tick() {
    let p = counters(300.0, None, None);
    let mut m = machine(&p);
    let mut weights = WMatrix::new();
    weights.add_entry(&PortRef::new("d", "accum"), &PortRef::new("d", "out"), 1.0);
    weights.add_entry(
        &PortRef::new("d", "delta"),
        &PortRef::new("ones", "out"),
        1.0,
    );
    let mut d = Vec::new();
    let mut shown = Vec::new();
    for t in 0..16u64 {
        if t == 6 {
            // Joins at the end of tick 7 (between frames 5 and 10).
            m.submit(Edit::AddNeuron {
                name: "d".into(),
                neuron: NeuronSpec::new("accum").with("kind", "image"),
                weights: weights.clone(),
            });
        }
        m.tick(false).expect("tick");
        d.push(m.read("d.out").map(|v| v[0]));
        shown.push(out0(&mut m, "show.in"));
    }
    assert_eq!(d[6], None, "not there yet at tick 6");
    // Its init until frame tick 10, then one step per frame.
    assert_eq!(
        &d[7..],
        &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0].map(Some)
    );
    // The display's input held across the catalogue change (tick 7) until frame tick 10.
    assert_eq!(&shown[5..11], &[1.0, 1.0, 1.0, 1.0, 1.0, 2.0]);
    // The other clocks went on: c kept its count.
    assert_eq!(out0(&mut m, "c.out"), 4.0);
}

#[test]
fn frame_rates_are_checked() {
    let bad = |settings: serde_json::Value, neurons: serde_json::Value| {
        let text = json!({"settings": settings, "neurons": neurons, "weights": {}}).to_string();
        match Patch::parse(&text, "bad.json", &assets()) {
            Ok(_) => panic!("accepted {text}"),
            Err(e) => e.to_string(),
        }
    };
    for f in [json!(0), json!(-60), json!("fast")] {
        let e = bad(json!({"frame_rate": f}), json!({}));
        assert!(e.contains("frame_rate"), "{e}");
    }
    let e = bad(
        json!({}),
        json!({"x": {"type": "sin", "kind": "image", "frame_rate": 0}}),
    );
    assert!(e.contains("frame_rate") && e.contains("positive"), "{e}");
    // Scalars and audio run every tick: a frame rate on them is a mistake, said so.
    for kind in ["scalar", "audio"] {
        let e = bad(
            json!({}),
            json!({"x": {"type": "sin", "kind": kind, "frame_rate": 30}}),
        );
        assert!(e.contains("frame_rate") && e.contains("every tick"), "{e}");
    }
    let e = bad(
        json!({}),
        json!({"x": {"type": "phasor", "frame_rate": 30}}),
    );
    assert!(e.contains("frame_rate"), "{e}");
}

#[test]
fn the_text_form_carries_frame_rates() {
    let text = "settings tick_rate=300 sample_rate=48000 image=4x3 frame_rate=30\n\
                c : accum image frame_rate=15\n\
                c.accum <- c\n";
    let p = Patch::parse(text, "t.dmm", &assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.settings.frame_rate, 30.0);
    assert_eq!(p.settings.frame_period(), 10);
    let c = p.network.find("c").expect("c").1;
    assert_eq!(c.params.frame_rate, Some(15.0));
    let printed = p.to_string_for(std::path::Path::new("t.dmm"));
    assert!(printed.contains("frame_rate=30"), "{printed}");
    assert!(printed.contains("frame_rate=15"), "{printed}");
    let again = Patch::parse(&printed, "t.dmm", &assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.settings, p.settings);
    // A neuron whose kind is inferred (image, from its sources) may carry its own frame rate.
    let text = "settings tick_rate=300 sample_rate=48000 image=4x3
                ones : one image
                c : accum frame_rate=30
                c.delta <- ones
";
    let p = Patch::parse(text, "t.dmm", &assets()).unwrap_or_else(|e| panic!("{e}"));
    let c = p.network.find("c").expect("c").1;
    assert_eq!(c.params.frame_rate, Some(30.0));
    assert_eq!(dmm_synth::neurons::clock::neuron_period(c, &p.settings), 10);
}

/// An `image_w` writing deltas adds its image to W once per frame, not once per tick: between
/// its frame ticks it holds its image and writes nothing.
#[test]
fn an_image_w_adds_its_deltas_once_per_frame() {
    let p = json!({
        "settings": {"tick_rate": 300, "frame_rate": 60, "sample_rate": 48000, "image_size": [1, 1]},
        "neurons": {
            "ones": {"type": "one", "kind": "image"},
            "k": {"type": "one"},
            "s": {"type": "accum"},
            "d": {"type": "image_w", "targets": "s.delta", "sources": "k.out", "write": "deltas"},
        },
        "weights": {"d.a": {"ones.out": 1}}
    });
    let mut m = machine(&patch_str(&p.to_string()));
    let entry = |m: &Machine| {
        m.w()
            .get(&PortRef::new("s", "delta"), &PortRef::new("k", "out"))
    };
    let period = 5; // round(300 / 60)
    for tick in 0..40u64 {
        m.tick(false).expect("tick");
        // Frames at ticks 0, 5, 10, ...: d's image is 1 from its first frame tick on.
        let frames = tick / period + 1;
        assert_eq!(entry(&m), frames as f64, "after tick {tick}");
    }
}
