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

#[test]
fn constructs() {
    let src = "settings tick_rate=100 sample_rate=1000 image=4x3
k   : one
a   : accum init=-0.5                # starts at -0.5
img : tanh image rows=2 cols=5
u   : identity matrix init={a.delta <- -k + 2 a; self.delta <- u}
nz  : noise seed=18446744073709551615
p   : picture file=astronaut.png rows=2 cols=5
`pi` : identity
left-hand : relu
a.accum <- a
a.delta += 0.5 k
a.delta += 0.25 k                    # += adds to the row
img.x <- (1 + 1) * p / 4 - img
`pi`.in <- 2 `pi` - pi k
left-hand.x <- left-hand - -3e-3 k + nz
u.in <- u
";
    let patch = parse(src);
    let w = &patch.weights;
    assert_eq!(w.get(&p("a.delta"), &p("k.out")), 0.75);
    assert_eq!(w.get(&p("img.x"), &p("p.out")), 0.5);
    assert_eq!(w.get(&p("img.x"), &p("img.out")), -1.0);
    assert_eq!(w.get(&p("pi.in"), &p("pi.out")), 2.0);
    assert_eq!(w.get(&p("pi.in"), &p("k.out")), -std::f64::consts::PI);
    assert_eq!(w.get(&p("left-hand.x"), &p("k.out")), 3e-3);
    assert_eq!(kind_of(&patch, "img"), Kind::Image { rows: 2, cols: 5 });
    assert_eq!(kind_of(&patch, "u"), Kind::Matrix);
    let spec = |n: &str| {
        patch
            .neurons
            .iter()
            .find(|(m, _)| m == n)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        spec("nz").settings["seed"],
        serde_json::json!(18446744073709551615u64)
    );
    assert_eq!(spec("a").settings["init"], serde_json::json!(-0.5));
    assert_eq!(
        spec("a").settings["comment"],
        serde_json::json!("starts at -0.5")
    );
    assert_eq!(
        spec("u").settings["init"],
        serde_json::json!({"a.delta": {"a.out": 2.0, "k.out": -1.0}, "self.delta": {"u.out": 1.0}})
    );
    let printed = print_text(&patch);
    assert!(printed.contains("`pi`.in"), "{printed}");
    assert!(printed.contains("`left-hand`"), "{printed}");
    assert_eq!(print_text(&parse(&printed)), printed);
    // JSON and text dispatch by extension and content.
    let via_parse = Patch::parse(src, "x.dmm", &common::assets()).unwrap();
    assert_eq!(via_parse.weights, patch.weights);
}

