//! Kind inference, for text and JSON: undeclared any-kind neurons take the kind their
//! connections force; conflicts name both connections.

mod common;

use dmm_synth::neurons::{Kinds, type_info};
use dmm_synth::patch::Patch;
use dmm_synth::patch::text::parse_text;
use dmm_synth::stream::Kind;
use serde_json::Value as Json;

/// The JSON patch with every `kind` of an any-kind type removed.
fn without_kinds(name: &str) -> String {
    let text = std::fs::read_to_string(common::root().join("patches").join(name)).unwrap();
    let mut j: Json = serde_json::from_str(&text).unwrap();
    for (_, n) in j["neurons"].as_object_mut().unwrap() {
        let ty = n["type"].as_str().unwrap().to_string();
        if type_info(&ty).unwrap().kinds != Kinds::None {
            n.as_object_mut().unwrap().remove("kind");
        }
    }
    j.to_string()
}

fn kinds(p: &Patch) -> Vec<(String, Kind)> {
    p.network
        .neurons
        .iter()
        .map(|n| (n.name.clone(), n.kind))
        .collect()
}

#[test]
fn sine_and_fm_without_kinds_load_to_the_explicit_networks() {
    for name in ["sine.json", "fm.json", "default.json"] {
        let explicit = common::patch(name);
        let bare = without_kinds(name);
        assert!(!bare.contains("\"kind\""), "{name}");
        let inferred =
            Patch::parse(&bare, name, &common::assets()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kinds(&inferred), kinds(&explicit), "{name}");
        assert_eq!(inferred.weights, explicit.weights);
        let specs = |p: &Patch| p.neurons.clone();
        assert_eq!(
            specs(&inferred),
            specs(&explicit),
            "{name}: the inferred kind is written into the spec"
        );
    }
}

#[test]
fn text_without_kinds_loads_to_the_same_network_as_sine_dmm() {
    let explicit = common::patch("sine.dmm");
    let src = std::fs::read_to_string(common::root().join("patches/sine.dmm")).unwrap();
    let bare = src.replace(" audio ", " ").replace(" audio\n", "\n");
    assert_ne!(bare, src);
    let inferred =
        parse_text(&bare, "bare.dmm", &common::assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kinds(&inferred), kinds(&explicit));
    assert_eq!(inferred.weights, explicit.weights);
}

#[test]
fn inference_runs_through_chains_in_any_line_order() {
    // c feeds audio_out, b feeds c, a feeds b: the kind flows back along the chain, and the
    // rows come before the declarations.
    let src =
        "out.left <- c\nc.x <- b\nb.x <- a + 2\na : phasor\nb : tanh\nc : sin\nout : audio_out\n";
    let p = parse_text(src, "chain.dmm", &common::assets()).unwrap_or_else(|e| panic!("{e}"));
    for n in ["a", "b", "c", "_one_audio"] {
        assert_eq!(p.network.find(n).unwrap().1.kind, Kind::Audio, "{n}");
    }
}

#[test]
fn image_shapes_and_matrices_are_inferred() {
    let src = "settings image=8x8\nxy : coords rows=4 cols=2\nsq : tanh\nsq.x <- xy.x\nu : identity\nself.delta <- u\nu.in <- u\nlone : sin\n";
    let p = parse_text(src, "img.dmm", &common::assets()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.network.find("sq").unwrap().1.kind,
        Kind::Image { rows: 4, cols: 2 }
    );
    assert_eq!(p.network.find("u").unwrap().1.kind, Kind::Matrix);
    assert_eq!(
        p.network.find("lone").unwrap().1.kind,
        Kind::Scalar,
        "nothing forces it: scalar"
    );
    let spec = &p.neurons.iter().find(|(n, _)| n == "sq").unwrap().1;
    assert_eq!(spec.settings.get("rows"), Some(&Json::from(4)));
}

#[test]
fn a_conflict_names_both_connections_in_text() {
    let src = "r : rms\nph : phasor\nph.freq <- r\nosc : sin audio\nosc.x <- ph\n";
    let e = parse_text(src, "c.dmm", &common::assets()).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    let m = e.to_string();
    assert!(m.starts_with("c.dmm:5:10: kind conflict"), "{m}");
    assert!(m.contains("`osc.x <- ph.out` (line 5)"), "{m}");
    assert!(m.contains("`ph.freq <- r.out` (line 3)"), "{m}");
    assert!(
        m.contains("declare the kind you mean, e.g. `ph : phasor audio`"),
        "{m}"
    );
    assert!(m.contains("through a `hold`"), "{m}");
}

#[test]
fn a_conflict_names_both_connections_in_json() {
    let j = r#"{ "neurons": { "r": {"type": "rms"}, "ph": {"type": "phasor"},
                  "osc": {"type": "sin", "kind": "audio"} },
                "weights": { "ph.freq": {"r.out": 1}, "osc.x": {"ph.out": 1} } }"#;
    let e = Patch::parse(j, "c.json", &common::assets()).unwrap_err();
    let m = e.to_string();
    assert!(
        m.starts_with("c.json:weights[\"osc.x\"][\"ph.out\"]: kind conflict"),
        "{m}"
    );
    assert!(
        m.contains("`ph.freq <- r.out` (at weights[\"ph.freq\"][\"r.out\"])"),
        "{m}"
    );
    assert!(m.contains("`ph : phasor audio`"), "{m}");
}

#[test]
fn a_declared_kind_is_never_overridden() {
    let j = r#"{ "neurons": { "ph": {"type": "phasor", "kind": "scalar"},
                  "osc": {"type": "sin", "kind": "audio"} },
                "weights": { "osc.x": {"ph.out": 1} } }"#;
    let e = Patch::parse(j, "d.json", &common::assets()).unwrap_err();
    assert!(e.to_string().contains("kind mismatch"), "{e}");
}
