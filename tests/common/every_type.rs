//! The all-types test patch, generated from the neuron table (never a hand-written list): every
//! type the backends run, once per kind it accepts (scalar, audio, image; matrix-kind neurons run
//! in the engine), image types also at each extra shape, and every input port fed from a noise
//! source of its own kind, shape and seed (a matrix input, a w_image's, from `self`: W). A new type is in it as soon as it has a row.

use dmm_synth::neurons::{AssetDirs, Kinds, NeuronSpec, TYPES, TypeInfo, resolve};
use dmm_synth::stream::{Kind, Settings};
use serde_json::{Map, Value as Json, json};

/// Shapes and rates of the generated patch.
pub struct Shape {
    pub tick_rate: f64,
    pub sample_rate: u32,
    /// The default image shape [rows, cols].
    pub image: [usize; 2],
    /// More image shapes for every type that has one.
    pub extra: Vec<[usize; 2]>,
}

/// Engine-side types (their values are W-shaped maps; tests/self_and_edits.rs covers them).
pub fn engine_only(t: &TypeInfo) -> bool {
    t.inputs
        .iter()
        .chain(t.outputs)
        .all(|(_, k)| *k == dmm_synth::neurons::PortKind::Matrix)
}

/// The neuron specs of every (type, kind, shape) instance, by name.
fn instances(s: &Shape) -> Vec<(String, NeuronSpec)> {
    let mut out = Vec::new();
    for t in TYPES.iter().filter(|t| !engine_only(t)) {
        let example: Map<String, Json> = serde_json::from_str(t.example)
            .unwrap_or_else(|e| panic!("type {}: example {:?}: {e}", t.name, t.example));
        let spec = |extra: &[(&str, Json)]| {
            let mut spec = NeuronSpec::new(t.name);
            spec.settings = example.clone();
            for (k, v) in extra {
                spec.settings.insert(k.to_string(), v.clone());
            }
            spec
        };
        let shaped = |name: String, extra: Vec<(&str, Json)>, out: &mut Vec<_>| {
            out.push((name.clone(), spec(&extra)));
            for [r, c] in &s.extra {
                let mut e = extra.clone();
                e.extend([("rows", json!(r)), ("cols", json!(c))]);
                out.push((format!("{name}_{r}x{c}"), spec(&e)));
            }
        };
        match t.kinds {
            Kinds::None if t.has_shape() => shaped(t.name.to_string(), vec![], &mut out),
            Kinds::None => out.push((t.name.to_string(), spec(&[]))),
            Kinds::Dense | Kinds::All => {
                for k in ["scalar", "audio"] {
                    out.push((format!("{}_{k}", t.name), spec(&[("kind", json!(k))])));
                }
                shaped(
                    format!("{}_image", t.name),
                    vec![("kind", json!("image"))],
                    &mut out,
                );
            }
        }
    }
    out
}

/// A noise source for one input port: its name and spec.
fn source(kind: Kind, port: usize) -> (String, NeuronSpec) {
    let (tag, mut spec) = match kind {
        Kind::Scalar => ("scalar".to_string(), NeuronSpec::new("noise")),
        Kind::Audio => (
            "audio".to_string(),
            NeuronSpec::new("noise").with("kind", "audio"),
        ),
        Kind::Image { rows, cols } => (
            format!("{rows}x{cols}"),
            NeuronSpec::new("noise")
                .with("kind", "image")
                .with("rows", rows as u64)
                .with("cols", cols as u64),
        ),
        Kind::Matrix => unreachable!("matrix inputs read self (every_type_patch)"),
    };
    spec = spec.with("seed", 1000 + port as u64);
    (format!("src_{tag}_{port}"), spec)
}

/// The patch (JSON) with every instance and its sources.
pub fn every_type_patch(s: &Shape, assets: &AssetDirs) -> Json {
    let settings = Settings {
        tick_rate: s.tick_rate,
        sample_rate: s.sample_rate,
        image_size: s.image,
        ..Settings::default()
    };
    let mut neurons = Map::new();
    let mut weights = Map::new();
    for (name, spec) in instances(s) {
        let def = resolve(&name, &spec, &settings, assets)
            .unwrap_or_else(|e| panic!("{name}: {}: {}", e.field, e.msg));
        for (p, port) in def.inputs.iter().enumerate() {
            if port.kind == Kind::Matrix {
                // A matrix input of a backend neuron (w_image) reads W itself.
                weights.insert(format!("{name}.{}", port.name), json!({ "self.out": 1.0 }));
                continue;
            }
            let (src, src_spec) = source(port.kind, p);
            neurons.insert(src.clone(), serde_json::to_value(src_spec).unwrap());
            weights.insert(
                format!("{name}.{}", port.name),
                json!({ format!("{src}.out"): 1.0 }),
            );
        }
        neurons.insert(name, serde_json::to_value(spec).unwrap());
    }
    json!({
        "settings": { "tick_rate": s.tick_rate, "sample_rate": s.sample_rate, "image_size": s.image },
        "neurons": neurons,
        "weights": weights,
    })
}
