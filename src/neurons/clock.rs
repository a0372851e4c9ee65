//! The two clocks (DESIGN §1): which neurons run on every tick and which on frame ticks only.
//! Decided by a neuron's port kinds alone, so that a new type needs no entry here.
//!
//! - A neuron is **image-clocked** when it has an image port and no audio output (every image
//!   kernel, reductions such as `max_norm` of an image, `display`, `spectrum`). It runs its up
//!   stroke on the ticks that are multiples of its period (tick 0 is one), and the down stroke
//!   into all its inputs runs on those ticks only: it reads W and its sources as they are then.
//!   In between, its inputs and outputs hold their values.
//! - Every other backend neuron runs every tick. An image input of such a neuron (the table of
//!   a wavetable `scan` into audio) is still written on the network's frame ticks only, so an
//!   audio neuron reads the held picture.
//! - The period is `round(tick_rate / frame_rate)`, at least 1: the patch's `frame_rate`, or the
//!   neuron's own `frame_rate` setting (image-clocked neurons only).

use super::NeuronDef;
use crate::stream::kind::{Kind, Settings, frame_period};

/// Whether the neuron runs on frame ticks only (see the module notes).
pub fn image_clocked(def: &NeuronDef) -> bool {
    !def.engine_side()
        && def
            .inputs
            .iter()
            .chain(&def.outputs)
            .any(|p| matches!(p.kind, Kind::Image { .. }))
        && !def.outputs.iter().any(|p| p.kind == Kind::Audio)
}

/// Ticks between two up strokes of the neuron: 1 for every-tick neurons.
pub fn neuron_period(def: &NeuronDef, settings: &Settings) -> u64 {
    if !image_clocked(def) {
        return 1;
    }
    match def.params.frame_rate {
        Some(f) => frame_period(settings.tick_rate, f),
        None => settings.frame_period(),
    }
}

/// Ticks between two down strokes into input `port` of the neuron.
pub fn input_period(def: &NeuronDef, port: usize, settings: &Settings) -> u64 {
    if image_clocked(def) {
        return neuron_period(def, settings);
    }
    match def.inputs.get(port).map(|p| p.kind) {
        Some(Kind::Image { .. }) => settings.frame_period(),
        _ => 1,
    }
}

/// Whether something of this period runs at `tick`.
pub fn due(period: u64, tick: u64) -> bool {
    period <= 1 || tick.is_multiple_of(period)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neurons::table::{Gpu, Kinds, PortKind, TypeInfo};
    use crate::neurons::{NeuronSpec, Params, Port};

    /// A type that exists only here: an image input and an audio output (a wavetable), the one
    /// shape no shipped type has yet.
    static TABLE_TO_AUDIO: TypeInfo = TypeInfo {
        name: "test_table",
        inputs: &[("table", PortKind::Image), ("freq", PortKind::Scalar)],
        outputs: &[("out", PortKind::Audio)],
        kinds: Kinds::None,
        settings: &[],
        doc: "test",
        example: "{}",
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    };

    fn def(
        info: &'static TypeInfo,
        ins: Vec<Kind>,
        outs: Vec<Kind>,
        own: Option<f64>,
    ) -> NeuronDef {
        let port = |k: Kind| Port { name: "p", kind: k };
        NeuronDef {
            name: "n".into(),
            info,
            kind: Kind::Scalar,
            rows: 4,
            cols: 3,
            inputs: ins.into_iter().map(port).collect(),
            outputs: outs.into_iter().map(port).collect(),
            params: Params {
                frame_rate: own,
                ..Params::default()
            },
            spec: NeuronSpec::new(info.name),
        }
    }

    #[test]
    fn the_clock_follows_the_port_kinds() {
        let s = Settings {
            tick_rate: 300.0,
            ..Settings::default()
        };
        let img = Kind::Image { rows: 4, cols: 3 };
        let table = def(
            &TABLE_TO_AUDIO,
            vec![img, Kind::Scalar],
            vec![Kind::Audio],
            None,
        );
        // Audio out: every tick, reading its image input as written on the patch's frame ticks.
        assert!(!image_clocked(&table));
        assert_eq!(neuron_period(&table, &s), 1);
        assert_eq!(input_period(&table, 0, &s), 5);
        assert_eq!(input_period(&table, 1, &s), 1);
        let relu = crate::neurons::type_info("relu").expect("relu");
        // Image in, scalar out (a reduction): image-clocked, all inputs on its clock.
        let reduce = def(
            relu,
            vec![img, Kind::Scalar],
            vec![Kind::Scalar],
            Some(30.0),
        );
        assert!(image_clocked(&reduce));
        assert_eq!(neuron_period(&reduce, &s), 10);
        assert_eq!(input_period(&reduce, 1, &s), 10);
        // No image port: every tick.
        let scalar = def(relu, vec![Kind::Scalar], vec![Kind::Scalar], None);
        assert_eq!(neuron_period(&scalar, &s), 1);
        assert!(due(1, 7) && due(5, 0) && due(5, 10) && !due(5, 7));
    }

    #[test]
    fn periods_round_and_never_reach_zero() {
        assert_eq!(frame_period(375.0, 60.0), 6);
        assert_eq!(frame_period(375.0, 150.0), 3);
        assert_eq!(frame_period(375.0, 400.0), 1);
        assert_eq!(frame_period(375.0, 1e300), 1);
        assert_eq!(frame_period(30.0, 60.0), 1);
        assert_eq!(frame_period(375.0, 0.0), 1);
        assert_eq!(frame_period(375.0, f64::NAN), 1);
    }
}
