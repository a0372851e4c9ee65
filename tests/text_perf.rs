//! How long parsing and diffing a 300-line text patch takes (the whole-buffer evaluation and hot
//! reload path), beside the same patch as JSON (the peer, measured in the same run). Prints the
//! figures; asserts only that both paths agree. `cargo nextest run --test text_perf --no-capture`.
//! Also: an evaluated line reaches W and the outputs in the documented 2 ticks (exact, in ticks).

mod common;

use dmm_synth::patch::Patch;
use dmm_synth::patch::diff::diff;
use dmm_synth::patch::text::{parse_text, print_text};
use std::time::{Duration, Instant};

/// 100 declarations and 200 rows: oscillators, mixers, image paths.
fn patch_300(change: f64) -> String {
    let mut s = String::from("# 300 lines\nsettings tick_rate=375 sample_rate=48000 image=16x16\n");
    for i in 0..40 {
        s.push_str(&format!(
            "ph{i} : phasor\nosc{i} : sin audio  # voice {i}\n"
        ));
    }
    for i in 0..20 {
        s.push_str(&format!("img{i} : tanh image\n"));
    }
    s.push_str("mix : tanh\nout : audio_out\nxy : coords\nshow : display\n");
    for i in 0..40 {
        s.push_str(&format!(
            "ph{i}.freq <- {} + {change} ph{}\n",
            110 + i * 5,
            (i + 1) % 40
        ));
        s.push_str(&format!("osc{i}.x <- ph{i}\nosc{i}.a <- tau\n"));
    }
    for i in 0..20 {
        s.push_str(&format!(
            "img{i}.x <- 0.5 xy.x - 0.25 img{} + 0.1\n",
            (i + 1) % 20
        ));
    }
    let sum: Vec<String> = (0..40).map(|i| format!("0.02 osc{i}")).collect();
    s.push_str(&format!("mix.x <- {}\n", sum.join(" + ")));
    for i in 0..50 {
        s.push_str(&format!("# section {i}\n"));
    }
    s.push_str("out.left <- 0.5 mix\nout.right <- 0.5 mix\nshow.in <- img0\n");
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn parse_and_diff_a_300_line_patch() {
    let assets = common::assets();
    let running_src = patch_300(0.5);
    let wanted_src = patch_300(0.75);
    assert_eq!(wanted_src.lines().count(), 300);
    let running = parse_text(&running_src, "a.dmm", &assets).unwrap_or_else(|e| panic!("{e}"));
    let wanted = parse_text(&wanted_src, "b.dmm", &assets).unwrap();
    let json = wanted.to_json_string();
    let d_text = diff(&running, &wanted, 0.5);
    let d_json = diff(
        &running,
        &Patch::parse(&json, "b.json", &assets).unwrap(),
        0.5,
    );
    assert_eq!(d_text, d_json);
    assert_eq!(d_text.now.len(), 40, "one changed weight per voice");
    let time = |f: &dyn Fn()| {
        f(); // warm-up
        median(
            (0..40)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect(),
        )
    };
    let text_t = time(&|| {
        let w = parse_text(&wanted_src, "b.dmm", &assets).unwrap();
        std::hint::black_box(diff(&running, &w, 0.5));
    });
    let json_t = time(&|| {
        let w = Patch::parse(&json, "b.json", &assets).unwrap();
        std::hint::black_box(diff(&running, &w, 0.5));
    });
    let print_t = time(&|| {
        std::hint::black_box(print_text(&wanted));
    });
    println!(
        "300-line patch ({} neurons, {} weights): parse + diff {:.3} ms as text, {:.3} ms as JSON (peer, {:.2}x); print {:.3} ms",
        wanted.neurons.len(),
        wanted.weights.len(),
        text_t.as_secs_f64() * 1e3,
        json_t.as_secs_f64() * 1e3,
        text_t.as_secs_f64() / json_t.as_secs_f64(),
        print_t.as_secs_f64() * 1e3,
    );
}

/// Evaluating a line (the editor's Ctrl+Enter: `eval_snippet`) reaches W in the documented
/// `EDIT_LATENCY_TICKS` = 2 ticks: taken by `edits` at tick t, in W after tick t+1, driving the
/// outputs from tick t+2. Prints how long turning the line into its request takes.
#[test]
fn an_evaluated_line_reaches_w_in_two_ticks() {
    use dmm_synth::engine::{EDIT_LATENCY_TICKS, PortRef};
    use dmm_synth::patch::text::eval_snippet;
    let assets = common::assets();
    let src = "settings tick_rate=375 sample_rate=48000\nk : one\nx : identity\nx.in <- k\n";
    let p = parse_text(src, "l.dmm", &assets).unwrap_or_else(|e| panic!("{e}"));
    let mut m = common::machine(&p);
    for _ in 0..5 {
        m.tick(false).unwrap();
    }
    let line = "x.in <- 5 k   # typed";
    let t0 = Instant::now();
    let edit = eval_snippet(line, 4, m.network(), m.w(), &assets, 0.0)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .expect("an edit");
    let eval_t = t0.elapsed();
    let (tgt, srcp) = (PortRef::new("x", "in"), PortRef::new("k", "out"));
    let taken = m.tick_count(); // the tick whose `edits` takes the request
    m.submit(edit);
    let mut in_w = None;
    let mut in_out = None;
    for _ in 0..6 {
        let t = m.tick_count();
        m.tick(false).unwrap();
        if in_w.is_none() && m.w().get(&tgt, &srcp) == 5.0 {
            in_w = Some(t);
        }
        if in_out.is_none() && m.scalar("x.out") == Some(5.0) {
            in_out = Some(t);
        }
    }
    assert_eq!(EDIT_LATENCY_TICKS, 2);
    assert_eq!(in_w, Some(taken + 1), "in W after the up stroke of t+1");
    assert_eq!(in_out, Some(taken + EDIT_LATENCY_TICKS), "outputs from t+2");
    println!(
        "an evaluated line: eval_snippet {:.3} ms; taken by `edits` at tick {taken}, in W after tick {}, outputs changed at tick {} ({} ticks = {:.2} ms at 375 ticks/s)",
        eval_t.as_secs_f64() * 1e3,
        in_w.unwrap_or(0),
        in_out.unwrap_or(0),
        EDIT_LATENCY_TICKS,
        EDIT_LATENCY_TICKS as f64 / 375.0 * 1e3
    );
}
