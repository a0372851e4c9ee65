//! Learn in the panel (MIDI controls and OSC addresses, one learn state): the *learn* button beside the connection editor's weight slider, and
//! the list of mappings (remove; edit min, max, curve, smoothing), with the MIDI input ports seen
//! (hot-plugged ones appear), each with a checkbox that takes or ignores it. Plain functions over the
//! panel's `Editor`: they read `ed.learn` (what the mapper holds now) and leave what the performer
//! asked for in `ed.map_actions`; the session hands those to the mapper (`apply`).

use super::panel::Editor;
use crate::control::learn::{Curve, Mapping, MidiMapper, OscMapping, Range};
use crate::control::midi::PortView;
use crate::patch::mapping::{PerformAim, PerformMap};
use crate::stream::PortRef;
use egui::Ui;

/// What the mapper holds, as the panel shows it.
#[derive(Clone, Debug, Default)]
pub struct LearnView {
    /// MIDI or OSC in is on: there is a mapper to learn with.
    pub available: bool,
    /// OSC addresses reach the mapper (OSC in is on).
    pub osc_on: bool,
    /// The weight waiting for a controller to move.
    pub armed: Option<(PortRef, PortRef)>,
    pub mappings: Vec<Mapping>,
    /// OSC addresses mapped onto weights.
    pub osc: Vec<OscMapping>,
    /// MIDI and OSC onto the crossfader and scene recall.
    pub perform: Vec<PerformMap>,
    /// The MIDI input ports seen so far, each on or off (empty when MIDI is off).
    pub midi_ports: Vec<PortView>,
}

impl LearnView {
    pub fn of(m: &MidiMapper) -> LearnView {
        LearnView {
            available: true,
            osc_on: m.osc_on(),
            armed: m.armed().map(|r| (r.target.clone(), r.source.clone())),
            mappings: m.mappings(),
            osc: m.osc_mappings(),
            perform: m.perform_list(),
            midi_ports: m.midi_ports(),
        }
    }
}

/// A request about the mappings, made in the panel.
#[derive(Clone, Debug, PartialEq)]
pub enum MapAction {
    /// The next controller that moves drives this weight through this range.
    Learn(Range),
    CancelLearn,
    Remove {
        target: PortRef,
        source: PortRef,
    },
    /// A new range for a mapped weight.
    Update(Range),
    /// Unmaps the crossfader or a scene.
    RemovePerform(PerformAim),
    /// Unmaps an OSC address.
    RemoveOsc(String),
    /// A new range for a mapped OSC address.
    UpdateOsc {
        addr: String,
        range: Range,
    },
    /// Takes (on) or ignores (off) a MIDI input port.
    MidiPort {
        name: String,
        on: bool,
    },
}

/// Hands the panel's requests to the mapper; returns a line for the log for each.
pub fn apply(m: &mut MidiMapper, actions: Vec<MapAction>) -> Vec<String> {
    actions
        .into_iter()
        .map(|a| match a {
            MapAction::Learn(r) => {
                let line = format!(
                    "learn: move a MIDI control or send an OSC address for {} <- {} ({}..{})",
                    r.target, r.source, r.min, r.max
                );
                m.learn(r);
                line
            }
            MapAction::CancelLearn => {
                m.cancel_learn();
                "learn: cancelled".into()
            }
            MapAction::Remove { target, source } => {
                m.remove(&target, &source);
                format!("mapping of {target} <- {source} removed")
            }
            MapAction::RemovePerform(aim) => {
                m.remove_perform(aim);
                match aim {
                    PerformAim::Xfade => "mapping of the crossfader removed".into(),
                    PerformAim::Scene(n) => format!("mapping of scene {n} removed"),
                }
            }
            MapAction::RemoveOsc(addr) => {
                m.remove_osc(&addr);
                format!("mapping of osc {addr} removed")
            }
            MapAction::UpdateOsc { addr, range } => {
                let line = format!(
                    "mapping of osc {addr} -> {} <- {}: {}..{}",
                    range.target, range.source, range.min, range.max
                );
                m.update_osc(&addr, range);
                line
            }
            MapAction::MidiPort { name, on } => {
                let state = if on { "on" } else { "off" };
                if m.set_midi_port(&name, on) {
                    format!("midi in: port {name} {state}")
                } else {
                    format!("midi in: no port {name} seen; nothing changed")
                }
            }
            MapAction::Update(r) => {
                let line = format!(
                    "mapping of {} <- {}: {}..{}",
                    r.target, r.source, r.min, r.max
                );
                m.update(r);
                line
            }
        })
        .collect()
}

/// The range a fresh learn starts with: 0 up to the weight (1 when it is 0).
fn default_range(t: &PortRef, s: &PortRef, weight: f64) -> Option<Range> {
    let max = if weight == 0.0 { 1.0 } else { weight };
    Range::new(t.clone(), s.clone(), (0.0, max), Curve::Linear, 0.0).ok()
}

/// The *learn* button for the weight the connection editor has selected.
pub fn learn_button(ui: &mut Ui, ed: &mut Editor) {
    let chosen = match (&ed.target, &ed.source) {
        (Some(t), Some(s)) => Some((t.clone(), s.clone())),
        _ => None,
    };
    let armed_here = chosen.is_some() && ed.learn.armed == chosen;
    let text = if armed_here {
        "learning: move a control"
    } else {
        "learn"
    };
    let r = ui
        .add_enabled(
            ed.learn.available && chosen.is_some(),
            egui::Button::new(text).selected(armed_here),
        )
        .on_disabled_hover_text("choose a weight; learn needs --midi or OSC in")
        .on_hover_text(
            "map the next MIDI control that moves, or OSC address that sends a number, onto this weight",
        );
    if !r.clicked() {
        return;
    }
    if armed_here {
        ed.map_actions.push(MapAction::CancelLearn);
        ed.learn.armed = None;
        return;
    }
    arm(ed);
}

