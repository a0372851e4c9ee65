//! The control panel as plain functions over plain state (DESIGN §7). Each function draws one
//! section from a `PanelState` and the panel's own widget state (`Editor`), and returns the edit
//! requests the performer made. It never sends anything: the window sends them through Self, and
//! tests check them.

use super::scope::ScopeSource;
use super::state::{PanelState, PortInfo};
use crate::engine::Edit;
use crate::engine::machine::Level;
use crate::neurons::{Kinds, NeuronSpec, TYPES, check_name, type_info};
use crate::stream::{Kind, PortRef};
use egui::{
    Color32, CornerRadius, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2, pos2, vec2,
};

/// Accessible label of the heat map (tests find it by this name).
pub const HEAT_MAP_LABEL: &str = "W heat map";
/// Largest heat-map cell side, points.
const HEAT_CELL_MAX: f32 = 14.0;
/// Smallest heat-map cell side, points (wider matrices scroll).
const HEAT_CELL_MIN: f32 = 5.0;

/// The panel's own widget state: what is selected and typed. Survives snapshot updates.
#[derive(Clone, Debug)]
pub struct Editor {
    pub target: Option<PortRef>,
    pub source: Option<PortRef>,
    pub weight: f64,
    pub weight_text: String,
    /// Seconds over which a set weight is spread (0 = at once).
    pub morph: f64,
    pub new_type: String,
    pub new_name: String,
    pub new_kind: String,
    /// Extra settings as a JSON object, e.g. `{"rows": 64, "cols": 64}`.
    pub new_settings: String,
    /// Last problem with what was typed (shown under the form; no edit is made).
    pub problem: Option<String>,
    /// Morph time for hot reloads, overriding the file's `morph_time` (None: the file's).
    pub reload_morph: Option<f64>,
    /// The audio port whose scope is shown (a click in the neuron list; None: `audio_out` when
    /// there is no picture, else no scope).
    pub scope: Option<ScopeSource>,
    /// The MIDI mapper as it is now (the session fills it in each frame).
    pub learn: super::learn::LearnView,
    /// What the performer asked of the mappings this frame (the session takes them).
    pub map_actions: Vec<super::learn::MapAction>,
}

impl Default for Editor {
    fn default() -> Self {
        Editor {
            target: None,
            source: None,
            weight: 1.0,
            weight_text: "1".into(),
            morph: 0.0,
            new_type: "sin".into(),
            new_name: String::new(),
            new_kind: "scalar".into(),
            new_settings: String::new(),
            problem: None,
            reload_morph: None,
            scope: None,
            learn: Default::default(),
            map_actions: Vec::new(),
        }
    }
}

impl Editor {
    /// Selects one weight (the heat map does this on a click).
    pub fn select(&mut self, st: &PanelState, target: &PortRef, source: &PortRef) {
        self.target = Some(target.clone());
        if st.compatible(target, source) {
            self.source = Some(source.clone());
            let w = st.w.get(target, source);
            self.weight = if w == 0.0 { 1.0 } else { w };
            self.weight_text = fmt_weight(self.weight);
            self.problem = None;
        } else {
            self.source = None;
            self.problem = Some(format!(
                "{source} cannot feed {target}: {} vs {}",
                kind_name(st.output_kind(source)),
                kind_name(st.input_kind(target))
            ));
        }
    }
}

fn kind_name(k: Option<Kind>) -> String {
    k.map(|k| k.to_string()).unwrap_or_else(|| "unknown".into())
}

