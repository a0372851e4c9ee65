//! What the code pane adds to a window frame with a 300-line buffer (issue 9 aims under 2 ms):
//! the same egui frame (layout + tessellation) is timed with the pane and without it, on the
//! same machine in the same run. Run: `cargo bench --bench editor`.

use dmm_synth::neurons::AssetDirs;
use dmm_synth::patch::text::parse_text;
use dmm_synth::ui::PanelState;
use dmm_synth::ui::editor::view::code_pane;
use dmm_synth::ui::editor::{CodeEditor, Running};
use std::time::Instant;

/// 300 lines: a settings line, 100 declarations, 100 rows, comments and blank lines.
fn buffer() -> String {
    let mut s = String::from("# a 300-line patch for the editor's frame time\n");
    s.push_str("settings tick_rate=375 sample_rate=48000 image=64x64 morph=0.5\n");
    s.push_str("k : one   # the constant\n");
    for i in 0..100 {
        s.push_str(&format!("n{i:02} : sin   # oscillator {i}\n"));
    }
    s.push('\n');
    for i in 0..100 {
        let prev = if i == 0 { 99 } else { i - 1 };
        s.push_str(&format!(
            "n{i:02}.x <- 0.5 n{prev:02} + 0.25 k   # ring {i}\n"
        ));
    }
    while s.lines().count() < 300 {
        s.push_str("# notes\n");
    }
    s
}

/// Mean seconds per frame over `n` frames of a 1280×800 window.
fn frame_time(ctx: &egui::Context, n: usize, mut draw: impl FnMut(&mut egui::Ui)) -> f64 {
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        ..Default::default()
    };
    // Warm up: fonts, galley caches.
    for _ in 0..5 {
        let mut out = ctx.run_ui(input(), |ui| {
            egui::CentralPanel::default().show(ui, |ui| draw(ui));
        });
        // No renderer takes the font atlas uploads here (epaint asserts they are handled).
        out.textures_delta.clear();
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    }
    let t = Instant::now();
    for _ in 0..n {
        let mut out = ctx.run_ui(input(), |ui| {
            egui::CentralPanel::default().show(ui, |ui| draw(ui));
        });
        // No renderer takes the font atlas uploads here (epaint asserts they are handled).
        out.textures_delta.clear();
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    }
    t.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let text = buffer();
    assert_eq!(text.lines().count(), 300);
    let patch =
        parse_text(&text, "bench.dmm", &AssetDirs::default()).unwrap_or_else(|e| panic!("{e}"));
    let w = patch.initial_w();
    let mut st = PanelState::from_network(&patch.network, &w);
    // Live values on every declaration line, as a running patch shows them.
    for (i, n) in patch.network.neurons.iter().enumerate() {
        st.scalars
            .insert(format!("{}.out", n.name), i as f32 * 0.01);
    }
    let run = Running {
        net: &patch.network,
        w: &w,
        morph: 0.5,
    };
    let mut ed = CodeEditor::new(text.clone());
    ed.focus = false;
    let n = 200;
    let ctx = egui::Context::default();
    let bare = frame_time(&ctx, n, |ui| {
        ui.label("picture");
    });
    let ctx = egui::Context::default();
    let with = frame_time(&ctx, n, |ui| {
        ui.label("picture");
        let _ = code_pane(ui, &mut ed, &st, Some(&run));
    });
    println!(
        "editor frame, 300-line buffer: {:.3} ms with the pane, {:.3} ms without: the pane adds {:.3} ms (aim < 2 ms)",
        with * 1e3,
        bare * 1e3,
        (with - bare) * 1e3
    );
    println!(
        "pane's own measurement of its last frame: {:.3} ms",
        ed.frame_seconds * 1e3
    );
}
