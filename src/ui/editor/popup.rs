//! The completion popup, placed at the text cursor (egui's `CompletionPopup` anchors its popup to
//! the whole text area, far from where the performer types in a long buffer). Adapted from
//! egui's `CompletionPopup` (MIT/Apache-2.0): the same keys and state, plus
//! - the popup sits just below the cursor's glyph (above it when there is no room below), kept
//!   inside the window;
//! - it closes once the word under the cursor is complete (it is one of the suggestions), when
//!   the performer evaluates or presses Escape, and opens again when the word changes.

use egui::text::{CCursor, CCursorRange};
use egui::{
    Button, Event, Id, InputState, Key, Popup, PopupAnchor, PopupKind, Rect, RectAlign, ScrollArea,
    Suggestion, TextEdit, Ui, text_edit::TextEditOutput, vec2,
};

/// Widest the popup grows (the items are short: names, ports, types with their kinds).
const POPUP_WIDTH: f32 = 280.0;
const POPUP_MAX_HEIGHT: f32 = 200.0;

#[derive(Clone, Default)]
struct State {
    selected: usize,
    selected_word: String,
    open: bool,
    /// The word for which the popup was closed (Escape, evaluation, complete word); it stays
    /// closed until the word changes.
    dismissed_word: Option<String>,
}

/// What [`show`] returns.
pub struct Completion {
    pub text_edit: TextEditOutput,
    /// Whether the popup is shown this frame.
    pub is_open: bool,
    /// The cursor's glyph on screen (where the popup is anchored while it is shown).
    pub cursor_rect: Rect,
    /// The cursor's char index.
    pub cursor: usize,
}

/// Id of the popup's area (tests find its rect by it).
pub fn popup_id(text_id: Id) -> Id {
    text_id.with("cursor completion")
}

/// Shows `edit` (given the id `id`) and, when `suggest` (text, cursor char index) has anything
/// for the word before the cursor, the popup at the cursor. `close` closes it for the current
/// word (the performer evaluated). `word_char` says which characters make a word; Tab accepts.
pub fn show(
    ui: &mut Ui,
    id: Id,
    edit: TextEdit<'_>,
    close: bool,
    word_char: impl Fn(char) -> bool,
    suggest: impl FnOnce(&str, usize) -> Vec<Suggestion>,
) -> Completion {
    let mut state: State = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let (mut down, mut up, mut accept, mut dismiss) = (0, 0, false, false);
    if state.open {
        ui.input_mut(|i| {
            down = consume_plain(i, Key::ArrowDown);
            up = consume_plain(i, Key::ArrowUp);
            accept = consume_plain(i, Key::Tab) > 0;
            dismiss = consume_plain(i, Key::Escape) > 0;
        });
    }
    let filter = edit.get_event_filter();
    let edit = edit.id(id).event_filter(egui::EventFilter {
        tab: filter.tab || state.open,
        escape: filter.escape || state.open,
        ..filter
    });
    let (output, text) = edit.show_returning_text(ui);
    let response = output.response.response.clone();
    let cursor = output
        .cursor_range
        .map_or_else(|| text.as_str().chars().count(), |r| r.primary.index.0);
    let start = text
        .as_str()
        .chars()
        .take(cursor)
        .enumerate()
        .filter(|&(_, c)| !word_char(c))
        .last()
        .map_or(0, |(i, _)| i + 1);
    let word: String = text
        .as_str()
        .chars()
        .skip(start)
        .take(cursor - start)
        .collect();
    if dismiss || close {
        state.dismissed_word = Some(word.clone());
    }
    let mut suggestions = if state.dismissed_word.as_deref() == Some(word.as_str()) {
        Vec::new()
    } else {
        suggest(text.as_str(), cursor)
    };
    // A word already complete needs no popup (it opens again once the word changes).
    if suggestions.iter().any(|s| s.insert == word) {
        suggestions.clear();
    }
    if state.selected_word != word {
        state.selected = 0;
        state.selected_word = word.clone();
    }
    if !suggestions.is_empty() {
        let n = suggestions.len();
        state.selected = (state.selected + down + (n - up % n)) % n;
    }
    let mut accepted = (accept && !suggestions.is_empty()).then_some(state.selected);
    // The cursor's glyph on screen (where the galley was painted).
    let cursor_rect = {
        let r = output.galley.pos_from_cursor(CCursor::new(cursor));
        let r = r.translate(output.galley_pos.to_vec2() - vec2(output.galley.rect.left(), 0.0));
        Rect::from_min_max(r.min, egui::pos2(r.max.x.max(r.min.x + 1.0), r.max.y))
    };
    let is_open = response.has_focus() && !suggestions.is_empty() && accepted.is_none();
    let moved = down != up;
    let clicked = Popup::new(
        popup_id(id),
        ui.ctx().clone(),
        PopupAnchor::ParentRect(cursor_rect),
        ui.layer_id(),
    )
    .anchor_widget(response.id)
    .kind(PopupKind::Popup)
    .open(is_open)
    .align(RectAlign::BOTTOM_START)
    .align_alternatives(&[RectAlign::TOP_START])
    .width(POPUP_WIDTH)
    .show(|ui| {
        ScrollArea::vertical()
            .max_height(POPUP_MAX_HEIGHT)
            .show(ui, |ui| {
                let pointer_moved = ui.input(|i| i.pointer.is_moving());
                let mut clicked = None;
                for (i, s) in suggestions.iter().enumerate() {
                    let sel = i == state.selected;
                    let r = ui.add(
                        Button::selectable(sel, s.content.clone())
                            .min_size(vec2(ui.available_width(), 0.0)),
                    );
                    if sel && moved {
                        r.scroll_to_me(None);
                    }
                    if r.hovered() && pointer_moved {
                        state.selected = i;
                    }
                    if r.clicked() {
                        clicked = Some(i);
                    }
                }
                clicked
            })
            .inner
    })
    .and_then(|r| r.inner);
    if clicked.is_some() {
        accepted = clicked;
    }
    if let Some(s) = accepted
        .filter(|&i| i < suggestions.len())
        .map(|i| suggestions.swap_remove(i))
    {
        text.delete_char_range(egui::text::CharIndex(start)..egui::text::CharIndex(cursor));
        let mut at = CCursor::new(start);
        text.insert_text_at(&mut at, &s.insert, usize::MAX);
        let mut te = TextEdit::load_state(ui.ctx(), id).unwrap_or_default();
        te.cursor.set_char_range(Some(CCursorRange::one(at)));
        te.store(ui.ctx(), id);
        state.dismissed_word = None;
        state.selected = 0;
    }
    state.open = is_open;
    ui.data_mut(|d| d.insert_temp(id, state));
    Completion {
        text_edit: output,
        is_open,
        cursor_rect,
        cursor,
    }
}

/// Presses of `key` without modifiers, taken out of this frame's input (Shift+Tab and the like
/// still reach the text).
fn consume_plain(input: &mut InputState, key: Key) -> usize {
    let mut n = 0;
    input.events.retain(|e| {
        let hit = matches!(e, Event::Key { key: k, modifiers, pressed: true, .. }
            if *k == key && modifiers.is_none());
        n += usize::from(hit);
        !hit
    });
    n
}