/// Arms learning for the weight the editor has selected (the learn button, a right click on a
/// W-map cell). Nothing happens without MIDI or OSC in, or without a type-correct weight.
pub fn arm(ed: &mut Editor) {
    let (Some(t), Some(s)) = (ed.target.clone(), ed.source.clone()) else {
        return;
    };
    if !ed.learn.available {
        ed.problem =
            Some("learn needs MIDI (start with --midi) or OSC in (on unless --no-osc)".into());
        return;
    }
    match default_range(&t, &s, ed.weight) {
        Some(range) => {
            ed.learn.armed = Some((t, s));
            ed.map_actions.push(MapAction::Learn(range));
        }
        None => ed.problem = Some(format!("weight {} cannot be a range end", ed.weight)),
    }
}

/// One row per mapping: its control and weight, min, max, curve, smoothing, remove.
pub fn mappings_list(ui: &mut Ui, ed: &mut Editor) {
    if !ed.learn.available {
        ui.label("MIDI and OSC in are off (start with --midi, or without --no-osc, to learn)");
        return;
    }
    midi_ports(ui, ed);
    for m in &ed.learn.perform {
        ui.horizontal(|ui| {
            ui.label(m.to_string());
            if ui.button("remove").clicked() {
                ed.map_actions.push(MapAction::RemovePerform(m.aim));
            }
        });
    }
    if ed.learn.mappings.is_empty() && ed.learn.osc.is_empty() {
        ui.label("no mappings: choose a weight and press learn");
    }
    let mut actions = Vec::new();
    let mut problem = None;
    for (i, m) in ed.learn.mappings.iter_mut().enumerate() {
        let r = &mut m.range;
        ui.push_id(i, |ui| {
            ui.label(format!("{} -> {} <- {}", m.cc.name(), r.target, r.source));
            ui.horizontal(|ui| {
                match range_row(ui, r) {
                    Some(Ok(new)) => actions.push(MapAction::Update(new)),
                    Some(Err(e)) => problem = Some(e),
                    None => {}
                }
                if ui.button("remove").clicked() {
                    actions.push(MapAction::Remove {
                        target: r.target.clone(),
                        source: r.source.clone(),
                    });
                }
            });
        });
    }
    for (i, m) in ed.learn.osc.iter_mut().enumerate() {
        let r = &mut m.range;
        ui.push_id(("osc", i), |ui| {
            ui.label(format!("osc {} -> {} <- {}", m.addr, r.target, r.source));
            ui.horizontal(|ui| {
                match range_row(ui, r) {
                    Some(Ok(range)) => actions.push(MapAction::UpdateOsc {
                        addr: m.addr.clone(),
                        range,
                    }),
                    Some(Err(e)) => problem = Some(e),
                    None => {}
                }
                if ui.button("remove").clicked() {
                    actions.push(MapAction::RemoveOsc(m.addr.clone()));
                }
            });
        });
    }
    if let Some(e) = problem {
        ed.problem = Some(e);
    }
    ed.map_actions.extend(actions);
}

/// Label of the port list in the mappings section.
pub const MIDI_PORTS_LABEL: &str = "MIDI input ports";

/// The MIDI input ports seen so far, one checkbox each (on: its events are taken).
fn midi_ports(ui: &mut Ui, ed: &mut Editor) {
    if ed.learn.midi_ports.is_empty() {
        return;
    }
    ui.label(MIDI_PORTS_LABEL);
    for p in &mut ed.learn.midi_ports {
        let text = if p.present {
            p.name.clone()
        } else {
            format!("{} (unplugged)", p.name)
        };
        if ui
            .checkbox(&mut p.on, text)
            .on_hover_text("take this port's MIDI (off: its events are ignored)")
            .changed()
        {
            ed.map_actions.push(MapAction::MidiPort {
                name: p.name.clone(),
                on: p.on,
            });
        }
    }
    ui.separator();
}

/// min, max, exp and smoothing of one mapping: `Some(Ok(new))` when changed (and taken into
/// `r`), `Some(Err(why))` when refused (NaN, an exponential range through 0: nothing changes).
fn range_row(ui: &mut Ui, r: &mut Range) -> Option<Result<Range, String>> {
    let (mut min, mut max, mut exp, mut smooth) =
        (r.min, r.max, r.curve == Curve::Exp, r.smoothing);
    let mut changed = false;
    changed |= ui
        .add(egui::DragValue::new(&mut min).speed(0.01).prefix("min "))
        .changed();
    changed |= ui
        .add(egui::DragValue::new(&mut max).speed(0.01).prefix("max "))
        .changed();
    changed |= ui.checkbox(&mut exp, "exp").changed();
    changed |= ui
        .add(
            egui::DragValue::new(&mut smooth)
                .range(0.0..=60.0)
                .speed(0.01)
                .prefix("smooth ")
                .suffix(" s"),
        )
        .changed();
    if !changed {
        return None;
    }
    let curve = if exp { Curve::Exp } else { Curve::Linear };
    Some(
        match Range::new(
            r.target.clone(),
            r.source.clone(),
            (min, max),
            curve,
            smooth,
        ) {
            Ok(new) => {
                *r = new.clone();
                Ok(new)
            }
            Err(e) => Err(e.to_string()),
        },
    )
}
