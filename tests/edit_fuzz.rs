//! Fuzzes the edit path: thousands of seeded random requests, valid and not (unknown ports, kind
//! mismatches, extreme numbers: ±1e308, −0, NaN, ±inf, subnormals, huge morphs), of every kind
//! (add, set, remove, delta, add_neuron, remove_neuron, batch), interleaved with ticks.
//! Checked after every tick: no panic (tests build with debug assertions and overflow checks), W
//! finite and within MAX_WEIGHT, every output finite, every request answered once, every
//! rejection explained on one line.
//!
//! The seed is printed; set DMM_FUZZ_SEED to replay one, DMM_FUZZ_REQUESTS for a longer run.

mod common;
use common::*;
use dmm_synth::engine::edits::{Edit, EditOutcome};
use dmm_synth::engine::{MAX_WEIGHT, Machine, PortRef, WMatrix};
use dmm_synth::neurons::NeuronSpec;
use std::collections::BTreeMap;

/// splitmix64: small, seedable, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A weight: mostly ordinary, often extreme.
    fn weight(&mut self) -> f64 {
        match self.below(14) {
            0..=6 => (self.unit() - 0.5) * 4.0,
            7 => *self.pick(&[1e308, -1e308, f64::MAX, f64::MIN]),
            8 => *self.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
            9 => *self.pick(&[0.0, -0.0, 5e-324, -5e-324, f64::MIN_POSITIVE]),
            10 => *self.pick(&[MAX_WEIGHT, -MAX_WEIGHT, MAX_WEIGHT * 1.0000001, 6e29, -6e29]),
            _ => {
                let e = self.unit() * 640.0 - 320.0;
                let s = if self.chance(0.5) { 1.0 } else { -1.0 };
                s * 10f64.powf(e)
            }
        }
    }

    /// A morph time in seconds: mostly 0 or short, often out of bounds.
    fn morph(&mut self) -> f64 {
        match self.below(10) {
            0..=3 => 0.0,
            4..=5 => self.unit() * 0.3,
            6 => *self.pick(&[-0.0, 5e-324, 1e-300, 0.004, 0.006]),
            7 => *self.pick(&[3600.0, 3600.000001, 1e300, f64::MAX]),
            8 => *self.pick(&[f64::NAN, f64::INFINITY, -1.0, -1e-300]),
            _ => self.unit() * 5.0,
        }
    }
}

const NET: &str = r#"{
  "settings": { "tick_rate": 100, "sample_rate": 1000, "image_size": [4, 4] },
  "neurons": {
    "k": { "type": "one" },
    "ka": { "type": "one", "kind": "audio" },
    "x": { "type": "identity" },
    "acc": { "type": "accum", "init": 1 },
    "ph": { "type": "phasor", "kind": "audio" },
    "osc": { "type": "sin", "kind": "audio" },
    "out": { "type": "audio_out" },
    "img": { "type": "tanh", "kind": "image" },
    "u": { "type": "identity", "kind": "matrix", "init": { "x.in": { "k.out": 0.001 } } }
  },
  "weights": {
    "x.in": { "k.out": 1 },
    "acc.accum": { "acc.out": 1 }, "acc.delta": { "x.out": 1 },
    "ph.freq": { "ka.out": 300 },
    "osc.x": { "ph.out": 6.28 },
    "out.left": { "osc.out": 0.5 },
    "u.in": { "u.out": 1 }
  }
}"#;

/// Neuron names the requests draw from: existing, added by the fuzz, core, unknown.
const NAMES: &[&str] = &[
    "k", "ka", "x", "acc", "ph", "osc", "out", "img", "u", "self", "edits", "n0", "n1", "n2",
    "nosuch",
];
const PORTS: &[&str] = &[
    "in", "out", "x", "a", "b", "accum", "delta", "freq", "left", "right", "g", "nosuch",
];
const TYPES: &[&str] = &[
    "identity", "accum", "tanh", "sin", "mul", "gate", "one", "phasor", "self", "nosuch",
];

fn port(r: &mut Rng) -> PortRef {
    PortRef::new(*r.pick(NAMES), *r.pick(PORTS))
}

/// A connection that is more often right than a random pair of ports would be.
fn connection(r: &mut Rng) -> (PortRef, PortRef) {
    if r.chance(0.75) {
        let good: &[(&str, &str)] = &[
            ("x.in", "k.out"),
            ("acc.delta", "x.out"),
            ("ph.freq", "ka.out"),
            ("osc.a", "ka.out"),
            ("out.left", "osc.out"),
            ("out.right", "osc.out"),
            ("img.x", "img.out"),
            ("self.delta", "u.out"),
            ("u.in", "u.out"),
            ("n0.in", "k.out"),
            ("x.in", "n1.out"),
            ("self.accum", "self.out"),
        ];
        let (t, s) = r.pick(good);
        (PortRef::parse(t).unwrap(), PortRef::parse(s).unwrap())
    } else {
        (port(r), port(r))
    }
}

fn fragment(r: &mut Rng) -> WMatrix {
    let mut m = WMatrix::new();
    for _ in 0..1 + r.below(3) {
        let (t, s) = connection(r);
        m.add_entry(&t, &s, r.weight());
    }
    m
}

