//! Keyboard shortcuts (PERFORMERS.md §4 conventions), read from egui's input so that a test can
//! press them headless.

use egui::{Key, KeyboardShortcut, Modifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ToggleFullscreen,
    TogglePanel,
    ToggleOutput,
    ToggleMute,
    Save,
    SaveAs,
    Open,
    ToggleRecord,
    Blackout,
    ToggleEditor,
    Regenerate,
}

/// Keys the code pane handles itself (it needs the cursor), for the README table and help.
pub const EDITOR_KEYS: &[(&str, &str)] = &[
    (
        "Ctrl+Enter",
        "evaluate the cursor's line, or the lines of the selection (one edit request through Self)",
    ),
    (
        "Alt+Enter",
        "evaluate the paragraph around the cursor (the block between blank lines)",
    ),
    (
        "Ctrl+Shift+Enter",
        "evaluate the whole buffer as a diff against the running network (the hot-reload path)",
    ),
    ("Tab", "accept the completion shown under the cursor"),
    (
        "PageUp / PageDown",
        "move the cursor a screen of lines (Shift selects); the pane keeps the cursor in view",
    ),
];

/// Every shortcut, for the README table and the help text: (keys, action, what it does).
pub const SHORTCUTS: &[(&str, Action, &str)] = &[
    ("F11", Action::ToggleFullscreen, "fullscreen on / off"),
    ("Ctrl+Shift+H", Action::TogglePanel, "hide / show the panel"),
    (
        "Ctrl+Shift+O",
        Action::ToggleOutput,
        "open / close the output window: only the picture, borderless, for a projector \
         (F11 there: fullscreen on its monitor; closing it does not quit)",
    ),
    (
        "Ctrl+.",
        Action::ToggleMute,
        "mute / unmute the sound at once (panic button)",
    ),
    (
        "Ctrl+Shift+.",
        Action::Blackout,
        "panic for both: mute the sound and black the picture (again to undo)",
    ),
    (
        "Ctrl+S",
        Action::Save,
        "save the code buffer (atomic, keeps NAME.bak; a .dmm byte for byte, a .json as JSON)",
    ),
    ("Ctrl+Shift+S", Action::SaveAs, "save as (asks for a path)"),
    (
        "Ctrl+O",
        Action::Open,
        "open another patch (asks for a path)",
    ),
    (
        "Ctrl+R",
        Action::ToggleRecord,
        "start / stop recording into recordings/ next to the patch",
    ),
    ("Ctrl+E", Action::ToggleEditor, "show / hide the code pane"),
    (
        "Ctrl+Shift+R",
        Action::Regenerate,
        "rewrite the code from the running network",
    ),
];

/// Takes this frame's shortcut presses out of egui's input. Shift variants are consumed first:
/// egui's matching ignores an extra Shift, so Ctrl+S would also catch Ctrl+Shift+S.
pub fn shortcuts(ctx: &egui::Context) -> Vec<Action> {
    let cmd_shift = Modifiers::COMMAND | Modifiers::SHIFT;
    let table = [
        (
            KeyboardShortcut::new(cmd_shift, Key::H),
            Action::TogglePanel,
        ),
        (KeyboardShortcut::new(cmd_shift, Key::S), Action::SaveAs),
        (
            KeyboardShortcut::new(cmd_shift, Key::O),
            Action::ToggleOutput,
        ),
        (KeyboardShortcut::new(cmd_shift, Key::R), Action::Regenerate),
        (
            KeyboardShortcut::new(cmd_shift, Key::Period),
            Action::Blackout,
        ),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::E),
            Action::ToggleEditor,
        ),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::S),
            Action::Save,
        ),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::O),
            Action::Open,
        ),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::R),
            Action::ToggleRecord,
        ),
        (
            KeyboardShortcut::new(Modifiers::COMMAND, Key::Period),
            Action::ToggleMute,
        ),
        (
            KeyboardShortcut::new(Modifiers::NONE, Key::F11),
            Action::ToggleFullscreen,
        ),
    ];
    ctx.input_mut(|i| {
        table
            .iter()
            .filter(|(s, _)| i.consume_shortcut(s))
            .map(|(_, a)| *a)
            .collect()
    })
}
