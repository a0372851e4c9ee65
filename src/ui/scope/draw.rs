//! Drawing the scope with egui: a header of controls, the oscilloscope above, the spectrum
//! below. Plain functions over a slice of samples, so tests can draw them headless.

use super::signal::{auto_scale, envelope, freq_x, peak, peak_hz, spectrum_columns, trigger};
use super::{Gain, HISTORY, ScopeAction, ScopeSource, ScopeView};
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Ui, pos2, vec2};

/// Accessible label of the oscilloscope (tests find it by this prefix; the signal follows).
pub const OSCILLOSCOPE_LABEL: &str = "oscilloscope";
/// Accessible label of the spectrum (tests find it by this prefix; the signal follows).
pub const SPECTRUM_LABEL: &str = "spectrum";

const BACKGROUND: Color32 = Color32::from_gray(14);
const GRID: Color32 = Color32::from_gray(48);
const AXIS: Color32 = Color32::from_gray(90);
const TEXT: Color32 = Color32::from_gray(170);
const TRACE: Color32 = Color32::from_rgb(90, 235, 130);
const SPECTRUM: Color32 = Color32::from_rgb(250, 170, 60);
/// The spectrum's dB range, top and bottom.
const DB_TOP: f32 = 0.0;
const DB_BOTTOM: f32 = -100.0;
/// Frequencies labelled on the spectrum's axis, Hz.
const FREQ_LABELS: [f32; 10] = [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 10e3, 20e3];

/// The scope of `samples` (the newest last) into the whole of `ui`'s area. Returns what the
/// performer clicked: another signal, or close (only offered when `closable`).
pub fn scope_ui(
    ui: &mut Ui,
    view: &mut ScopeView,
    source: &ScopeSource,
    samples: &[f32],
    sample_rate: f32,
    closable: bool,
) -> Option<ScopeAction> {
    let action = header(ui, view, source, closable);
    let area = ui.available_rect_before_wrap();
    let split = area.top() + area.height() * 0.55;
    let osc = Rect::from_min_max(area.min, pos2(area.right(), split - 4.0));
    let spec = Rect::from_min_max(pos2(area.left(), split + 4.0), area.max);
    oscilloscope(ui, osc, view, source, samples, sample_rate);
    let sr = if sample_rate.is_finite() && sample_rate > 0.0 {
        sample_rate
    } else {
        48_000.0
    };
    let (mags, bin_hz) = view.spectrum(samples, sr);
    spectrum(ui, spec, source, mags, bin_hz, sr / 2.0);
    action
}

/// The controls above the traces.
fn header(
    ui: &mut Ui,
    view: &mut ScopeView,
    source: &ScopeSource,
    closable: bool,
) -> Option<ScopeAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(
            egui::RichText::new(format!("scope: {source}"))
                .strong()
                .color(TEXT),
        );
        let mut auto = view.gain == Gain::Auto;
        if ui.checkbox(&mut auto, "auto gain").changed() {
            view.gain = if auto { Gain::Auto } else { Gain::Fixed(1.0) };
        }
        if let Gain::Fixed(g) = &mut view.gain {
            ui.add(
                egui::DragValue::new(g)
                    .range(0.01..=1000.0)
                    .speed(0.05)
                    .prefix("gain ×"),
            );
        }
        ui.add(
            egui::Slider::new(&mut view.span_ms, 1.0..=40.0)
                .logarithmic(true)
                .suffix(" ms")
                .text("span"),
        );
        if *source != ScopeSource::AudioOut && ui.button("audio_out").clicked() {
            action = Some(ScopeAction::Show(ScopeSource::AudioOut));
        }
        if closable && ui.button("close scope").clicked() {
            action = Some(ScopeAction::Close);
        }
    });
    action
}

/// Names a painted area for accessibility (and tests).
fn label_area(ui: &mut Ui, rect: Rect, label: String) {
    let resp = ui.allocate_rect(rect, Sense::hover());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label.clone()));
}

