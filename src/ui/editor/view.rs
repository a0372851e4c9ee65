//! Drawing the code pane with egui: a translucent pane over the picture (Hydra-style) with line
//! numbers, syntax colours from `highlight`, evaluated lines flashing, errors underlined with
//! their message beside the line, live scalar values dimmed at the end of declaration lines,
//! completion and type hover. Everything it decides is in the plain functions of the sibling
//! modules; what the performer asks for comes back as `Request`s for the session to send.

use super::complete::{self, is_word_char};
use super::overlay::Overlay;
pub use super::overlay::error_label;
use super::popup;
use super::region::{byte_of_char, lines};
use super::{CodeEditor, Request, Running, Scope};
use crate::patch::text::{TokenClass, highlight};
use crate::ui::state::PanelState;
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId, Key, Modifiers, RichText, Suggestion, TextEdit, TextStyle, Ui};
use std::time::Instant;

/// Accessible label of the code text (tests find it by this name).
pub const CODE_LABEL: &str = "patch code";

pub(super) const ERROR: Color32 = Color32::from_rgb(255, 110, 100);
pub(super) const DIM: Color32 = Color32::from_rgb(130, 140, 150);

fn colour(c: TokenClass) -> Color32 {
    match c {
        TokenClass::Name => Color32::from_rgb(230, 230, 230),
        TokenClass::Type => Color32::from_rgb(120, 200, 255),
        TokenClass::Kind => Color32::from_rgb(190, 160, 255),
        TokenClass::Port => Color32::from_rgb(160, 230, 190),
        TokenClass::Number => Color32::from_rgb(255, 200, 110),
        TokenClass::Keyword => Color32::from_rgb(255, 140, 200),
        TokenClass::Operator => Color32::from_rgb(170, 170, 170),
        TokenClass::Comment => Color32::from_rgb(120, 150, 120),
        TokenClass::Morph => Color32::from_rgb(120, 220, 230),
        TokenClass::Error => ERROR,
    }
}

/// The buffer as coloured text, one section per token (no wrapping: one row per line).
pub fn layout_job(text: &str, font: &FontId) -> LayoutJob {
    let mut job = LayoutJob::default();
    let plain = TextFormat::simple(font.clone(), Color32::from_gray(225));
    let mut first = true;
    for line in text.split('\n') {
        if !first {
            job.append("\n", 0.0, plain.clone());
        }
        first = false;
        let mut at = 0;
        for (r, class) in highlight(line) {
            if r.start < at
                || r.end > line.len()
                || !line.is_char_boundary(r.start)
                || !line.is_char_boundary(r.end)
            {
                continue; // A range we cannot use; its text stays plain.
            }
            if r.start > at {
                job.append(&line[at..r.start], 0.0, plain.clone());
            }
            job.append(
                &line[r.clone()],
                0.0,
                TextFormat::simple(font.clone(), colour(class)),
            );
            at = r.end;
        }
        if at < line.len() {
            job.append(&line[at..], 0.0, plain.clone());
        }
    }
    job.wrap.max_width = f32::INFINITY;
    job
}

/// Which evaluation key was pressed this frame (taken before the text sees Enter).
fn eval_key(ui: &Ui) -> Option<Scope> {
    ui.input_mut(|i| {
        if i.consume_key(Modifiers::COMMAND | Modifiers::SHIFT, Key::Enter) {
            Some(Scope::All)
        } else if i.consume_key(Modifiers::COMMAND, Key::Enter) {
            Some(Scope::Line)
        } else if i.consume_key(Modifiers::ALT, Key::Enter) {
            Some(Scope::Paragraph)
        } else {
            None
        }
    })
}

/// Rows of text one page move goes (the visible rows less one, at least one).
fn page_rows(ui: &Ui, view_h: f32) -> usize {
    let row = ui.text_style_height(&TextStyle::Monospace).max(1.0);
    ((view_h / row) as usize).saturating_sub(1).max(1)
}

/// PageUp / PageDown (with or without Shift) taken from this frame's input: (-1 or 1, shift).
fn page_key(ui: &Ui) -> Option<(isize, bool)> {
    ui.input_mut(|i| {
        for (m, shift) in [(Modifiers::NONE, false), (Modifiers::SHIFT, true)] {
            if i.consume_key(m, Key::PageUp) {
                return Some((-1, shift));
            }
            if i.consume_key(m, Key::PageDown) {
                return Some((1, shift));
            }
        }
        None
    })
}

/// Moves the text's cursor `rows` lines (keeping its column where the line is long enough;
/// Shift keeps the anchor, extending the selection). The pane scrolls to it in the same frame.
fn page_move(ctx: &egui::Context, id: egui::Id, text: &str, rows: isize, shift: bool) {
    use egui::text::{CCursor, CCursorRange};
    let Some(mut state) = TextEdit::load_state(ctx, id) else {
        return;
    };
    let range = state.cursor.char_range().unwrap_or_default();
    let at = target_char(text, range.primary.index.0, rows);
    let new = if shift {
        CCursorRange::two(range.secondary, CCursor::new(at))
    } else {
        CCursorRange::one(CCursor::new(at))
    };
    state.cursor.set_char_range(Some(new));
    state.store(ctx, id);
}

