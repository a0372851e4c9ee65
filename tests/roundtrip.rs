//! Lossless conversion: random networks (every neuron type, matrix inits) → text → the same
//! network; every shipped JSON patch → text → JSON with the same meaning; text → text is a
//! fixed point; each shipped `.dmm` loads to the same network as its JSON twin.

mod common;

use dmm_synth::neurons::{Kinds, Network, NeuronSpec, PortKind, TYPES};
use dmm_synth::patch::Patch;
use dmm_synth::patch::text::{parse_text, print_text};
use dmm_synth::stream::{PortRef, Settings, WMatrix};
use serde_json::{Map, Value as Json, json};

/// A spec's settings with every number as f64 (`1` and `1.0` mean the same).
fn canon(v: &Json) -> Json {
    match v {
        Json::Number(n) => json!(n.as_f64()),
        Json::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), canon(v))).collect()),
        Json::Array(a) => Json::Array(a.iter().map(canon).collect()),
        other => other.clone(),
    }
}

fn spec_canon(s: &NeuronSpec, with_comment: bool) -> Json {
    let mut m = s.settings.clone();
    if !with_comment {
        m.remove("comment");
    }
    json!({"type": s.ty, "settings": canon(&Json::Object(m))})
}

/// Same settings, neurons (names, order, types and settings) and weights.
fn assert_same(a: &Patch, b: &Patch, with_comments: bool, what: &str) {
    assert_eq!(a.settings, b.settings, "{what}: settings");
    let names = |p: &Patch| p.neurons.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: neuron order");
    for ((n, sa), (_, sb)) in a.neurons.iter().zip(&b.neurons) {
        assert_eq!(
            spec_canon(sa, with_comments),
            spec_canon(sb, with_comments),
            "{what}: neuron {n}"
        );
    }
    assert_eq!(a.weights, b.weights, "{what}: weights");
    if with_comments {
        assert_eq!(a.comment, b.comment, "{what}: comment");
    }
}

const SHIPPED: [&str; 5] = ["sine", "fm", "default", "poster", "waves"];

#[test]
fn shipped_json_to_text_to_json_keeps_the_meaning() {
    for name in SHIPPED {
        let json = common::patch(&format!("{name}.json"));
        let text = print_text(&json);
        let from_text = parse_text(&text, "x.dmm", &common::assets())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_same(&json, &from_text, true, name);
        let back = Patch::parse(&from_text.to_json_string(), "x.json", &common::assets()).unwrap();
        assert_same(&json, &back, true, name);
        assert_eq!(
            print_text(&from_text),
            text,
            "{name}: text → text is a fixed point"
        );
        assert_eq!(print_text(&back), text, "{name}: the layout survives JSON");
    }
}

#[test]
fn each_shipped_dmm_loads_to_the_same_network_as_its_json_twin() {
    for name in SHIPPED {
        let json = common::patch(&format!("{name}.json"));
        let dmm = common::patch(&format!("{name}.dmm"));
        assert_same(&json, &dmm, false, name);
        // The comment is the same text, wrapped into lines.
        let words = |c: &Option<String>| {
            c.as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(words(&json.comment), words(&dmm.comment), "{name}");
        let src =
            std::fs::read_to_string(common::root().join(format!("patches/{name}.dmm"))).unwrap();
        assert_eq!(print_text(&dmm), src, "{name}.dmm is in canonical form");
    }
}

/// `dmm-synth convert X.dmm X.json` and back gives every shipped `.dmm` (the text-only ones
/// too) its own text again, up to the alignment of `:` and `<-` (printing aligns them), and
/// exactly the canonical print of the text. The order of a declaration's settings included
/// (`spec : spectrum max_hz=3000 ... size=1024` came back as `size=1024 max_hz=3000 ...`:
/// removing `"type"` from the JSON object moved its last key first).
#[test]
fn every_shipped_dmm_survives_json() {
    let spaces = |t: &str| -> String {
        t.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut n = 0;
    for entry in std::fs::read_dir(common::root().join("patches")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("dmm") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let p = parse_text(&src, &name, &common::assets()).unwrap_or_else(|e| panic!("{e}"));
        let back = Patch::parse(&p.to_json_string(), "x.json", &common::assets())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = print_text(&back);
        let (a, b) = (spaces(&src), spaces(&out));
        if let Some((i, (x, y))) = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y)
        {
            panic!(
                "{name}:{}: .dmm -> .json -> .dmm\n  was {x}\n  now {y}",
                i + 1
            );
        }
        assert_eq!(a.lines().count(), b.lines().count(), "{name}");
        assert!(out == print_text(&p), "{name}: the canonical print");
        n += 1;
    }
    assert!(n >= 15, "{n} shipped .dmm patches");
}

/// A JSON patch's optional `memory_budget_mb` survives the text form (it was printed as a
/// setting the text language then refused).
#[test]
fn memory_budget_survives_text() {
    let json = r#"{"settings": {"tick_rate": 100, "sample_rate": 1000, "memory_budget_mb": 64},
        "neurons": {"k": {"type": "one"}}, "weights": {}}"#;
    let p = Patch::parse(json, "m.json", &common::assets()).unwrap();
    let text = print_text(&p);
    assert!(text.contains("memory_budget_mb=64"), "{text}");
    let back = parse_text(&text, "m.dmm", &common::assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.settings.memory_budget_mb, Some(64));
    assert_eq!(back.settings, p.settings);
}

