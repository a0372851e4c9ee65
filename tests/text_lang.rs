//! The text patch language: every construct parses to the network it means, and printing is
//! canonical (text → text is a fixed point).

mod common;

use dmm_synth::patch::Patch;
use dmm_synth::patch::text::{parse_text, print_text};
use dmm_synth::stream::{Kind, PortRef};

fn p(s: &str) -> PortRef {
    PortRef::parse(s).unwrap()
}

fn parse(src: &str) -> Patch {
    parse_text(src, "t.dmm", &common::assets()).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

fn kind_of(patch: &Patch, name: &str) -> Kind {
    patch.network.find(name).unwrap().1.kind
}

const SINE: &str = "# 440 Hz with a slow vibrato
settings tick_rate=375 sample_rate=48000 image=128x128 morph=0.5

vib : sin                        # scalar LFO
va  : hold                       # the LFO as audio
ph  : phasor audio
osc : sin audio
out : audio_out

vib.x    <- t.seconds            # t: the built-in time neuron, or declare one
vib.a    <- 2*pi*5
va.x     <- vib
ph.freq  <- 440 + 3 va
osc.x    <- ph
osc.a    <- tau
out.left <- 0.3 osc
out.right <- 0.3 osc ~2s         # this row's change morphs over 2 s
";

#[test]
fn the_issue_sine_example() {
    let patch = parse(SINE);
    println!("{}", print_text(&patch));
    assert_eq!(patch.comment.as_deref(), Some("440 Hz with a slow vibrato"));
    assert_eq!(patch.settings.morph_time, 0.5);
    let w = &patch.weights;
    assert_eq!(w.get(&p("vib.x"), &p("t.seconds")), 1.0);
    assert_eq!(
        w.get(&p("vib.a"), &p("_one.out")),
        2.0 * std::f64::consts::PI * 5.0
    );
    assert_eq!(w.get(&p("ph.freq"), &p("_one_audio.out")), 440.0);
    assert_eq!(
        w.get(&p("osc.a"), &p("_one_audio.out")),
        std::f64::consts::TAU
    );
    assert_eq!(w.get(&p("out.right"), &p("osc.out")), 0.3);
    assert_eq!(kind_of(&patch, "vib"), Kind::Scalar);
    assert_eq!(kind_of(&patch, "_one_audio"), Kind::Audio);
    let names: Vec<&str> = patch.neurons.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["vib", "va", "ph", "osc", "out", "t", "_one", "_one_audio"]
    );
    assert_eq!(patch.layout.row_morph(&p("out.right")), Some(2.0));
    let printed = print_text(&patch);
    assert_eq!(print_text(&parse(&printed)), printed, "fixed point");
}