fn fmt_weight(w: f64) -> String {
    let s = format!("{w:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// The whole panel: every section, top to bottom. Returns the edit requests made this frame.
pub fn panel(ui: &mut Ui, st: &PanelState, ed: &mut Editor) -> Vec<Edit> {
    let mut edits = Vec::new();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::CollapsingHeader::new("Meters")
                .default_open(true)
                .show(ui, |ui| meters(ui, st));
            egui::CollapsingHeader::new("Connection")
                .default_open(true)
                .show(ui, |ui| edits.extend(connection_editor(ui, st, ed)));
            egui::CollapsingHeader::new("Mappings (MIDI, OSC)")
                .default_open(false)
                .show(ui, |ui| super::learn::mappings_list(ui, ed));
            egui::CollapsingHeader::new("W")
                .default_open(true)
                .show(ui, |ui| heat_map(ui, st, ed));
            egui::CollapsingHeader::new("Neurons")
                .default_open(false)
                .show(ui, |ui| edits.extend(neuron_list(ui, st, ed)));
            egui::CollapsingHeader::new("Add neuron")
                .default_open(false)
                .show(ui, |ui| edits.extend(add_neuron(ui, st, ed)));
            egui::CollapsingHeader::new("Hot reload")
                .default_open(false)
                .show(ui, |ui| hot_reload(ui, ed));
            egui::CollapsingHeader::new("Log")
                .default_open(true)
                .show(ui, |ui| log(ui, st));
        });
    edits
}

fn port_label(p: &PortInfo) -> String {
    format!("{} ({})", p.port, p.kind)
}

/// Target input, source output (only matching kinds offered), weight, set / remove.
pub fn connection_editor(ui: &mut Ui, st: &PanelState, ed: &mut Editor) -> Vec<Edit> {
    let mut edits = Vec::new();
    drop_stale(st, ed);
    target_combo(ui, st, ed);
    source_combo(ui, st, ed);
    let current = match (&ed.target, &ed.source) {
        (Some(t), Some(s)) => Some(st.w.get(t, s)),
        _ => None,
    };
    weight_controls(ui, ed, current, &mut edits);
    set_and_remove(ui, ed, current, &mut edits);
    if let Some(c) = current {
        ui.label(format!("current weight: {}", fmt_weight(c)));
    }
    if let Some(p) = &ed.problem {
        ui.colored_label(Color32::from_rgb(240, 120, 100), p);
    }
    edits
}

/// Forgets a target or source that no longer exists (neuron removed) or no longer fits.
fn drop_stale(st: &PanelState, ed: &mut Editor) {
    if let Some(t) = &ed.target
        && st.input_kind(t).is_none()
    {
        ed.target = None;
    }
    if let (Some(t), Some(s)) = (&ed.target, &ed.source)
        && !st.compatible(t, s)
    {
        ed.source = None;
    }
}

/// The target input's menu; choosing one drops a source that does not fit it.
fn target_combo(ui: &mut Ui, st: &PanelState, ed: &mut Editor) {
    let target_text = ed
        .target
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "choose".into());
    egui::ComboBox::from_label("target input")
        .selected_text(target_text)
        .width(200.0)
        .show_ui(ui, |ui| {
            for p in st.targets() {
                let selected = ed.target.as_ref() == Some(&p.port);
                if ui.selectable_label(selected, port_label(p)).clicked() && !selected {
                    ed.target = Some(p.port.clone());
                    ed.problem = None;
                    if let Some(s) = &ed.source
                        && !st.compatible(&p.port, s)
                    {
                        ed.source = None;
                    }
                }
            }
        });
}

/// The source output's menu (outputs that fit the target); choosing an existing connection
/// shows its weight.
fn source_combo(ui: &mut Ui, st: &PanelState, ed: &mut Editor) {
    let source_text = ed
        .source
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "choose".into());
    ui.add_enabled_ui(ed.target.is_some(), |ui| {
        egui::ComboBox::from_label("source output")
            .selected_text(source_text)
            .width(200.0)
            .show_ui(ui, |ui| {
                if let Some(t) = ed.target.clone() {
                    for p in st.sources_for(&t) {
                        let selected = ed.source.as_ref() == Some(&p.port);
                        if ui.selectable_label(selected, port_label(p)).clicked() {
                            ed.source = Some(p.port.clone());
                            let w = st.w.get(&t, &p.port);
                            if w != 0.0 {
                                ed.weight = w;
                                ed.weight_text = fmt_weight(w);
                            }
                        }
                    }
                }
            });
    });
}

