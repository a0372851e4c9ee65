//! The performing part of the panel and its keys: undo/redo and the history list, scenes 1–9,
//! the A/B crossfader. Plain functions over plain state (`PerformView` in, `PerformAction`s out);
//! `apply` carries an action out on the running instrument.

use crate::engine::edits::Edit;
use crate::live::scenes::SLOTS;
use crate::live::{Live, LiveError};
use crate::patch::mapping::PerformAim;
use egui::{Key, KeyboardShortcut, Modifiers, RichText, Ui};

/// The performing keys, for the README table and the help text.
pub const PERFORM_KEYS: &[(&str, &str)] = &[
    (
        "Ctrl+Z",
        "undo the last action (its inverse goes through Self; not while typing in a text field)",
    ),
    ("Ctrl+Shift+Z", "redo"),
    (
        "Ctrl+1…9",
        "recall scene 1–9: a morph to it over the morph time",
    ),
    (
        "Ctrl+Shift+1…9",
        "store the running program as scene 1–9 (saved in NAME.scenes.json)",
    ),
];

#[derive(Clone, Debug, PartialEq)]
pub enum PerformAction {
    Undo,
    Redo,
    /// Undo or redo until this many entries are done.
    GoTo(usize),
    Store(usize),
    Recall(usize),
    Crossfade {
        a: usize,
        b: usize,
        alpha: f64,
    },
    /// Map the next MIDI CC that moves (crossfader) or note struck (scene) onto `aim`.
    Learn(PerformAim),
    CancelLearn,
}

/// What the panel shows.
#[derive(Clone, Debug, Default)]
pub struct PerformView {
    /// (time, description) per entry, oldest first.
    pub entries: Vec<(String, String)>,
    /// Entries done.
    pub head: usize,
    pub filled: [bool; SLOTS],
    /// MIDI is on (there is a mapper to learn with); the window fills it in.
    pub midi: bool,
    /// What a MIDI learn waits for, if anything.
    pub learning: Option<PerformAim>,
}

impl PerformView {
    pub fn of(live: &Live) -> PerformView {
        let h = live.history();
        PerformView {
            entries: h
                .entries()
                .iter()
                .map(|e| (e.time.clone(), e.what.clone()))
                .collect(),
            head: h.head(),
            filled: live.scenes().filled(),
            midi: false,
            learning: None,
        }
    }
}

/// The crossfader's controls.
#[derive(Clone, Debug)]
pub struct PerformUi {
    pub a: usize,
    pub b: usize,
    pub alpha: f64,
}

impl Default for PerformUi {
    fn default() -> Self {
        PerformUi {
            a: 1,
            b: 2,
            alpha: 0.0,
        }
    }
}

const DIGITS: [Key; SLOTS] = [
    Key::Num1,
    Key::Num2,
    Key::Num3,
    Key::Num4,
    Key::Num5,
    Key::Num6,
    Key::Num7,
    Key::Num8,
    Key::Num9,
];

/// Takes this frame's performing keys out of egui's input (Shift variants first: egui's
/// matching ignores an extra Shift). Nothing while a text field has the keyboard: there Ctrl+Z
/// is the text's own undo.
pub fn perform_keys(ctx: &egui::Context) -> Vec<PerformAction> {
    if ctx.egui_wants_keyboard_input() {
        return Vec::new();
    }
    let shift = Modifiers::COMMAND | Modifiers::SHIFT;
    let mut table = vec![
        (KeyboardShortcut::new(shift, Key::Z), PerformAction::Redo),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::Z),
            PerformAction::Undo,
        ),
    ];
    for (i, k) in DIGITS.iter().enumerate() {
        table.push((
            KeyboardShortcut::new(shift, *k),
            PerformAction::Store(i + 1),
        ));
    }
    for (i, k) in DIGITS.iter().enumerate() {
        table.push((
            KeyboardShortcut::new(Modifiers::COMMAND, *k),
            PerformAction::Recall(i + 1),
        ));
    }
    ctx.input_mut(|i| {
        table
            .into_iter()
            .filter(|(s, _)| i.consume_shortcut(s))
            .map(|(_, a)| a)
            .collect()
    })
}

/// Scenes, crossfader and history.
pub fn perform_panel(ui: &mut Ui, v: &PerformView, st: &mut PerformUi) -> Vec<PerformAction> {
    let mut out = Vec::new();
    egui::CollapsingHeader::new("Scenes")
        .default_open(true)
        .show(ui, |ui| scenes(ui, v, st, &mut out));
    egui::CollapsingHeader::new("History")
        .default_open(true)
        .show(ui, |ui| history(ui, v, &mut out));
    out
}

