//! The control panel, clicked headless with egui_kittest: every action must produce exactly the
//! edit request it stands for, and the type rule must hold in what is offered.

mod common;

use dmm_synth::engine::{Edit, PortRef};
use dmm_synth::ui::panel::{
    HEAT_MAP_LABEL, MORPH_OVERRIDE_LABEL, add_neuron, connection_editor, heat_cell_center,
    heat_map, hot_reload,
};
use dmm_synth::ui::{Editor, PanelState, panel};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const SMALL: &str = r#"{
  "settings": { "tick_rate": 375, "sample_rate": 48000, "image_size": [8, 8] },
  "neurons": {
    "k":    { "type": "one" },
    "lfo":  { "type": "sin" },
    "one":  { "type": "one", "kind": "audio" },
    "ph":   { "type": "phasor", "kind": "audio" },
    "osc":  { "type": "sin", "kind": "audio" },
    "xy":   { "type": "coords" },
    "show": { "type": "display" },
    "out":  { "type": "audio_out" }
  },
  "weights": {
    "lfo.x":    { "k.out": 0.5 },
    "ph.freq":  { "one.out": 440 },
    "osc.x":    { "ph.out": 1 },
    "show.in":  { "xy.x": 1 },
    "out.left": { "osc.out": 0.25 }
  }
}"#;

fn p(s: &str) -> PortRef {
    PortRef::parse(s).expect("port")
}

fn small_state() -> PanelState {
    let patch = common::patch_str(SMALL);
    PanelState::from_network(&patch.network, &patch.initial_w())
}

struct S {
    st: PanelState,
    ed: Editor,
    edits: Vec<Edit>,
}

fn state() -> S {
    S {
        st: small_state(),
        ed: Editor::default(),
        edits: Vec::new(),
    }
}

fn choose(h: &mut Harness<'_, S>, combo: &str, item: &str) {
    h.get_by_role_and_label(Role::ComboBox, combo).click();
    h.run();
    h.get_by_label(item).scroll_to_me();
    h.run();
    h.get_by_label(item).click();
    h.run();
}

#[test]
fn adding_a_connection_makes_a_set_request() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 500.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let e = connection_editor(ui, &s.st, &mut s.ed);
                s.edits.extend(e);
            },
            state(),
        );
    h.run();
    choose(&mut h, "target input", "out.right (audio)");
    assert_eq!(h.state().ed.target, Some(p("out.right")));
    choose(&mut h, "source output", "osc.out (audio)");
    assert_eq!(h.state().ed.source, Some(p("osc.out")));

    // Type a number into the field (it shows the state's text, cleared first).
    h.state_mut().ed.weight_text.clear();
    h.get_by_role_and_label(Role::TextInput, "typed weight")
        .focus();
    h.run();
    h.get_by_role_and_label(Role::TextInput, "typed weight")
        .type_text("0.75");
    h.run();
    assert_eq!(h.state().ed.weight, 0.75, "typed number becomes the weight");
    assert!(h.state().edits.is_empty(), "nothing is sent before Set");

    h.get_by_label("Set weight").click();
    h.run();
    assert_eq!(
        h.state().edits,
        vec![Edit::Set {
            target: p("out.right"),
            source: p("osc.out"),
            weight: 0.75,
            morph: 0.0
        }]
    );
}

#[test]
fn removing_a_connection_makes_a_remove_request() {
    let mut s = state();
    s.ed.target = Some(p("osc.x"));
    s.ed.source = Some(p("ph.out"));
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 500.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let e = connection_editor(ui, &s.st, &mut s.ed);
                s.edits.extend(e);
            },
            s,
        );
    h.run();
    assert!(h.query_by_label("current weight: 1").is_some());
    h.get_by_label("Remove connection").click();
    h.run();
    assert_eq!(
        h.state().edits,
        vec![Edit::Remove {
            target: p("osc.x"),
            source: p("ph.out")
        }]
    );
}

