//! What the code pane paints over (and, for the backdrop, under) the laid-out text: line
//! numbers, a dark box per line, flashes, live values, errors and the type hover.

use super::complete;
use super::region::byte_of_char;
use super::sync::{decl_name, live_values};
use super::view::DIM;
use super::{CodeEditor, FLASH_SECONDS};
use crate::neurons::type_info;
use crate::patch::text::pick::{self, WeightAt};
use crate::ui::state::PanelState;
use egui::text::CCursor;
use egui::{Align2, Color32, FontId, Rect, Stroke, Ui};

const ERROR: Color32 = super::view::ERROR;

/// Accessible label of an error message drawn beside its line.
pub fn error_label(line: usize, msg: &str) -> String {
    format!("line {line}: {msg}")
}

/// What is painted over (and, for the backdrop, under) the laid-out text.
pub(super) struct Overlay {
    pub(super) painter: egui::Painter,
    pub(super) galley: std::sync::Arc<egui::Galley>,
    pub(super) origin: egui::Pos2,
    pub(super) clip: Rect,
    pub(super) font: FontId,
    pub(super) char_w: f32,
    pub(super) gutter: f32,
    /// Dark boxes behind the text, values and messages (painted under the text).
    pub(super) boxes: Vec<egui::Shape>,
}

impl Overlay {
    /// Screen rectangle of 0-based row `i` (one row per line: the text does not wrap).
    fn row(&self, i: usize) -> Option<Rect> {
        self.galley
            .rows
            .get(i)
            .map(|r| r.rect().translate(self.origin.to_vec2()))
    }

    fn visible(&self, r: Rect) -> bool {
        r.max.y >= self.clip.min.y && r.min.y <= self.clip.max.y
    }

    fn backdrop(&mut self, r: Rect, alpha: u8) {
        self.boxes.push(egui::Shape::rect_filled(
            r,
            2.0,
            Color32::from_black_alpha(alpha),
        ));
    }

    /// Evaluated lines, fading out.
    pub(super) fn flashes(&self, ed: &CodeEditor, now: f64) {
        for f in &ed.flashes {
            let alpha = (1.0 - (now - f.since) / FLASH_SECONDS).clamp(0.0, 1.0);
            let first = self.row(f.first_line.saturating_sub(1));
            if let (Some(a), Some(b)) = (first, self.row(f.last_line.saturating_sub(1))) {
                let r = Rect::from_min_max(
                    egui::pos2(self.clip.min.x, a.min.y),
                    egui::pos2(self.clip.max.x, b.max.y),
                );
                let c = Color32::from_white_alpha((70.0 * alpha) as u8);
                self.painter.rect_filled(r, 2.0, c);
            }
        }
    }

    /// Line numbers, a backdrop per line, and live values at the end of declaration lines.
    pub(super) fn lines(&mut self, text_lines: &[&str], ed: &CodeEditor, st: &PanelState) {
        for (i, line) in text_lines.iter().enumerate() {
            let Some(r) = self.row(i) else { break };
            if !self.visible(r) {
                continue;
            }
            let right = if line.trim().is_empty() {
                self.origin.x
            } else {
                r.max.x + 4.0
            };
            let left = self.origin.x - self.gutter;
            self.backdrop(
                Rect::from_min_max(egui::pos2(left, r.min.y), egui::pos2(right, r.max.y)),
                170,
            );
            let at = egui::pos2(self.origin.x - 8.0, r.min.y);
            let n = (i + 1).to_string();
            self.painter
                .text(at, Align2::RIGHT_TOP, n, self.font.clone(), DIM);
            let has_error = ed.errors.iter().any(|e| e.line == i + 1);
            if !has_error && let Some(v) = decl_name(line).and_then(|n| live_values(st, n)) {
                let at = egui::pos2(r.max.x + 3.0 * self.char_w, r.min.y);
                let t = self
                    .painter
                    .text(at, Align2::LEFT_TOP, v, self.font.clone(), DIM);
                self.backdrop(t.expand(2.0), 170);
            }
        }
    }

    /// Each error underlined at its place, its message beside the line.
    pub(super) fn errors(&mut self, ui: &Ui, text_lines: &[&str], ed: &CodeEditor, id: egui::Id) {
        for e in &ed.errors {
            let Some(r) = self.row(e.line.saturating_sub(1)) else {
                continue;
            };
            let line = text_lines
                .get(e.line.saturating_sub(1))
                .copied()
                .unwrap_or("");
            let start = line_start_char(text_lines, e.line) + e.col.saturating_sub(1);
            let len = if e.len > 0 {
                e.len
            } else {
                word_len(line, e.col)
            };
            let x = |c: usize| self.galley.pos_from_cursor(CCursor::new(c)).min.x + self.origin.x;
            let (a, b) = (x(start), x(start + len));
            let stroke = Stroke::new(2.0, ERROR);
            self.painter
                .hline(a..=b.max(a + self.char_w), r.max.y - 1.0, stroke);
            // The message may run past the pane over the picture: it is drawn unclipped (but
            // only for a visible line), on its own dark box.
            if !self.visible(r) {
                continue;
            }
            let at = egui::pos2(r.max.x + 3.0 * self.char_w, r.min.y);
            let free = ui.ctx().layer_painter(ui.layer_id());
            let galley = free.layout_no_wrap(e.msg.clone(), self.font.clone(), ERROR);
            let msg = Rect::from_min_size(at, galley.size());
            free.rect_filled(msg.expand(2.0), 2.0, Color32::from_black_alpha(220));
            free.galley(at, galley, ERROR);
            // The message as a node of its own, so it can be found (and read out) at its line.
            let node = ui.interact(msg, id.with(("error", e.line, e.col)), egui::Sense::hover());
            let label = error_label(e.line, &e.msg);
            node.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        }
    }

    /// The hover text for the word under `pos` (a type's row of the neuron table).
    pub(super) fn hover(&self, pos: egui::Pos2, text_lines: &[&str]) -> Option<String> {
        let c = self.galley.cursor_from_pos(pos - self.origin).index.0;
        let line_no = super::region::line_of_char(&text_lines.join("\n"), c);
        let line = text_lines
            .get(line_no.saturating_sub(1))
            .copied()
            .unwrap_or("");
        let in_line = c.saturating_sub(line_start_char(text_lines, line_no));
        complete::hover(line, byte_of_char(line, in_line))
    }
}

impl Overlay {
    /// The weight whose coefficient is under `pos` (a right click there learns it).
    pub(super) fn weight_at(
        &self,
        pos: egui::Pos2,
        text_lines: &[&str],
        st: &PanelState,
    ) -> Option<WeightAt> {
        let c = self.galley.cursor_from_pos(pos - self.origin).index.0;
        let line_no = super::region::line_of_char(&text_lines.join("\n"), c);
        let line = text_lines.get(line_no.checked_sub(1)?).copied()?;
        let in_line = c.saturating_sub(line_start_char(text_lines, line_no));
        let type_of = |name: &str| {
            st.neurons
                .iter()
                .find(|n| n.name == name)
                .and_then(|n| type_info(n.ty))
        };
        pick::weight_at(line, byte_of_char(line, in_line), &type_of)
    }
}

/// Char index where 1-based line `line` starts.
fn line_start_char(lines: &[&str], line: usize) -> usize {
    lines
        .iter()
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum()
}

/// Length in chars of the word at 1-based char column `col` (at least 1).
fn word_len(line: &str, col: usize) -> usize {
    line.chars()
        .skip(col.saturating_sub(1))
        .take_while(|c| !c.is_whitespace())
        .count()
        .max(1)
}