#[test]
fn load_save_and_convert_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let json = common::patch("fm.json");
    let dmm = dir.path().join("fm.dmm");
    json.save(&dmm).unwrap();
    let text = std::fs::read_to_string(&dmm).unwrap();
    assert!(text.starts_with("# An FM pair"), "{text}");
    let back = Patch::load(&dmm).unwrap();
    assert_eq!(back.weights, json.weights);
    // The binary's convert: .dmm → .json → same network.
    let out = dir.path().join("fm2.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .args(["convert", dmm.to_str().unwrap(), out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let j = Patch::load(&out).unwrap();
    assert_eq!(j.weights, json.weights);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .trim_start()
            .starts_with('{')
    );
    // check takes .dmm files.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dmm-synth"))
        .args(["check", dmm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

mod eval {
    use super::*;
    use dmm_synth::engine::Edit;
    use dmm_synth::neurons::NeuronSpec;
    use dmm_synth::patch::text::eval_snippet;
    use dmm_synth::stream::WMatrix;

    fn running() -> Patch {
        parse(
            "k : one\nph : phasor audio\nosc : sin audio\nout : audio_out\nph.freq <- 440 + 2 k2\nk2 : one audio\nosc.x <- ph\nout.left <- 0.5 osc + 0.1 ph\n",
        )
    }

    fn ev(src: &str, p: &Patch) -> Result<Option<Edit>, Vec<dmm_synth::patch::text::TextError>> {
        eval_snippet(src, 10, &p.network, &p.initial_w(), &common::assets(), 0.25)
    }

    fn set(t: &str, s: &str, w: f64, morph: f64) -> Edit {
        Edit::Set {
            target: p(t),
            source: p(s),
            weight: w,
            morph,
        }
    }

    #[test]
    fn a_row_states_the_whole_row() {
        let r = running();
        let e = ev("out.left <- 0.3 osc ~2s", &r).unwrap().unwrap();
        assert_eq!(
            e,
            Edit::Batch {
                edits: vec![
                    set("out.left", "osc.out", 0.3, 2.0),
                    set("out.left", "ph.out", 0.0, 2.0)
                ]
            }
        );
        // One change: the edit itself, with the default morph.
        assert_eq!(
            ev("out.right <- osc", &r).unwrap().unwrap(),
            set("out.right", "osc.out", 1.0, 0.25)
        );
    }

    #[test]
    fn plus_equals_adds() {
        let r = running();
        assert_eq!(
            ev("out.left += 0.1 osc ~300ms", &r).unwrap().unwrap(),
            Edit::Add {
                target: p("out.left"),
                source: p("osc.out"),
                weight: 0.1,
                morph: 0.3
            }
        );
    }

    #[test]
    fn blank_and_comment_lines_change_nothing() {
        let r = running();
        assert_eq!(ev("\n   # just a note\n", &r).unwrap(), None);
        assert_eq!(ev("osc : sin audio  # same as running", &r).unwrap(), None);
    }

    #[test]
    fn a_new_neuron_with_its_row_is_one_batch_with_inferred_kind_and_implicit_constant() {
        let r = running();
        let e = ev(
            "lfo : sin\nlfo.x <- t.seconds\nlfo.a <- tau\nosc.b <- 0.2 lfo2\nlfo2 : phasor",
            &r,
        )
        .unwrap()
        .unwrap();
        let Edit::Batch { edits } = e else {
            panic!("{e:?}")
        };
        let added: Vec<(&str, &NeuronSpec)> = edits
            .iter()
            .filter_map(|e| match e {
                Edit::AddNeuron { name, neuron, .. } => Some((name.as_str(), neuron)),
                _ => None,
            })
            .collect();
        let names: Vec<&str> = added.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["t", "_one", "lfo", "lfo2"]);
        assert_eq!(
            added[3].1.settings.get("kind"),
            Some(&serde_json::json!("audio")),
            "lfo2 feeds an audio port"
        );
        assert!(edits.contains(&set("lfo.a", "_one.out", std::f64::consts::TAU, 0.25)));
        assert!(edits.contains(&set("osc.b", "lfo2.out", 0.2, 0.25)));
    }

    #[test]
    fn remove_and_errors_at_their_lines() {
        let r = running();
        assert_eq!(
            ev("remove osc ~1s", &r).unwrap().unwrap(),
            Edit::RemoveNeuron {
                name: "osc".into(),
                morph: 1.0
            }
        );
        let e = ev("\nosc.x <- 2 nope", &r).unwrap_err();
        assert_eq!((e[0].line, e[0].col, e[0].len), (11, 12, 4));
        assert!(e[0].msg.contains("unknown neuron `nope`"));
        let e = ev("osc : tanh", &r).unwrap_err();
        assert!(e[0].msg.contains("already running"), "{e:?}");
        let e = ev("out.left <- k", &r).unwrap_err();
        assert!(e[0].msg.contains("kind mismatch"), "{e:?}");
        assert_eq!(e[0].to_string(), format!("10:13: {}", e[0].msg));
        let e = ev("settings morph=1", &r).unwrap_err();
        assert!(e[0].msg.contains("whole buffer"));
        let e = ev("self.accum <- self", &r).unwrap_err();
        assert!(e[0].msg.contains("cannot be written"));
    }

    #[test]
    fn stating_self_delta_keeps_the_core_weight() {
        let r = parse("u : identity matrix\nu.in <- u\n");
        let e = ev("self.delta <- 0.5 u", &r).unwrap().unwrap();
        assert_eq!(
            e,
            set("self.delta", "u.out", 0.5, 0.25),
            "edits → self.delta is never removed"
        );
    }

    #[test]
    fn print_row_writes_constants_as_numbers_and_reads_back() {
        let r = running();
        let w = r.initial_w();
        let line = dmm_synth::patch::text::print_row(&r.network, &w, &p("ph.freq"));
        assert_eq!(line, "ph.freq <- 440 + 2 k2");
        assert_eq!(
            dmm_synth::patch::text::print_row(&r.network, &w, &p("osc.a")),
            "osc.a <-"
        );
        assert_eq!(
            dmm_synth::patch::text::print_row(&r.network, &w, &p("self.delta")),
            "self.delta <-"
        );
        // Evaluating the printed row changes nothing but re-states the same weights.
        let Some(Edit::Batch { edits }) = ev(&line, &r).unwrap() else {
            panic!()
        };
        let mut m = WMatrix::new();
        for e in edits {
            let Edit::Set {
                target,
                source,
                weight,
                ..
            } = e
            else {
                panic!()
            };
            m.add_entry(&target, &source, weight);
        }
        assert_eq!(m.row(&p("ph.freq")), w.row(&p("ph.freq")));
    }

    #[test]
    fn an_evaluated_snippet_reaches_w_through_self() {
        let r = running();
        let mut m = common::machine(&r);
        m.tick(false).unwrap();
        let e = ev("vib : sin\nvib.x <- t.seconds\nvib.a <- tau\nd : hold\nd.x <- vib\nph.freq <- 440 + 3 d", &r)
            .unwrap()
            .unwrap();
        m.submit(e);
        // The default morph (0.25 s at 375 ticks/s) spreads the change over 94 ticks.
        for _ in 0..100 {
            m.tick(false).unwrap();
        }
        let outcomes = m.take_outcomes();
        assert!(
            outcomes
                .iter()
                .all(|(_, o)| matches!(o, dmm_synth::engine::EditOutcome::Applied { .. })),
            "{outcomes:?}"
        );
        let w = m.w();
        assert_eq!(w.get(&p("ph.freq"), &p("d.out")), 3.0);
        assert_eq!(
            w.get(&p("ph.freq"), &p("k2.out")),
            0.0,
            "the row was stated whole"
        );
        assert_eq!(w.get(&p("ph.freq"), &p("_one_audio.out")), 440.0);
        assert!(m.network().find("vib").is_some() && m.network().find("t").is_some());
    }
}

/// The README's example is a working patch that means what its comments say.
#[test]
fn the_readme_example_parses() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let section = readme
        .split("## The patch language")
        .nth(1)
        .expect("the language section");
    let block = section.split("```\n").nth(1).expect("the example block");
    let patch = parse(block);
    assert_eq!(kind_of(&patch, "ph"), Kind::Audio, "inferred from osc");
    assert_eq!(
        patch.weights.get(&p("ph.freq"), &p("_one_audio.out")),
        440.0
    );
    assert_eq!(patch.layout.row_morph(&p("out.right")), Some(2.0));
    assert_eq!(patch.settings.image_size, [64, 64]);
}

/// Hot reload of a text patch: a row's own `~` morph overrides the global one in the diff.
#[test]
fn row_morphs_apply_to_a_reload_diff() {
    use dmm_synth::engine::Edit;
    let a =
        parse("settings morph=0.5\nk : one\nx : identity\ny : identity\nx.in <- k\ny.in <- k\n");
    let b = parse(
        "settings morph=0.5\nk : one\nx : identity\ny : identity\nx.in <- 2 k ~3s\ny.in <- 2 k\n",
    );
    let mut d = dmm_synth::patch::diff::diff(&a, &b, b.settings.morph_time);
    b.layout.apply_row_morphs(&mut d.now);
    let morph_of = |t: &str| {
        d.now.iter().find_map(|e| match e {
            Edit::Set { target, morph, .. } if *target == p(t) => Some(*morph),
            _ => None,
        })
    };
    assert_eq!(morph_of("x.in"), Some(3.0));
    assert_eq!(morph_of("y.in"), Some(0.5));
}