#[test]
fn kind_mismatched_sources_are_not_offered() {
    let st = small_state();
    // The model: an audio input is offered exactly the audio outputs.
    let offered: Vec<String> = st
        .sources_for(&p("osc.x"))
        .iter()
        .map(|q| q.port.to_string())
        .collect();
    assert_eq!(offered, ["one.out", "ph.out", "osc.out"]);
    // An image input is offered images of its own shape only; a scalar input, scalars only.
    let images: Vec<String> = st
        .sources_for(&p("show.in"))
        .iter()
        .map(|q| q.port.to_string())
        .collect();
    assert_eq!(images, ["xy.x", "xy.y"]);
    assert!(!st.compatible(&p("lfo.x"), &p("osc.out")));

    // The widget: open the source list for an audio target and look at what is there.
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 600.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let e = connection_editor(ui, &s.st, &mut s.ed);
                s.edits.extend(e);
            },
            state(),
        );
    h.run();
    choose(&mut h, "target input", "osc.x (audio)");
    h.get_by_role_and_label(Role::ComboBox, "source output")
        .click();
    h.run();
    assert!(h.query_by_label("ph.out (audio)").is_some());
    for scalar_or_image in ["k.out (scalar)", "lfo.out (scalar)", "xy.x (image 8x8)"] {
        assert!(
            h.query_by_label(scalar_or_image).is_none(),
            "{scalar_or_image} offered to an audio input"
        );
    }
    // Switching the target to a scalar input drops an audio source already chosen.
    h.get_by_label("ph.out (audio)").click();
    h.run();
    assert_eq!(h.state().ed.source, Some(p("ph.out")));
    choose(&mut h, "target input", "lfo.x (scalar)");
    assert_eq!(
        h.state().ed.source,
        None,
        "an ill-typed pair never stays selected"
    );
    assert!(h.state().edits.is_empty());
}

#[test]
fn clicking_the_heat_map_selects_that_weight() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(700.0, 700.0))
        .build_ui_state(|ui, s: &mut S| heat_map(ui, &s.st, &mut s.ed), state());
    h.run();
    let rect = h.get_by_label(HEAT_MAP_LABEL).rect();
    let st = small_state();
    let row = st
        .inputs
        .iter()
        .position(|q| q.port == p("out.left"))
        .expect("row");
    let col = st
        .outputs
        .iter()
        .position(|q| q.port == p("osc.out"))
        .expect("col");
    let at = heat_cell_center(rect, &st, row, col);
    h.hover_at(at);
    h.run();
    // Hovering names both ports and the value.
    assert!(h.query_by_label("out.left <- osc.out").is_some());
    assert!(h.query_by_label("weight 0.25   (audio)").is_some());
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.run();
    let ed = &h.state().ed;
    assert_eq!(ed.target, Some(p("out.left")));
    assert_eq!(ed.source, Some(p("osc.out")));
    assert_eq!(ed.weight, 0.25);

    // A cell the type rule forbids selects the row but offers no source.
    let col = st
        .outputs
        .iter()
        .position(|q| q.port == p("k.out"))
        .expect("col");
    let at = heat_cell_center(rect, &st, row, col);
    h.hover_at(at);
    h.run();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.run();
    let ed = &h.state().ed;
    assert_eq!(ed.target, Some(p("out.left")));
    assert_eq!(ed.source, None);
    assert!(
        ed.problem
            .as_deref()
            .is_some_and(|m| m.contains("cannot feed"))
    );
}