/// The weight slider (live on an existing connection), typed weight, learn button and morph.
fn weight_controls(ui: &mut Ui, ed: &mut Editor, current: Option<f64>, edits: &mut Vec<Edit>) {
    // The slider is the weight as a knob: dragging it on an existing connection sends it live.
    let slider = ui.add(
        egui::Slider::new(&mut ed.weight, -2.0..=2.0)
            .clamping(egui::SliderClamping::Never)
            .text("weight"),
    );
    super::learn::learn_button(ui, ed);
    if slider.changed() {
        ed.weight_text = fmt_weight(ed.weight);
        if let (Some(t), Some(s), Some(c)) = (&ed.target, &ed.source, current)
            && c != 0.0
        {
            edits.push(Edit::Set {
                target: t.clone(),
                source: s.clone(),
                weight: ed.weight,
                morph: 0.0,
            });
        }
    }
    ui.horizontal(|ui| {
        let l = ui.label("typed weight");
        let r = ui.add(egui::TextEdit::singleline(&mut ed.weight_text).desired_width(80.0));
        let r = r.labelled_by(l.id);
        if r.changed() {
            match ed.weight_text.trim().parse::<f64>() {
                Ok(w) if w.is_finite() => {
                    ed.weight = w;
                    ed.problem = None;
                }
                _ => ed.problem = Some(format!("{:?} is not a number", ed.weight_text)),
            }
        }
    });
    ui.add(
        egui::DragValue::new(&mut ed.morph)
            .range(0.0..=60.0)
            .speed(0.05)
            .prefix("morph ")
            .suffix(" s"),
    );
}

/// The Set weight and Remove connection buttons.
fn set_and_remove(ui: &mut Ui, ed: &Editor, current: Option<f64>, edits: &mut Vec<Edit>) {
    ui.horizontal(|ui| {
        let ready = ed.target.is_some() && ed.source.is_some() && ed.problem.is_none();
        if ui
            .add_enabled(ready, egui::Button::new("Set weight"))
            .clicked()
            && let (Some(t), Some(s)) = (&ed.target, &ed.source)
        {
            edits.push(Edit::Set {
                target: t.clone(),
                source: s.clone(),
                weight: ed.weight,
                morph: ed.morph,
            });
        }
        let exists = current.is_some_and(|c| c != 0.0);
        if ui
            .add_enabled(exists, egui::Button::new("Remove connection"))
            .clicked()
            && let (Some(t), Some(s)) = (&ed.target, &ed.source)
        {
            edits.push(Edit::Remove {
                target: t.clone(),
                source: s.clone(),
            });
        }
    });
}

/// Colour of one weight: red positive, blue negative, brightness on a log scale of |w|/max.
fn weight_color(w: f64, max: f64) -> Color32 {
    let t = ((1.0 + w.abs()).ln() / (1.0 + max).ln()).clamp(0.0, 1.0) as f32;
    let v = (110.0 + 145.0 * t.sqrt()) as u8;
    if w > 0.0 {
        Color32::from_rgb(v, (v as f32 * 0.35) as u8, 40)
    } else {
        Color32::from_rgb(40, (v as f32 * 0.55) as u8, v)
    }
}

/// Side of one heat-map cell for a map drawn in `rect` with `cols` columns.
pub fn heat_cell(rect: Rect, cols: usize) -> f32 {
    rect.width() / cols.max(1) as f32
}

/// Screen position of the centre of cell (`row`, `col`) of a heat map drawn in `rect`.
pub fn heat_cell_center(rect: Rect, st: &PanelState, row: usize, col: usize) -> egui::Pos2 {
    let c = heat_cell(rect, st.outputs.len());
    pos2(
        rect.min.x + (col as f32 + 0.5) * c,
        rect.min.y + (row as f32 + 0.5) * c,
    )
}

/// W as a live heat map: rows = input ports, columns = output ports. Hover shows both port names
/// and the value; a click selects that weight in the connection editor, a right click selects
/// it and arms learn (MIDI or OSC) for it.
pub fn heat_map(ui: &mut Ui, st: &PanelState, ed: &mut Editor) {
    let (rows, cols) = (st.inputs.len(), st.outputs.len());
    if rows == 0 || cols == 0 {
        ui.label("(no ports)");
        return;
    }
    let cell = (ui.available_width() / cols as f32).clamp(HEAT_CELL_MIN, HEAT_CELL_MAX);
    ui.label(format!(
        "{} weights; rows: {rows} inputs, columns: {cols} outputs",
        st.w.len()
    ));
    egui::ScrollArea::horizontal()
        .id_salt("heat scroll")
        .show(ui, |ui| {
            let size = vec2(cell * cols as f32, cell * rows as f32);
            let (rect, resp) = ui.allocate_exact_size(size, Sense::click());
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Canvas, true, HEAT_MAP_LABEL)
            });
            let grid = HeatGrid {
                rect,
                cell,
                rows,
                cols,
            };
            paint_heat(&ui.painter_at(rect), &grid, st, ed);
            heat_clicks(resp, &grid, st, ed);
        });
}