fn spec(r: &mut Rng) -> NeuronSpec {
    let ty: &str = TYPES[r.below(TYPES.len())];
    let mut s = NeuronSpec::new(ty);
    match r.below(6) {
        0 => {
            s = s.with(
                "kind",
                *r.pick(&["scalar", "audio", "image", "matrix", "nosuch"]),
            )
        }
        1 => {
            let v = r.weight();
            s = s.with(
                "init",
                serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
            )
        }
        2 => s = s.with("rows", *r.pick(&[1i64, 4, 0, -1, 5000])),
        _ => {}
    }
    s
}

fn request(r: &mut Rng, depth: usize) -> Edit {
    let (target, source) = connection(r);
    match r.below(if depth > 0 { 7 } else { 8 }) {
        0 => Edit::Add {
            target,
            source,
            weight: r.weight(),
            morph: r.morph(),
        },
        1 | 2 => Edit::Set {
            target,
            source,
            weight: r.weight(),
            morph: r.morph(),
        },
        3 => Edit::Remove { target, source },
        4 => Edit::Delta {
            weights: fragment(r),
            morph: r.morph(),
        },
        5 => Edit::AddNeuron {
            name: r.pick(NAMES).to_string(),
            neuron: spec(r),
            weights: if r.chance(0.5) {
                fragment(r)
            } else {
                WMatrix::new()
            },
        },
        6 => Edit::RemoveNeuron {
            name: r.pick(NAMES).to_string(),
            morph: r.morph(),
        },
        _ => Edit::Batch {
            edits: (0..r.below(5)).map(|_| request(r, depth + 1)).collect(),
        },
    }
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("DMM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (std::process::id() as u64).rotate_left(32)
}

/// Everything that must hold after every tick.
fn check(m: &Machine, seed: u64, tick: u64) {
    let ctx = || format!("seed {seed} (DMM_FUZZ_SEED={seed} to replay), tick {tick}");
    for (t, s, v) in m.w().entries() {
        assert!(
            v.is_finite() && v.abs() <= MAX_WEIGHT,
            "W[{t}][{s}] = {v}: {}",
            ctx()
        );
    }
    let out = m.outputs();
    for (name, v) in m.scalar_names().iter().zip(&out.scalars) {
        assert!(v.is_finite(), "{name} = {v}: {}", ctx());
    }
    for v in out.left.iter().chain(&out.right) {
        assert!(v.is_finite(), "audio {v}: {}", ctx());
    }
}

/// Requests waiting for their outcome, and the outcomes so far.
#[derive(Default)]
struct Tally {
    open: BTreeMap<u64, Edit>,
    applied: usize,
    rejected: usize,
}

/// One tick, then every check and every outcome.
fn step(m: &mut Machine, seed: u64, tally: &mut Tally) {
    m.tick(false)
        .unwrap_or_else(|e| panic!("tick failed: {e}; seed {seed}"));
    check(m, seed, m.tick_count());
    for (id, outcome) in m.take_outcomes() {
        let edit = tally
            .open
            .remove(&id)
            .unwrap_or_else(|| panic!("outcome for unknown or answered id {id}; seed {seed}"));
        match outcome {
            EditOutcome::Applied { .. } => tally.applied += 1,
            EditOutcome::Rejected { errors, .. } => {
                tally.rejected += 1;
                assert!(
                    !errors.is_empty(),
                    "{edit:?} rejected without a reason; seed {seed}"
                );
                for e in &errors {
                    let text = e.to_string();
                    assert!(
                        !text.trim().is_empty() && !text.contains('\n'),
                        "reason {text:?} for {edit:?}; seed {seed}"
                    );
                    if std::env::var("DMM_FUZZ_DEBUG").is_ok() {
                        eprintln!("rejected: {text}");
                    }
                }
            }
        }
    }
    for msg in m.take_messages() {
        assert!(!msg.text.contains('\n'), "{:?}; seed {seed}", msg.text);
    }
}

/// Ticks `n` times without new requests; every request sent by then is answered.
fn drain(m: &mut Machine, seed: u64, tally: &mut Tally, n: u64) {
    for _ in 0..n {
        step(m, seed, tally);
    }
    assert!(
        tally.open.is_empty(),
        "unanswered: {:?}; seed {seed}",
        tally.open
    );
}

#[test]
fn random_requests_never_panic_and_keep_w_finite() {
    let seed = seed();
    println!("edit fuzz seed {seed} (DMM_FUZZ_SEED={seed} replays it)");
    let requests: usize = std::env::var("DMM_FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    let mut r = Rng(seed);
    let mut m = machine(&patch_str(NET));
    let mut tally = Tally::default();
    let (mut sent, mut ticks) = (0usize, 0u64);
    while sent < requests {
        // A fresh network now and then: removals pile up and would leave nothing to edit.
        if m.tick_count() > 0 && r.chance(1.0 / 150.0) {
            drain(&mut m, seed, &mut tally, 40);
            ticks += m.tick_count();
            m = machine(&patch_str(NET));
        }
        for _ in 0..r.below(4) {
            let e = request(&mut r, 0);
            tally.open.insert(m.submit(e.clone()), e);
            sent += 1;
        }
        step(&mut m, seed, &mut tally);
    }
    // Morphs and fades still in flight keep running: W stays finite through them too.
    drain(&mut m, seed, &mut tally, 520);
    ticks += m.tick_count();
    let Tally {
        applied, rejected, ..
    } = tally;
    println!("{sent} requests: {applied} applied, {rejected} rejected, {ticks} ticks");
    assert!(
        applied > requests / 25,
        "the fuzz must exercise the applied path too"
    );
    assert!(rejected > requests / 25, "and the rejected one");
}
