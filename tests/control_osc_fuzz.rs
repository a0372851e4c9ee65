//! The OSC decoder and handler fuzzed with seeded random input (thousands of cases): random
//! bytes, mutated good packets and random well-formed messages. Nothing panics, a refused
//! packet yields nothing, whatever is accepted is in range, and the edits it turns into leave W
//! finite, changing only the weights they name.

mod common;
use common::*;
use dmm_synth::control::Command;
use dmm_synth::control::osc::{MAX_EVAL_BYTES, decode_packet, encode};
use dmm_synth::control::pump::edits_for;
use dmm_synth::engine::edits::Edit;
use dmm_synth::engine::{
    EDIT_LATENCY_TICKS, MAX_MORPH_SECONDS, MAX_WEIGHT, Machine, PortRef, WMatrix,
};
use dmm_synth::patch::Patch;
use rosc::{OscBundle, OscMessage, OscPacket, OscTime, OscType};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const PATCH: &str = "settings tick_rate=100 sample_rate=1600 image=8x8

k   : one
x   : identity
y   : identity
acc : accum
snd : sin audio

x.in      <- 1 k
acc.accum <- acc
acc.delta <- k
";

fn machine_for_fuzz() -> Machine {
    let p = Patch::parse(PATCH, "fuzz.dmm", &assets()).unwrap_or_else(|e| panic!("{e}"));
    machine(&p)
}