/// Where the heat map's cells are: row r (an input), column c (an output).
struct HeatGrid {
    rect: Rect,
    cell: f32,
    rows: usize,
    cols: usize,
}

impl HeatGrid {
    fn cell_rect(&self, r: usize, c: usize) -> Rect {
        Rect::from_min_size(
            pos2(
                self.rect.min.x + c as f32 * self.cell,
                self.rect.min.y + r as f32 * self.cell,
            ),
            Vec2::splat(self.cell),
        )
    }

    /// The cell under `p`, if any.
    fn cell_at(&self, p: egui::Pos2) -> Option<(usize, usize)> {
        if !self.rect.contains(p) {
            return None;
        }
        let c = ((p.x - self.rect.min.x) / self.cell) as usize;
        let r = ((p.y - self.rect.min.y) / self.cell) as usize;
        (r < self.rows && c < self.cols).then_some((r, c))
    }
}

/// The heat map's picture: neuron boundaries, one colored cell per weight, the selected entry.
fn paint_heat(painter: &egui::Painter, g: &HeatGrid, st: &PanelState, ed: &Editor) {
    let rect = g.rect;
    painter.rect_filled(rect, CornerRadius::ZERO, Color32::from_gray(12));
    let row_of: std::collections::HashMap<&PortRef, usize> = st
        .inputs
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.port, i))
        .collect();
    let col_of: std::collections::HashMap<&PortRef, usize> = st
        .outputs
        .iter()
        .enumerate()
        .map(|(i, p)| (&p.port, i))
        .collect();
    // Neuron boundaries as faint lines, so a row or column is easy to place.
    let grid = Stroke::new(1.0, Color32::from_gray(40));
    for (i, p) in st.inputs.iter().enumerate().skip(1) {
        if p.port.neuron != st.inputs[i - 1].port.neuron {
            let y = rect.min.y + i as f32 * g.cell;
            painter.hline(rect.x_range(), y, grid);
        }
    }
    for (i, p) in st.outputs.iter().enumerate().skip(1) {
        if p.port.neuron != st.outputs[i - 1].port.neuron {
            let x = rect.min.x + i as f32 * g.cell;
            painter.vline(x, rect.y_range(), grid);
        }
    }
    let max = st.w.max_norm().max(1e-9);
    for (t, s, w) in st.w.entries() {
        if let (Some(&r), Some(&c)) = (row_of.get(t), col_of.get(s)) {
            painter.rect_filled(g.cell_rect(r, c).shrink(0.5), 0.0, weight_color(w, max));
        }
    }
    if let (Some(t), Some(s)) = (&ed.target, &ed.source)
        && let (Some(&r), Some(&c)) = (row_of.get(t), col_of.get(s))
    {
        painter.rect_stroke(
            g.cell_rect(r, c),
            0.0,
            Stroke::new(1.5, Color32::WHITE),
            StrokeKind::Outside,
        );
    }
}

/// A click selects a cell's entry, a right click selects and learns it; hovering shows it.
fn heat_clicks(resp: egui::Response, g: &HeatGrid, st: &PanelState, ed: &mut Editor) {
    if resp.clicked()
        && let Some((r, c)) = resp.interact_pointer_pos().and_then(|p| g.cell_at(p))
    {
        ed.select(st, &st.inputs[r].port, &st.outputs[c].port);
    }
    // A right click selects the cell and learns it: the next control that moves drives it.
    if resp.secondary_clicked()
        && let Some((r, c)) = resp.interact_pointer_pos().and_then(|p| g.cell_at(p))
    {
        ed.select(st, &st.inputs[r].port, &st.outputs[c].port);
        super::learn::arm(ed);
    }
    if let Some((r, c)) = resp.hover_pos().and_then(|p| g.cell_at(p)) {
        let (t, s) = (&st.inputs[r], &st.outputs[c]);
        resp.on_hover_ui_at_pointer(|ui| {
            ui.label(format!("{} <- {}", t.port, s.port));
            let w = st.w.get(&t.port, &s.port);
            if t.kind == s.kind {
                ui.label(format!("weight {}   ({})", fmt_weight(w), t.kind));
            } else {
                ui.label(format!("no weight possible: {} <- {}", t.kind, s.kind));
            }
        });
    }
}

