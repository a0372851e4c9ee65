//! Same patch, edits and seed give byte-identical files; another seed changes the noise.

mod common;
use common::*;
use dmm_synth::engine::edits::parse_edits_jsonl;

const NOISY: &str = r#"{
  "comment": "noise into audio, an image and a trace",
  "settings": { "tick_rate": 100, "sample_rate": 6400, "image_size": [16, 16] },
  "neurons": {
    "n": { "type": "noise", "kind": "audio" },
    "ni": { "type": "noise", "kind": "image", "seed": 7 },
    "lvl": { "type": "rms" },
    "k": { "type": "one" },
    "x": { "type": "identity" },
    "img": { "type": "normalize", "kind": "image" },
    "show": { "type": "display" },
    "out": { "type": "audio_out" }
  },
  "weights": {
    "lvl.x": { "n.out": 1 },
    "x.in": { "k.out": 1 },
    "img.x": { "ni.out": 1 },
    "show.in": { "img.out": 1 },
    "out.left": { "n.out": 0.2 },
    "out.right": { "n.out": -0.2 }
  }
}"#;

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn renders_are_byte_identical() {
    let p = patch_str(NOISY);
    let edits = parse_edits_jsonl(
        "{\"tick\": 5, \"op\": \"set\", \"target\": \"x.in\", \"source\": \"k.out\", \"weight\": 3}\n\
         {\"tick\": 9, \"op\": \"remove_neuron\", \"name\": \"ni\"}",
    )
    .unwrap();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    render_to(&p, a.path(), 30, 4, edits.clone(), 42);
    render_to(&p, b.path(), 30, 4, edits.clone(), 42);
    render_to(&p, c.path(), 30, 4, edits, 43);
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(
        fa.len() >= 5,
        "{:?}",
        fa.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(fa, fb, "same seed, same bytes");
    let wav = |f: &Vec<(String, Vec<u8>)>| f.iter().find(|x| x.0 == "audio.wav").unwrap().1.clone();
    assert_ne!(wav(&fa), wav(&fc), "another seed, other noise");
    // The edits took effect in the trace at the documented tick.
    let x = trace_series(a.path(), "x.out");
    assert_eq!(x[6], 1.0);
    assert_eq!(x[7], 3.0);
    // Noise is in [-1, 1) and not constant.
    let lvl = trace_series(a.path(), "lvl.out");
    assert_eq!(lvl[0], 0.0, "tick 0 reads the initial (zero) outputs");
    assert!(lvl[1..].iter().all(|&v| v > 0.45 && v < 0.7), "{lvl:?}");
}