#[test]
fn add_neuron_form_makes_one_request() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(600.0, 600.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let e = add_neuron(ui, &s.st, &mut s.ed);
                s.edits.extend(e);
            },
            state(),
        );
    h.run();
    choose(&mut h, "type", "phasor");
    choose(&mut h, "kind", "audio");
    h.get_by_role_and_label(Role::TextInput, "name").focus();
    h.run();
    h.get_by_role_and_label(Role::TextInput, "name")
        .type_text("ph2");
    h.run();
    h.get_by_label("Add neuron").click();
    h.run();
    let Some(Edit::AddNeuron {
        name,
        neuron,
        weights,
    }) = h.state().edits.first().cloned()
    else {
        panic!("expected one add_neuron request, got {:?}", h.state().edits);
    };
    assert_eq!(name, "ph2");
    assert_eq!(neuron.ty, "phasor");
    assert_eq!(
        neuron.settings.get("kind"),
        Some(&serde_json::json!("audio"))
    );
    assert!(weights.is_empty());

    // A duplicate name is refused in the form: no request.
    h.state_mut().edits.clear();
    h.state_mut().ed.new_name = "osc".into();
    h.get_by_label("Add neuron").click();
    h.run();
    assert!(h.state().edits.is_empty());
    assert!(h.query_by_label_contains("already exists").is_some());
}

#[test]
fn whole_panel_draws_the_default_patch_and_removes_a_neuron() {
    let patch = common::patch("default.json");
    let st = PanelState::from_network(&patch.network, &patch.initial_w());
    let mut h = Harness::builder()
        .with_size(egui::vec2(420.0, 1600.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let e = panel(ui, &s.st, &mut s.ed);
                s.edits.extend(e);
            },
            S {
                st,
                ed: Editor::default(),
                edits: Vec::new(),
            },
        );
    h.run();
    assert!(h.query_by_label(HEAT_MAP_LABEL).is_some());
    h.get_by_label("Neurons").click_accesskit();
    h.run();
    // Each non-core neuron has a remove button; the first belongs to `k`.
    h.get_all_by_label("remove")
        .next()
        .expect("a remove button")
        .click_accesskit();
    h.run();
    assert_eq!(
        h.state().edits,
        vec![Edit::RemoveNeuron {
            name: "k".into(),
            morph: 0.0,
        }]
    );
}

#[test]
fn shortcuts_map_to_actions() {
    use dmm_synth::ui::keys::{Action, shortcuts};
    use egui::{Key, Modifiers};
    let mut h = Harness::builder().build_ui_state(
        |ui, got: &mut Vec<Action>| got.extend(shortcuts(ui.ctx())),
        Vec::new(),
    );
    h.run();
    let cases = [
        (
            Modifiers::COMMAND | Modifiers::SHIFT,
            Key::S,
            Action::SaveAs,
        ),
        (Modifiers::COMMAND, Key::S, Action::Save),
        (Modifiers::COMMAND, Key::O, Action::Open),
        (
            Modifiers::COMMAND | Modifiers::SHIFT,
            Key::H,
            Action::TogglePanel,
        ),
        (Modifiers::COMMAND, Key::Period, Action::ToggleMute),
        (Modifiers::NONE, Key::F11, Action::ToggleFullscreen),
    ];
    for (mods, key, want) in cases {
        h.state_mut().clear();
        h.key_press_modifiers(mods, key);
        h.run();
        assert_eq!(h.state(), &vec![want], "{mods:?}+{key:?}");
    }
    // A plain letter is no shortcut.
    h.state_mut().clear();
    h.key_press(Key::S);
    h.run();
    assert!(h.state().is_empty());
}

#[test]
fn readme_lists_every_shortcut() {
    use dmm_synth::ui::keys::SHORTCUTS;
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README.md");
    for (keys, _, _) in SHORTCUTS {
        assert!(
            readme.contains(&format!("| {keys} |")),
            "README's shortcut table lacks {keys}"
        );
    }
}

#[test]
fn the_hot_reload_morph_override_is_a_checkbox_and_a_time() {
    let mut h = Harness::new_ui_state(|ui, s: &mut S| hot_reload(ui, &mut s.ed), state());
    h.run();
    assert_eq!(h.state().ed.reload_morph, None);
    h.get_by_label(MORPH_OVERRIDE_LABEL).click();
    h.run();
    assert_eq!(h.state().ed.reload_morph, Some(1.0));
    h.get_by_label(MORPH_OVERRIDE_LABEL).click();
    h.run();
    assert_eq!(h.state().ed.reload_morph, None);
}