/// Every neuron with its type, ports and kinds, and live values; a remove button each.
pub fn neuron_list(ui: &mut Ui, st: &PanelState, ed: &mut Editor) -> Vec<Edit> {
    let mut edits = Vec::new();
    for n in &st.neurons {
        let id = ui.make_persistent_id(("neuron", &n.name));
        egui::collapsing_header::CollapsingState::load_with_default_open(ui.ctx(), id, false)
            .show_header(ui, |ui| {
                ui.label(RichText::new(&n.name).strong());
                ui.label(RichText::new(n.ty).weak());
                if let Some(o) = n.outputs.first()
                    && let Some(v) = st.scalars.get(&o.port.to_string())
                {
                    value_meter(ui, *v);
                }
                if let Some(tex) = st.thumbnails.get(&n.name) {
                    ui.add(egui::Image::new((*tex, vec2(24.0, 24.0))));
                }
                // One click to the scope of its (first) audio output; every audio port has
                // its own toggle in the body.
                if let Some(p) = n.outputs.iter().find(|p| p.kind == Kind::Audio) {
                    scope_toggle(ui, ed, p, true);
                }
                if !n.core && ui.small_button("remove").clicked() {
                    // Its connections fade out over the editor's morph time, then it goes.
                    edits.push(Edit::RemoveNeuron {
                        name: n.name.clone(),
                        morph: ed.morph,
                    });
                }
            })
            .body(|ui| {
                for p in &n.inputs {
                    ui.horizontal(|ui| {
                        ui.label(format!("in  {}: {}", p.port.port, p.kind));
                        scope_toggle(ui, ed, p, false);
                    });
                }
                for p in &n.outputs {
                    ui.horizontal(|ui| {
                        ui.label(format!("out {}: {}", p.port.port, p.kind));
                        if let Some(v) = st.scalars.get(&p.port.to_string()) {
                            value_meter(ui, *v);
                        }
                        scope_toggle(ui, ed, p, true);
                    });
                }
                if let Some(tex) = st.thumbnails.get(&n.name) {
                    ui.add(egui::Image::new((*tex, vec2(96.0, 96.0))));
                }
                if let Some((_, k)) = st.meters.nonfinite.iter().find(|(m, _)| m == &n.name) {
                    ui.colored_label(Color32::YELLOW, format!("{k} NaN/Inf replaced by 0"));
                }
            });
    }
    edits
}

/// "scope" beside an audio port: shows its scope; clicked again, hides it.
fn scope_toggle(ui: &mut Ui, ed: &mut Editor, p: &PortInfo, output: bool) {
    if p.kind != Kind::Audio {
        return;
    }
    let me = ScopeSource::Port {
        port: p.port.clone(),
        output,
    };
    let on = ed.scope.as_ref() == Some(&me);
    if ui
        .selectable_label(on, "scope")
        .on_hover_text(format!("oscilloscope and spectrum of {me}"))
        .clicked()
    {
        ed.scope = if on { None } else { Some(me) };
    }
}

/// A number and a tiny bar (|v| clamped to 1, red when negative).
fn value_meter(ui: &mut Ui, v: f32) {
    ui.label(RichText::new(format!("{v:+.3}")).monospace());
    let (rect, _) = ui.allocate_exact_size(vec2(40.0, 8.0), Sense::hover());
    let p = ui.painter();
    p.rect_filled(rect, 1.0, Color32::from_gray(40));
    let f = if v.is_finite() { v.abs().min(1.0) } else { 0.0 };
    let bar = Rect::from_min_size(rect.min, vec2(rect.width() * f, rect.height()));
    let c = if v < 0.0 {
        Color32::from_rgb(90, 140, 230)
    } else {
        Color32::from_rgb(230, 120, 60)
    };
    p.rect_filled(bar, 1.0, c);
}