/// The char index `rows` lines from char `at` of `text`, at the same column (or the line's end).
pub fn target_char(text: &str, at: usize, rows: isize) -> usize {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            text.chars()
                .enumerate()
                .filter(|&(_, c)| c == '\n')
                .map(|(i, _)| i + 1),
        )
        .collect();
    let total = text.chars().count();
    let at = at.min(total);
    let line = starts.partition_point(|&s| s <= at) - 1;
    let col = at - starts[line];
    let to = (line as isize + rows).clamp(0, starts.len() as isize - 1) as usize;
    let end = starts.get(to + 1).map_or(total, |&s| s - 1);
    (starts[to] + col).min(end)
}

/// The code pane in `ui`'s area. `run` is the running network (None before the first snapshot).
pub fn code_pane(
    ui: &mut Ui,
    ed: &mut CodeEditor,
    st: &PanelState,
    run: Option<&Running<'_>>,
) -> Vec<Request> {
    let t0 = Instant::now();
    let mut out = std::mem::take(&mut ed.queued);
    let id = ui.make_persistent_id("code pane text");
    let now = ui.input(|i| i.time);
    // Taken before the text sees them (Alt+Enter would insert a newline), carried out after it
    // has taken this frame's typing, so a row typed and evaluated in one frame is sent whole.
    let scope = eval_key(ui);
    let frame = egui::Frame::NONE
        .fill(Color32::from_black_alpha(60))
        .inner_margin(6.0);
    let mut sel = None;
    frame.show(ui, |ui| {
        ui.set_min_size(ui.available_size());
        header(ui, ed, run, now, &mut out);
        let status_h = ui.text_style_height(&TextStyle::Monospace) + 8.0;
        let h = (ui.available_height() - status_h).max(40.0);
        let rows = page_rows(ui, h);
        if let Some((dir, shift)) = page_key(ui) {
            page_move(ui.ctx(), id, &ed.text, dir * rows as isize, shift);
        }
        let view = egui::ScrollArea::both()
            .id_salt("code scroll")
            .max_height(h)
            .auto_shrink([false, false])
            .show(ui, |ui| {
                sel = text_area(ui, ed, st, id, now, scope.is_some(), &mut out)
            });
        ed.view = Some(view.inner_rect);
        status_line(ui, ed);
    });
    if let Some(scope) = scope {
        let sel = sel
            .or_else(|| {
                egui::TextEdit::load_state(ui.ctx(), id)
                    .and_then(|s| s.cursor.char_range())
                    .map(|r| (r.secondary.index.0, r.primary.index.0))
            })
            .unwrap_or((0, 0));
        match run {
            Some(run) => out.extend(ed.evaluate(scope, sel, run, now)),
            None => {
                ed.status = Some(super::Status {
                    ok: false,
                    text: "the engine has not started yet: nothing evaluated".into(),
                })
            }
        }
    }
    ed.frame_seconds = t0.elapsed().as_secs_f64();
    out
}

/// File name, unsaved mark, the reload notice and the pane's buttons.
fn header(
    ui: &mut Ui,
    ed: &mut CodeEditor,
    run: Option<&Running<'_>>,
    now: f64,
    out: &mut Vec<Request>,
) {
    ui.horizontal(|ui| {
        let name = ed
            .file
            .as_ref()
            .map(|f| f.name())
            .unwrap_or_else(|| "(no file)".into());
        let mark = if ed.dirty() { " •" } else { "" };
        ui.label(RichText::new(format!("{name}{mark}")).monospace().strong());
        ui.label(
            RichText::new("Ctrl+Enter line · Alt+Enter block · Ctrl+Shift+Enter all")
                .small()
                .color(DIM),
        );
        if ui.small_button("Evaluate all").clicked()
            && let Some(run) = run
        {
            out.extend(ed.evaluate(Scope::All, (0, 0), run, now));
        }
    });
    if ed.disk_notice.is_some() {
        ui.horizontal(|ui| {
            ui.colored_label(
                Color32::YELLOW,
                "The file changed on disk, and this buffer has unsaved changes.",
            );
            if ui.button("Reload from disk").clicked() {
                ed.reload_from_disk();
                out.append(&mut ed.queued);
            }
            if ui.button("Keep the buffer").clicked() {
                ed.keep_buffer();
            }
        });
    }
}