fn oscilloscope(
    ui: &mut Ui,
    rect: Rect,
    view: &ScopeView,
    source: &ScopeSource,
    samples: &[f32],
    sample_rate: f32,
) {
    label_area(ui, rect, format!("{OSCILLOSCOPE_LABEL} {source}"));
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, BACKGROUND);
    let mid = rect.center().y;
    let half = rect.height() / 2.0 - 6.0;
    for d in 1..10 {
        let x = rect.left() + rect.width() * d as f32 / 10.0;
        p.line_segment([pos2(x, rect.top()), pos2(x, rect.bottom())], (1.0, GRID));
    }
    for y in [mid - half / 2.0, mid + half / 2.0, mid - half, mid + half] {
        p.line_segment([pos2(rect.left(), y), pos2(rect.right(), y)], (1.0, GRID));
    }
    p.line_segment(
        [pos2(rect.left(), mid), pos2(rect.right(), mid)],
        (1.0, AXIS),
    );
    let font = FontId::monospace(11.0);
    if samples.len() < 2 {
        p.text(
            rect.center(),
            Align2::CENTER_CENTER,
            "waiting for samples",
            font,
            TEXT,
        );
        return;
    }
    let want = (view.span_ms / 1000.0 * sample_rate).round() as usize;
    let width = want.clamp(8, HISTORY / 2).min(samples.len() - 1);
    // A little hysteresis so noise around zero does not retrigger.
    let start = trigger(samples, width, 0.02 * peak(samples));
    let shown_from = start.unwrap_or((samples.len() - 1 - width) as f32);
    let end = (shown_from as usize + width + 2).min(samples.len());
    let window = &samples[shown_from as usize..end];
    let scale = match view.gain {
        Gain::Auto => auto_scale(window),
        Gain::Fixed(g) if g.is_finite() && g > 0.0 => g,
        Gain::Fixed(_) => 1.0,
    };
    let cols = (rect.width().max(2.0)) as usize;
    let env = envelope(samples, shown_from, width as f32, cols);
    let y = |v: f32| (mid - v * scale * half).clamp(rect.top(), rect.bottom());
    let mut points: Vec<Pos2> = Vec::with_capacity(cols * 2);
    for (c, (lo, hi)) in env.iter().enumerate() {
        let x = rect.left() + c as f32 + 0.5;
        // Alternating ends fill the range a column covers; a slow signal is a plain line.
        if c % 2 == 0 {
            points.extend([pos2(x, y(*lo)), pos2(x, y(*hi))]);
        } else {
            points.extend([pos2(x, y(*hi)), pos2(x, y(*lo))]);
        }
    }
    p.add(Shape::line(points, Stroke::new(1.5, TRACE)));
    let ms = width as f32 / sample_rate * 1000.0;
    let corner = rect.left_top() + vec2(6.0, 4.0);
    let trig = if start.is_some() { "trig ↑0" } else { "free" };
    let info = format!("{ms:.1} ms  ±{:.3} full scale  {trig}", 1.0 / scale);
    p.text(corner, Align2::LEFT_TOP, info, font, TEXT);
}

fn spectrum(ui: &mut Ui, rect: Rect, source: &ScopeSource, mags: &[f32], bin_hz: f32, nyq: f32) {
    label_area(ui, rect, format!("{SPECTRUM_LABEL} {source}"));
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, BACKGROUND);
    let font = FontId::monospace(11.0);
    let hi = nyq.min(20_000.0);
    let lo = 20.0f32.min(hi / 10.0);
    // Room for the frequency labels below and the dB labels on the left.
    let plot = Rect::from_min_max(rect.min + vec2(34.0, 4.0), rect.max - vec2(4.0, 16.0));
    let y = |db: f32| {
        let t = ((db - DB_BOTTOM) / (DB_TOP - DB_BOTTOM)).clamp(0.0, 1.0);
        plot.bottom() - t * plot.height()
    };
    for db in (DB_BOTTOM as i32..=DB_TOP as i32).step_by(20) {
        let yy = y(db as f32);
        p.line_segment([pos2(plot.left(), yy), pos2(plot.right(), yy)], (1.0, GRID));
        let at = pos2(plot.left() - 4.0, yy);
        p.text(
            at,
            Align2::RIGHT_CENTER,
            format!("{db}"),
            font.clone(),
            TEXT,
        );
    }
    for f in FREQ_LABELS.into_iter().filter(|&f| f >= lo && f <= hi) {
        let x = plot.left() + freq_x(f, lo, hi) * plot.width();
        p.line_segment([pos2(x, plot.top()), pos2(x, plot.bottom())], (1.0, GRID));
        let text = if f >= 1000.0 {
            format!("{}k", f / 1000.0)
        } else {
            format!("{f}")
        };
        let at = pos2(x, plot.bottom() + 2.0);
        p.text(at, Align2::CENTER_TOP, text, font.clone(), TEXT);
    }
    let cols = plot.width().max(2.0) as usize;
    let line: Vec<Pos2> = spectrum_columns(mags, bin_hz, lo, hi, cols)
        .into_iter()
        .enumerate()
        .map(|(c, db)| pos2(plot.left() + c as f32 + 0.5, y(db)))
        .collect();
    p.add(Shape::line(line, Stroke::new(1.5, SPECTRUM)));
    let info = match peak_hz(mags, bin_hz) {
        Some((hz, db)) => format!("peak {hz:.0} Hz {db:.1} dB"),
        None => "silent".into(),
    };
    let corner = pos2(plot.right() - 6.0, plot.top() + 2.0);
    p.text(corner, Align2::RIGHT_TOP, info, font, TEXT);
}