/// Type picker, name, kind and settings; "Add" makes an `add_neuron` request.
pub fn add_neuron(ui: &mut Ui, st: &PanelState, ed: &mut Editor) -> Vec<Edit> {
    let mut edits = Vec::new();
    egui::ComboBox::from_label("type")
        .selected_text(ed.new_type.clone())
        .show_ui(ui, |ui| {
            for t in TYPES.iter().filter(|t| !matches!(t.name, "self" | "edits")) {
                ui.selectable_value(&mut ed.new_type, t.name.to_string(), t.name)
                    .on_hover_text(t.doc);
            }
        });
    let info = type_info(&ed.new_type);
    if let Some(info) = info {
        ui.label(RichText::new(info.doc).weak());
        let kinds: &[&str] = match info.kinds {
            Kinds::None => &[],
            Kinds::Dense => &["scalar", "audio", "image"],
            Kinds::All => &["scalar", "audio", "image", "matrix"],
        };
        if !kinds.is_empty() {
            if !kinds.contains(&ed.new_kind.as_str()) {
                ed.new_kind = "scalar".into();
            }
            egui::ComboBox::from_label("kind")
                .selected_text(ed.new_kind.clone())
                .show_ui(ui, |ui| {
                    for k in kinds {
                        ui.selectable_value(&mut ed.new_kind, k.to_string(), *k);
                    }
                });
        }
    }
    ui.horizontal(|ui| {
        let l = ui.label("name");
        ui.add(egui::TextEdit::singleline(&mut ed.new_name).desired_width(120.0))
            .labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        let l = ui.label("settings");
        ui.add(
            egui::TextEdit::singleline(&mut ed.new_settings)
                .hint_text(r#"{"rows": 64, "cols": 64}"#)
                .desired_width(160.0),
        )
        .labelled_by(l.id);
    });
    if ui.button("Add neuron").clicked() {
        match new_neuron_request(st, ed) {
            Ok(e) => {
                ed.problem = None;
                edits.push(e);
            }
            Err(p) => ed.problem = Some(p),
        }
    }
    if let Some(p) = &ed.problem {
        ui.colored_label(Color32::from_rgb(240, 120, 100), p);
    }
    edits
}

/// Builds the `add_neuron` request from the form, or says what is wrong with it.
pub fn new_neuron_request(st: &PanelState, ed: &Editor) -> Result<Edit, String> {
    let name = ed.new_name.trim();
    check_name(name)?;
    if st.neurons.iter().any(|n| n.name == name) {
        return Err(format!("a neuron named {name:?} already exists"));
    }
    let info = type_info(&ed.new_type).ok_or_else(|| format!("unknown type {:?}", ed.new_type))?;
    let mut spec = NeuronSpec::new(info.name);
    let text = ed.new_settings.trim();
    if !text.is_empty() {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("settings: {e}"))?;
        let serde_json::Value::Object(map) = v else {
            return Err("settings: expected a JSON object such as {\"rows\": 64}".into());
        };
        spec.settings = map;
    }
    if info.kinds != Kinds::None && !spec.settings.contains_key("kind") {
        spec = spec.with("kind", ed.new_kind.clone());
    }
    Ok(Edit::AddNeuron {
        name: name.to_string(),
        neuron: spec,
        weights: Default::default(),
    })
}

/// Engine tick time, frames/s, audio buffer fill, underruns, NaN/Inf by neuron.
/// Label of the hot-reload override checkbox (tests click it).
pub const MORPH_OVERRIDE_LABEL: &str = "override the file's morph_time";

/// How a saved patch file reaches the running network: its weight changes are spread over the
/// file's `morph_time`, or over the time set here (0 = at once).
pub fn hot_reload(ui: &mut Ui, ed: &mut Editor) {
    let mut on = ed.reload_morph.is_some();
    if ui.checkbox(&mut on, MORPH_OVERRIDE_LABEL).changed() {
        ed.reload_morph = on.then_some(ed.reload_morph.unwrap_or(1.0));
    }
    if let Some(m) = ed.reload_morph.as_mut() {
        ui.horizontal(|ui| {
            ui.add(
                egui::DragValue::new(m)
                    .range(0.0..=60.0)
                    .speed(0.05)
                    .suffix(" s"),
            );
            ui.label("morph time for reloads (0 = at once)");
        });
    } else {
        ui.label("reloads use the file's morph_time");
    }
}