#[test]
fn comments_blank_lines_and_row_morphs_survive_text_json_text() {
    let src = "# a patch
# in two lines

settings tick_rate=100 sample_rate=1000 image=8x8 morph=0.25

# --- sources ---
k   : one      # the constant
osc : sin audio

osc.x <- 2 k ~1.5s  # a row comment
# --- the end ---
";
    let p = parse_text(src, "c.dmm", &common::assets()).unwrap();
    let printed = print_text(&p);
    let j = Patch::parse(&p.to_json_string(), "c.json", &common::assets()).unwrap();
    assert_eq!(print_text(&j), printed);
    assert_eq!(
        print_text(&parse_text(&printed, "c.dmm", &common::assets()).unwrap()),
        printed
    );
    for needle in [
        "# in two lines",
        "# --- sources ---",
        "# the constant",
        "~1.5s  # a row comment",
        "# --- the end ---",
    ] {
        assert!(printed.contains(needle), "{needle} in\n{printed}");
    }
    assert_eq!(p.comment.as_deref(), Some("a patch\nin two lines"));
}

/// xorshift: deterministic random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn weight(&mut self) -> f64 {
        let choices = [
            1.0,
            -1.0,
            0.5,
            440.0,
            -0.23,
            1e-7,
            3.5e20,
            std::f64::consts::TAU,
            std::f64::consts::PI * 3.0,
            1.0 / 3.0,
            -2.0 / 7.0,
            12345.678,
        ];
        *self.pick(&choices) * if self.below(4) == 0 { -1.0 } else { 1.0 }
    }
}

const NAMES: [&str; 16] = [
    "a",
    "osc",
    "pi",
    "t",
    "settings",
    "left-hand",
    "x1",
    "_one",
    "_one_audio",
    "e",
    "one",
    "remove",
    "b_2",
    "image",
    "k-9",
    "tau",
];