fn scenes(ui: &mut Ui, v: &PerformView, st: &mut PerformUi, out: &mut Vec<PerformAction>) {
    ui.horizontal(|ui| {
        ui.label("recall");
        for n in 1..=SLOTS {
            let aim = PerformAim::Scene(n as u8);
            // An empty slot stays clickable (a recall is refused with a log line) so that a
            // note can be learned onto it before anything is stored there; it is drawn dim.
            let filled = v.filled[n - 1];
            let label = if filled {
                egui::RichText::new(n.to_string())
            } else {
                egui::RichText::new(n.to_string()).weak()
            };
            let b = ui.add(egui::Button::new(label).selected(v.learning == Some(aim)));
            let b = b.on_hover_text(if filled {
                format!("Ctrl+{n}; right click: learn a MIDI note or OSC button for it")
            } else {
                format!(
                    "scene {n} is empty (Ctrl+Shift+{n} stores it); right click: learn a MIDI note or OSC button for it"
                )
            });
            if b.clicked() {
                out.push(PerformAction::Recall(n));
            }
            // A right click learns the note that recalls it (again: cancels).
            if b.secondary_clicked() {
                out.push(learn_or_cancel(v, aim));
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("store ");
        for n in 1..=SLOTS {
            let b = ui
                .button(n.to_string())
                .on_hover_text(format!("Ctrl+Shift+{n}"));
            if b.clicked() {
                out.push(PerformAction::Store(n));
            }
        }
    });
    let mut moved = false;
    ui.horizontal(|ui| {
        moved |= slot_box(ui, "A", &mut st.a);
        let s = egui::Slider::new(&mut st.alpha, 0.0..=1.0).text("alpha");
        moved |= ui.add(s).changed();
        moved |= slot_box(ui, "B", &mut st.b);
        let learning = v.learning == Some(PerformAim::Xfade);
        let text = if learning {
            "learning: move a CC"
        } else {
            "learn"
        };
        let b = ui
            .add(egui::Button::new(text).selected(learning))
            .on_hover_text(if v.midi {
                "map the next MIDI CC that moves, or OSC address that sends a number, onto the crossfader"
            } else {
                "learn needs --midi or OSC in"
            });
        if b.clicked() {
            out.push(learn_or_cancel(v, PerformAim::Xfade));
        }
    });
    if moved && v.filled[st.a - 1] && v.filled[st.b - 1] {
        out.push(PerformAction::Crossfade {
            a: st.a,
            b: st.b,
            alpha: st.alpha,
        });
    }
}

/// Learn `aim`, or cancel when it is the one being learned.
fn learn_or_cancel(v: &PerformView, aim: PerformAim) -> PerformAction {
    if v.learning == Some(aim) {
        PerformAction::CancelLearn
    } else {
        PerformAction::Learn(aim)
    }
}

fn slot_box(ui: &mut Ui, label: &str, slot: &mut usize) -> bool {
    let before = *slot;
    egui::ComboBox::from_label(label)
        .width(36.0)
        .selected_text(slot.to_string())
        .show_ui(ui, |ui| {
            for n in 1..=SLOTS {
                ui.selectable_value(slot, n, n.to_string());
            }
        });
    *slot != before
}

fn history(ui: &mut Ui, v: &PerformView, out: &mut Vec<PerformAction>) {
    ui.horizontal(|ui| {
        if ui
            .add_enabled(v.head > 0, egui::Button::new("undo"))
            .clicked()
        {
            out.push(PerformAction::Undo);
        }
        if ui
            .add_enabled(v.head < v.entries.len(), egui::Button::new("redo"))
            .clicked()
        {
            out.push(PerformAction::Redo);
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("history")
        .max_height(140.0)
        .stick_to_bottom(true)
        .show(ui, |ui| {
            let start = if v.head == 0 { "> start" } else { "  start" };
            if ui.selectable_label(v.head == 0, start).clicked() {
                out.push(PerformAction::GoTo(0));
            }
            for (i, (time, what)) in v.entries.iter().enumerate() {
                let at_head = i + 1 == v.head;
                let mark = if at_head { ">" } else { " " };
                let mut text = RichText::new(format!("{mark} {time} {what}")).monospace();
                if i >= v.head {
                    text = text.weak();
                }
                if ui.selectable_label(at_head, text).clicked() {
                    out.push(PerformAction::GoTo(i + 1));
                }
            }
        });
}

/// Carries out one action on the instrument (it writes its own log line).
pub fn apply(live: &mut Live, a: PerformAction) -> Result<(), LiveError> {
    match a {
        PerformAction::Undo => live.undo(),
        PerformAction::Redo => live.redo(),
        PerformAction::GoTo(n) => live.go_to(n),
        PerformAction::Store(n) => live.store_scene(n),
        PerformAction::Recall(n) => live.recall_scene(n),
        PerformAction::Crossfade { a, b, alpha } => live.crossfade(a, b, alpha),
        // The window hands these to its MIDI mapper; they come here only without one.
        PerformAction::Learn(_) | PerformAction::CancelLearn => Err(LiveError::Scene(
            "learn needs MIDI (start with --midi) or OSC in (on unless --no-osc)".into(),
        )),
    }
}

/// One line saying what an edit request does (a history entry's description).
pub fn describe(e: &Edit) -> String {
    match e {
        Edit::Add {
            target,
            source,
            weight,
            ..
        } => format!("{target} += {weight} {source}"),
        Edit::Set {
            target,
            source,
            weight,
            morph,
        } if *morph > 0.0 => format!("{target} <- {weight} {source} over {morph} s"),
        Edit::Set {
            target,
            source,
            weight,
            ..
        } => format!("{target} <- {weight} {source}"),
        Edit::Remove { target, source } => format!("disconnect {target} <- {source}"),
        Edit::Delta { weights, .. } => format!("add a delta of {} weight(s)", weights.len()),
        Edit::AddNeuron { name, neuron, .. } => format!("add neuron {name} ({})", neuron.ty),
        Edit::RemoveNeuron { name, .. } => format!("remove neuron {name}"),
        Edit::Batch { edits } if edits.len() == 1 => describe(&edits[0]),
        Edit::Batch { edits } => format!("{} edits at once", edits.len()),
    }
}