/// Whatever the decoder accepts is in range.
fn assert_valid(cs: &[Command]) {
    for c in cs {
        match c {
            Command::W { value, morph, .. } => {
                assert!(value.is_finite() && value.abs() <= MAX_WEIGHT, "{c:?}");
                assert!(morph.is_finite() && (0.0..=MAX_MORPH_SECONDS).contains(morph));
            }
            Command::Eval { text, first_line } => {
                assert!(text.len() <= MAX_EVAL_BYTES && *first_line >= 1)
            }
            Command::Mute(_) => {}
            Command::Scene(n) => assert!((1..=9).contains(n), "{c:?}"),
            Command::Xfade(a) => assert!((0.0..=1.0).contains(a), "{c:?}"),
            Command::Value { addr, x } => {
                assert!(x.is_finite() && !addr.starts_with("/dmm/"), "{c:?}")
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_and_anything_accepted_is_in_range() {
    let mut rng = Rng(0x5eed_0001);
    let prefixes: [&[u8]; 4] = [b"", b"/dmm/w\0\0", b"#bundle\0", b"/dmm/eval\0\0\0,s\0\0"];
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut b = rng.pick(&prefixes).to_vec();
        let n = rng.below(200);
        b.extend(rng.bytes(n));
        if let Ok(cs) = decode_packet(&b) {
            assert_valid(&cs);
            if !cs.is_empty() {
                accepted += 1;
                assert!(accepted < 200, "random bytes accepted as {cs:?}");
            }
        }
    }
}

fn good_packets() -> Vec<Vec<u8>> {
    let s = |x: &str| OscType::String(x.into());
    vec![
        encode("/dmm/w", vec![s("x.in"), s("k.out"), OscType::Float(0.5)]).unwrap(),
        encode(
            "/dmm/w",
            vec![
                s("y.in"),
                s("k.out"),
                OscType::Double(-2.0),
                OscType::Int(1),
            ],
        )
        .unwrap(),
        encode("/dmm/eval", vec![s("x.in <- 3 k + 0.5 acc")]).unwrap(),
        encode("/dmm/mute", vec![OscType::Int(1)]).unwrap(),
        rosc::encoder::encode(&OscPacket::Bundle(OscBundle {
            timetag: OscTime::from((0, 1)),
            content: vec![
                OscPacket::Message(OscMessage {
                    addr: "/dmm/w".into(),
                    args: vec![s("x.in"), s("k.out"), OscType::Float(0.25)],
                }),
                OscPacket::Message(OscMessage {
                    addr: "/dmm/eval".into(),
                    args: vec![s("y.in += 1 acc")],
                }),
            ],
        }))
        .unwrap(),
    ]
}

#[test]
fn mutated_good_packets_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    let good = good_packets();
    for p in &good {
        assert!(decode_packet(p).is_ok());
    }
    for _ in 0..20_000 {
        let mut b = rng.pick(&good).clone();
        match rng.below(4) {
            0 => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.truncate(rng.below(b.len())),
            2 => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
                let j = rng.below(b.len());
                b[j] = 0xff;
            }
            _ => {
                let n = rng.below(8);
                b.extend(rng.bytes(n));
            }
        }
        if let Ok(cs) = decode_packet(&b) {
            assert_valid(&cs);
        }
    }
}

fn random_arg(rng: &mut Rng) -> OscType {
    let ports = [
        "x.in",
        "y.in",
        "k.out",
        "acc.out",
        "acc.delta",
        "snd.x",
        "snd.out",
        "nosuch.in",
        "x",
        "",
        "x.in.y",
        "x.\n",
        "é.in",
    ];
    let numbers = [
        0.0,
        1.0,
        -0.5,
        0.25,
        7.0,
        f64::NAN,
        f64::INFINITY,
        -f64::INFINITY,
        1e300,
        -1e31,
        MAX_WEIGHT,
        3601.0,
        -1.0,
    ];
    let lines = [
        "x.in <- 2 k",
        "y.in += 0.5 acc",
        "x.in <- 1e40 k",
        "z : identity",
        "z : nosuchtype",
        "remove y",
        "x.in <- nan k",
        "snd.x <- 1 k",
        "x.in <- 2 k ~ 0.5s",
        "# only a comment",
        "((((",
        "x.in <- 1 k\ny.in <- 2 k",
    ];
    match rng.below(7) {
        0 | 1 => OscType::String(rng.pick(&ports).to_string()),
        2 => OscType::String(rng.pick(&lines).to_string()),
        3 => OscType::Float(*rng.pick(&numbers) as f32),
        4 => OscType::Double(*rng.pick(&numbers)),
        5 => OscType::Int(rng.below(5) as i32 - 1),
        _ => match rng.below(3) {
            0 => OscType::Bool(rng.below(2) == 0),
            1 => OscType::Nil,
            _ => OscType::Blob(rng.bytes(3)),
        },
    }
}

/// Arguments of the right count and mostly the right types for `addr` (random values).
fn shaped_args(rng: &mut Rng, addr: &str) -> Vec<OscType> {
    let mut a: Vec<OscType> = (0..4).map(|_| random_arg(rng)).collect();
    let ports = ["x.in", "y.in", "k.out", "acc.out", "snd.x", "nosuch.in"];
    match addr {
        "/dmm/w" => {
            a[0] = OscType::String(rng.pick(&ports).to_string());
            a[1] = OscType::String(rng.pick(&ports).to_string());
            if rng.below(2) == 0 {
                a[2] = OscType::Float(rng.below(9) as f32 / 4.0 - 1.0);
            }
            a.truncate(3 + rng.below(2));
        }
        "/dmm/eval" => {
            a.truncate(1 + rng.below(2));
            if !matches!(a[0], OscType::String(_)) {
                a[0] = OscType::String("x.in <- 0.5 k".into());
            }
        }
        _ => a.truncate(1),
    }
    a
}

/// Cells an edit may touch (None: anything, for an eval).
fn named_cells(e: &Edit) -> Option<Vec<(String, String)>> {
    match e {
        Edit::Set { target, source, .. } => Some(vec![(target.to_string(), source.to_string())]),
        _ => None,
    }
}

#[test]
fn random_well_formed_messages_change_only_what_they_name_and_w_stays_finite() {
    let mut rng = Rng(0x5eed_0003);
    let mut m = machine_for_fuzz();
    let addrs = ["/dmm/w", "/dmm/w", "/dmm/eval", "/dmm/mute", "/dmm/x", "/w"];
    let (mut refused, mut applied) = (0, 0);
    // Weights a morph may still be moving (a later case may see them change).
    let mut moving: Vec<(PortRef, PortRef)> = Vec::new();
    for case in 0..3_000 {
        let addr = *rng.pick(&addrs);
        let args = if rng.below(10) < 7 {
            shaped_args(&mut rng, addr)
        } else {
            let n = rng.below(5);
            (0..n).map(|_| random_arg(&mut rng)).collect()
        };
        let bytes = encode(addr, args).unwrap();
        let cs = match decode_packet(&bytes) {
            Ok(cs) => cs,
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().contains('\n'), "{e}");
                continue;
            }
        };
        assert_valid(&cs);
        let before: WMatrix = m.w().clone();
        let (edits, _errors) = edits_for(cs, m.network(), m.w(), &assets(), 0.0);
        let mut may: Option<Vec<(String, String)>> = Some(Vec::new());
        for e in &edits {
            match (named_cells(e), may.as_mut()) {
                (Some(c), Some(v)) => v.extend(c),
                _ => may = None,
            }
            m.submit(e.clone());
        }
        for _ in 0..=EDIT_LATENCY_TICKS {
            m.tick(false).unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
        applied += edits.len();
        for (t, s, w) in m.w().entries() {
            assert!(
                w.is_finite() && w.abs() <= MAX_WEIGHT,
                "case {case}: {t} {s} {w}"
            );
        }
        let changed: Vec<(PortRef, PortRef)> = m
            .w()
            .entries()
            .map(|(t, s, _)| (t.clone(), s.clone()))
            .chain(before.entries().map(|(t, s, _)| (t.clone(), s.clone())))
            .filter(|(t, s)| m.w().get(t, s) != before.get(t, s))
            .collect();
        match may {
            // Only the named weights (and those still morphing) may differ.
            Some(cells) => {
                for (t, s) in &changed {
                    let named = cells
                        .iter()
                        .any(|(a, b)| *a == t.to_string() && *b == s.to_string());
                    assert!(
                        named || moving.contains(&(t.clone(), s.clone())),
                        "case {case}: {t} <- {s} changed; named only {cells:?}"
                    );
                }
                for e in &edits {
                    if let Edit::Set {
                        target,
                        source,
                        morph,
                        ..
                    } = e
                        && *morph > 0.0
                    {
                        moving.push((target.clone(), source.clone()));
                    }
                }
            }
            // An eval may morph anything it touched.
            None => moving.extend(changed),
        }
    }
    assert!(
        refused > 500 && applied > 200,
        "{refused} refused, {applied} edits"
    );
}