/// A random patch as JSON: every type, random kinds and shapes, settings, matrix inits,
/// comments with awkward characters, weights that obey the type rule.
fn random_patch(seed: u64) -> Json {
    let mut r = Rng(seed);
    let settings = Settings {
        tick_rate: 100.0,
        sample_rate: 1000,
        image_size: [4, 3],
        morph_time: if r.below(2) == 0 { 0.0 } else { 0.125 },
        ..Settings::default()
    };
    let mut net = Network::new(settings.clone());
    let mut neurons = Map::new();
    let assets = common::assets();
    let mut n = 0;
    for info in TYPES
        .iter()
        .filter(|t| t.name != "self" && t.name != "edits")
    {
        for _ in 0..1 + r.below(2) {
            let base = NAMES[(n + r.below(3)) % NAMES.len()];
            let name = format!(
                "{base}{}",
                if n < NAMES.len() && r.below(3) == 0 {
                    String::new()
                } else {
                    n.to_string()
                }
            );
            n += 1;
            if net.contains(&name) {
                continue;
            }
            let mut spec = NeuronSpec::new(info.name);
            let kinds: &[&str] = match info.kinds {
                Kinds::None => &[],
                Kinds::Dense => &["scalar", "audio", "image"],
                Kinds::All => &["scalar", "audio", "image", "matrix"],
            };
            let kind = if kinds.is_empty() {
                None
            } else {
                Some(*r.pick(kinds))
            };
            if let Some(k) = kind {
                spec = spec.with("kind", k);
            }
            if info.has_shape() && r.below(2) == 0 {
                spec = spec.with("rows", 1 + r.below(5));
            }
            match info.name {
                "noise" => spec = spec.with("seed", r.next() >> 1),
                "softmax_rows" | "softmax_cols" if r.below(2) == 0 => {
                    spec = spec.with("temperature", 0.25 + r.below(8) as f64)
                }
                "matmul" if r.below(2) == 0 => spec = spec.with("inner", 1 + r.below(4)),
                "picture" => spec = spec.with("file", "astronaut.png"),
                "accum" | "identity" if kind != Some("matrix") && r.below(2) == 0 => {
                    spec = spec.with("init", r.weight())
                }
                _ => {}
            }
            if r.below(3) == 0 {
                let comments = [
                    "plain",
                    "with # hash and \"quotes\"",
                    "ünïcødé ~2s <- x",
                    "two\nlines",
                    "  leading spaces",
                    "trailing space ",
                ];
                spec = spec.with("comment", *r.pick(&comments));
            }
            if net.add(&name, &spec, &assets).is_ok() {
                neurons.insert(name, serde_json::to_value(&spec).unwrap());
            }
        }
    }
    // Weights, and matrix inits drawn from the same valid connections.
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for d in &net.neurons {
        for p in &d.inputs {
            inputs.push((PortRef::new(&d.name, p.name), p.kind));
        }
        for p in &d.outputs {
            outputs.push((PortRef::new(&d.name, p.name), p.kind));
        }
    }
    let mut w = WMatrix::new();
    for _ in 0..200 {
        let (t, tk) = r.pick(&inputs).clone();
        let matching: Vec<&PortRef> = outputs
            .iter()
            .filter(|(_, k)| *k == tk)
            .map(|(p, _)| p)
            .collect();
        if matching.is_empty() || t == PortRef::new("self", "accum") {
            continue;
        }
        let s = (*r.pick(&matching)).clone();
        if s.neuron == "edits" {
            continue;
        }
        let x = r.weight();
        if net.check_weight(&t, &s, x).is_ok() {
            w.add_entry(&t, &s, x);
        }
    }
    let matrix_targets: Vec<&(PortRef, _)> = inputs
        .iter()
        .filter(|(p, _)| p.neuron != "self" || p.port != "accum")
        .collect();
    for (name, spec) in neurons.iter_mut() {
        let has_init = matches!(spec["type"].as_str(), Some("accum" | "identity"));
        if has_init && spec.get("kind") == Some(&json!("matrix")) && r.below(3) > 0 {
            let mut m = WMatrix::new();
            for _ in 0..1 + r.below(3) {
                let (t, tk) = (*r.pick(&matrix_targets)).clone();
                if let Some((s, _)) = outputs
                    .iter()
                    .find(|(p, k)| *k == tk && p.neuron != "edits" && r.below(2) == 0)
                {
                    m.add_entry(&t, s, r.weight());
                }
            }
            let _ = name;
            spec["init"] = serde_json::to_value(&m).unwrap();
        }
    }
    json!({
        "comment": "random patch\nline two",
        "settings": serde_json::to_value(&settings).unwrap(),
        "neurons": neurons,
        "weights": serde_json::to_value(&w).unwrap(),
    })
}

#[test]
fn random_networks_survive_text() {
    let mut total_neurons = 0;
    let mut total_weights = 0;
    for seed in 1..=60u64 {
        let j = random_patch(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let p = Patch::parse(&j.to_string(), "r.json", &common::assets())
            .unwrap_or_else(|e| panic!("seed {seed}: generator made a bad patch: {e}"));
        total_neurons += p.neurons.len();
        total_weights += p.weights.len();
        let text = print_text(&p);
        let q = parse_text(&text, "r.dmm", &common::assets())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_same(&p, &q, true, &format!("seed {seed}\n{text}"));
        // The built networks agree too (kinds, shapes, ports).
        for (a, b) in p.network.neurons.iter().zip(&q.network.neurons) {
            assert_eq!(
                (&a.name, a.kind, a.rows, a.cols),
                (&b.name, b.kind, b.rows, b.cols)
            );
        }
        assert_eq!(print_text(&q), text, "seed {seed}: fixed point");
        let back = Patch::parse(&q.to_json_string(), "r.json", &common::assets()).unwrap();
        assert_same(&p, &back, true, &format!("seed {seed} via JSON"));
    }
    assert!(total_neurons > 60 * 20, "{total_neurons} neurons");
    assert!(total_weights > 60 * 30, "{total_weights} weights");
    let _ = PortKind::Any;
}