/// Engine tick cost against the budget: mean and max over the last second on the engine
/// thread's CPU clock (the last tick's wall time until a second has passed).
fn engine_meter(ui: &mut Ui, m: &super::state::Meters) {
    let b = m.tick_budget;
    let pct = |x: f64| if b > 0.0 { x / b * 100.0 } else { 0.0 };
    let l = &m.load;
    let (mean, text) = if l.ticks > 0 {
        let clock = if l.thread_clock { "cpu" } else { "wall" };
        (
            l.cpu_mean,
            format!(
                "{clock} mean {:.2} ms ({:.0}%), max {:.2} ms ({:.0}%) of {:.2} ms",
                l.cpu_mean * 1e3,
                pct(l.cpu_mean),
                l.cpu_max * 1e3,
                pct(l.cpu_max),
                b * 1e3
            ),
        )
    } else {
        (
            m.tick_seconds,
            format!(
                "{:.2} ms ({:.0}% of {:.2} ms)",
                m.tick_seconds * 1e3,
                pct(m.tick_seconds),
                b * 1e3
            ),
        )
    };
    ui.add(
        egui::ProgressBar::new((pct(mean) / 100.0).clamp(0.0, 1.0) as f32)
            .desired_width(220.0)
            .text(text),
    );
}

pub fn meters(ui: &mut Ui, st: &PanelState) {
    let m = &st.meters;
    egui::Grid::new("meters").num_columns(2).show(ui, |ui| {
        ui.label("tick");
        ui.label(format!("{}", m.tick));
        ui.end_row();
        ui.label("engine tick");
        engine_meter(ui, m);
        ui.end_row();
        ui.label("window frame");
        ui.label(format!(
            "{:.1} frames/s, longest {:.1} ms",
            m.frames_per_second,
            m.frame_max_seconds * 1e3
        ));
        ui.end_row();
        ui.label("audio");
        match &m.audio {
            Some(a) if a.capacity > 0 => {
                let f = a.fill as f32 / a.capacity.max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(f)
                        .desired_width(220.0)
                        .text(format!("buffer {} / {}", a.fill, a.capacity)),
                );
                ui.end_row();
                ui.label("underruns");
                ui.label(format!(
                    "{} (device xruns {}){}",
                    a.underruns,
                    a.device_xruns,
                    if a.muted { "   MUTED (Ctrl+.)" } else { "" }
                ));
                ui.end_row();
                ui.label("device");
                ui.label(&a.device);
            }
            Some(a) => {
                ui.label(if a.muted {
                    "null sink (no audio device), MUTED"
                } else {
                    "null sink (no audio device)"
                });
            }
            None => {
                ui.label("(no engine yet)");
            }
        }
        ui.end_row();
        if !m.backend.is_empty() {
            ui.label("backend");
            ui.label(&m.backend);
            ui.end_row();
        }
        ui.label("NaN/Inf");
        if m.nonfinite.is_empty() {
            ui.label("none");
        } else {
            ui.vertical(|ui| {
                for (n, k) in &m.nonfinite {
                    ui.colored_label(Color32::YELLOW, format!("{n}: {k}"));
                }
            });
        }
        ui.end_row();
    });
}

/// The message log, newest at the bottom.
pub fn log(ui: &mut Ui, st: &PanelState) {
    egui::ScrollArea::vertical()
        .id_salt("log")
        .max_height(160.0)
        .stick_to_bottom(true)
        .show(ui, |ui| {
            if st.log.is_empty() {
                ui.label(RichText::new("(no messages)").weak());
            }
            for l in &st.log {
                let c = match l.level {
                    Level::Error => Color32::from_rgb(240, 120, 100),
                    Level::Notice => ui.visuals().text_color(),
                };
                ui.colored_label(c, &l.text);
            }
        });
}
