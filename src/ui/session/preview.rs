//! Where the picture is: the display neurons' pictures, or the scope (`audio_out` when the
//! patch has no display neuron, or the audio port clicked in the neuron list).

use super::Session;
use crate::engine::machine::Level;
use crate::ui::scope::{ScopeAction, ScopeSource};

impl Session {
    /// The signal the scope shows: the port clicked in the neuron list, else `audio_out` when
    /// the running network has no display neuron, else none.
    pub(super) fn scope_wanted(&mut self) -> Option<ScopeSource> {
        if let Some(ScopeSource::Port { port, output }) = &self.ed.scope {
            let ports = if *output {
                &self.st.outputs
            } else {
                &self.st.inputs
            };
            let there = ports
                .iter()
                .any(|p| &p.port == port && p.kind == crate::stream::Kind::Audio);
            if self.latest.is_some() && !there {
                let line = format!("scope: {port} is gone; back to audio_out");
                self.st.push_log(Level::Notice, line);
                self.ed.scope = None;
            }
        }
        if self.ed.scope.is_some() {
            return self.ed.scope.clone();
        }
        let snap = self.latest.as_ref()?;
        snap.net
            .displays
            .is_empty()
            .then_some(ScopeSource::AudioOut)
    }

    /// Where the picture is: the displays, the scope instead of them when there are none, or
    /// the scope over their lower part when a port was clicked.
    pub(super) fn preview_ui(&mut self, ui: &mut egui::Ui) {
        let Some(snap) = self
            .latest
            .clone()
            .filter(|_| self.scope.source().is_some())
        else {
            pictures_ui(ui, &self.pictures);
            return;
        };
        let sr = snap.net.settings.sample_rate as f32;
        let action = if snap.net.displays.is_empty() {
            // Without a picture the way back is the scope's "audio_out" button.
            self.scope.ui(ui, sr, false)
        } else {
            pictures_ui(ui, &self.pictures);
            let area = ui.max_rect();
            let top = area.bottom() - area.height() * 0.45;
            let rect = egui::Rect::from_min_max(egui::pos2(area.left(), top), area.max);
            ui.painter()
                .rect_filled(rect, 0.0, egui::Color32::from_black_alpha(225));
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect.shrink(4.0)));
            self.scope.ui(&mut child, sr, true)
        };
        match action {
            Some(ScopeAction::Show(s)) => self.ed.scope = Some(s),
            Some(ScopeAction::Close) => self.ed.scope = None,
            None => {}
        }
    }
}

/// Every display neuron's picture, scaled to fit its share of the area, aspect kept, centred.
pub(crate) fn pictures_ui(ui: &mut egui::Ui, pictures: &[(String, egui::TextureHandle)]) {
    let area = ui.max_rect();
    if pictures.is_empty() {
        ui.centered_and_justified(|ui| {
            ui.label("no display neuron (add one of type \"display\")");
        });
        return;
    }
    let n = pictures.len();
    let cols = (n as f32).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let cell = egui::vec2(area.width() / cols as f32, area.height() / rows as f32);
    for (i, (name, tex)) in pictures.iter().enumerate() {
        let origin = area.min + egui::vec2((i % cols) as f32 * cell.x, (i / cols) as f32 * cell.y);
        let [w, h] = tex.size();
        let scale = (cell.x / w.max(1) as f32).min(cell.y / h.max(1) as f32);
        let size = egui::vec2(w as f32 * scale, h as f32 * scale);
        let rect = egui::Rect::from_center_size(origin + cell / 2.0, size);
        let resp = ui.allocate_rect(rect, egui::Sense::hover());
        resp.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, format!("display {name}"))
        });
        ui.painter().image(
            tex.id(),
            rect,
            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            egui::Color32::WHITE,
        );
    }
}