/// The text with line numbers and everything painted over it; returns the selection (char
/// indices: anchor, cursor) when the text has one.
fn text_area(
    ui: &mut Ui,
    ed: &mut CodeEditor,
    st: &PanelState,
    id: egui::Id,
    now: f64,
    evaluated: bool,
    out: &mut Vec<Request>,
) -> Option<(usize, usize)> {
    let font = TextStyle::Monospace.resolve(ui.style());
    let n_lines = lines(&ed.text).len();
    let digits = n_lines.to_string().len().max(2);
    let char_w = ui.fonts_mut(|f| f.glyph_width(&font, '0'));
    let gutter = char_w * digits as f32 + 10.0;
    let mut layouter = |ui: &Ui, text: &dyn egui::TextBuffer, _wrap: f32| {
        ui.fonts_mut(|f| f.layout_job(layout_job(text.as_str(), &font)))
    };
    ui.horizontal_top(|ui| {
        ui.add_space(gutter);
        // Each line gets a dark box behind its text (filled in once the text is laid out), so
        // the code reads over any picture while the picture shows between the lines.
        let backdrop = ui.painter().add(egui::Shape::Noop);
        let edit = TextEdit::multiline(&mut ed.text)
            .code_editor()
            .frame(egui::Frame::NONE)
            .background_color(Color32::TRANSPARENT)
            .desired_width(f32::INFINITY)
            .desired_rows(n_lines.max(10))
            .layouter(&mut layouter);
        let output = popup::show(ui, id, edit, evaluated, is_word_char, |text, cursor| {
            suggestions(text, cursor, st)
        });
        ed.cursor_at = Some((output.cursor_rect, output.is_open));
        // Keep the cursor in view whenever it moved, the text changed or a key went to the text:
        // jumps (Ctrl+End, Ctrl+Home, pages), typing past the bottom or the right edge,
        // scripted typing. Scrolling with the wheel or the bars leaves it where it is.
        let now_cursor = (output.cursor, ed.text.len());
        let typed = output.text_edit.response.response.has_focus()
            && ui.input(|i| {
                i.events.iter().any(|e| {
                    matches!(
                        e,
                        egui::Event::Key { pressed: true, .. } | egui::Event::Text(_)
                    )
                })
            });
        if typed || ed.last_cursor.is_some_and(|c| c != now_cursor) {
            // At once: a jump should land, not glide past the lines it skipped.
            ui.scroll_to_rect_animation(
                output.cursor_rect.expand(4.0),
                None,
                egui::style::ScrollAnimation::none(),
            );
        }
        ed.last_cursor = Some(now_cursor);
        let te = &output.text_edit;
        let sel = te
            .cursor_range
            .map(|r| (r.secondary.index.0, r.primary.index.0));
        let resp = te.response.response.clone();
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, CODE_LABEL));
        if ed.focus {
            resp.request_focus();
            ed.focus = false;
        }
        let mut o = Overlay {
            painter: ui.painter().clone(),
            galley: te.galley.clone(),
            origin: te.galley_pos,
            clip: ui.clip_rect(),
            font: font.clone(),
            char_w,
            gutter,
            boxes: Vec::new(),
        };
        if !ed.live_flashes(now).is_empty() {
            ui.ctx().request_repaint(); // Until they have faded.
        }
        o.flashes(ed, now);
        let text_lines = lines(&ed.text);
        o.lines(&text_lines, ed, st);
        o.errors(ui, &text_lines, ed, id);
        o.painter
            .set(backdrop, egui::Shape::Vec(std::mem::take(&mut o.boxes)));
        ed.placed = Some((te.galley.clone(), te.galley_pos));
        if resp.secondary_clicked()
            && let Some(w) = resp
                .interact_pointer_pos()
                .and_then(|pos| o.weight_at(pos, &text_lines, st))
        {
            out.push(Request::Learn(w));
        }
        if let Some(h) = resp.hover_pos().and_then(|pos| o.hover(pos, &text_lines)) {
            resp.on_hover_text_at_pointer(RichText::new(h).monospace());
        }
        sel
    })
    .inner
}

/// Completion items for the word ending at char `cursor` of `text`.
fn suggestions(text: &str, cursor: usize, st: &PanelState) -> Vec<Suggestion> {
    let b = byte_of_char(text, cursor);
    let start = text[..b].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[b..].find('\n').map(|i| b + i).unwrap_or(text.len());
    let line = &text[start..line_end];
    let ctx = complete::context(line, b - start);
    if matches!(&ctx, complete::Context::Target { prefix } if prefix.is_empty()) {
        return Vec::new(); // Not on every empty line.
    }
    complete::items(&ctx, st)
        .into_iter()
        .map(|i| Suggestion::new(i.insert).description(i.detail))
        .collect()
}

/// The status line: the last evaluation's outcome (an error stays until a good evaluation).
fn status_line(ui: &mut Ui, ed: &CodeEditor) {
    let (text, c) = match &ed.status {
        Some(s) if s.ok => (s.text.clone(), DIM),
        Some(s) => (s.text.clone(), ERROR),
        None => ("ready".to_string(), DIM),
    };
    ui.add(egui::Label::new(RichText::new(text).monospace().color(c)).truncate());
}
