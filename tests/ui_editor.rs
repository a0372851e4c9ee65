//! The code pane, driven headless with egui_kittest: typed text and real key presses (Ctrl+Enter,
//! Alt+Enter, Tab) go through the same egui input path as the keyboard. Each evaluation must give
//! exactly the edit request the language says for those lines; a bad line changes nothing and
//! shows its message at its line; completion offers only what may go there.

use dmm_synth::engine::Edit;
use dmm_synth::neurons::{AssetDirs, Network};
use dmm_synth::patch::text::{eval_snippet, parse_text};
use dmm_synth::stream::{PortRef, WMatrix};
use dmm_synth::ui::PanelState;
use dmm_synth::ui::editor::complete::{Context, context, items};
use dmm_synth::ui::editor::sync::w_after;
use dmm_synth::ui::editor::view::{CODE_LABEL, code_pane, error_label};
use dmm_synth::ui::editor::{CodeEditor, Request, Running};
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const PATCH: &str = "# editor test
settings tick_rate=375 sample_rate=48000 image=16x16

xy   : coords
ones : one image
k    : one
lfo  : sin
tone : sin audio
show : display

show.in <- 1 xy.x
lfo.x <- 0.5 k
";

fn p(s: &str) -> PortRef {
    PortRef::parse(s).expect("port")
}

/// The pane's plain state beside a network it evaluates against (no engine: nothing runs).
struct S {
    code: CodeEditor,
    st: PanelState,
    net: Network,
    w: WMatrix,
    sent: Vec<Request>,
}

fn state(text: &str) -> S {
    let patch =
        parse_text(PATCH, "test.dmm", &AssetDirs::default()).unwrap_or_else(|e| panic!("{e}"));
    let w = patch.initial_w();
    S {
        code: CodeEditor::new(text),
        st: PanelState::from_network(&patch.network, &w),
        net: patch.network,
        w,
        sent: Vec::new(),
    }
}

fn harness(s: S) -> Harness<'static, S> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(900.0, 500.0))
        .build_ui_state(
            |ui, s: &mut S| {
                let run = Running {
                    net: &s.net,
                    w: &s.w,
                    morph: 0.0,
                };
                let r = code_pane(ui, &mut s.code, &s.st, Some(&run));
                s.sent.extend(r);
            },
            s,
        );
    h.run();
    h
}

fn edits(s: &S) -> Vec<&Edit> {
    s.sent
        .iter()
        .map(|r| match r {
            Request::Edit(e) => e,
            other => panic!("expected an edit request, got {other:?}"),
        })
        .collect()
}

#[test]
fn typing_a_row_and_ctrl_enter_sends_exactly_its_edit() {
    let mut h = harness(state(PATCH));
    h.event(egui::Event::Text("show.in <- 0.4 xy.x + 0.1 ones".into()));
    h.run();
    assert!(h.state().sent.is_empty(), "typing alone sends nothing");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run();
    let s = h.state();
    assert!(
        s.code
            .text
            .ends_with("lfo.x <- 0.5 k\nshow.in <- 0.4 xy.x + 0.1 ones"),
        "Ctrl+Enter inserts no newline: {:?}",
        s.code.text
    );
    let sent = edits(s);
    assert_eq!(sent.len(), 1, "one request per evaluation");
    // Exactly what the language makes of that line (line 13 of the buffer).
    let want = eval_snippet(
        "show.in <- 0.4 xy.x + 0.1 ones",
        13,
        &s.net,
        &s.w,
        &AssetDirs::default(),
        0.0,
    )
    .expect("the line evaluates")
    .expect("an edit");
    assert_eq!(sent[0], &want);
    // And that edit states the row: W lands on it, nothing else moves.
    let w = w_after(&s.w, sent[0]);
    assert_eq!(w.get(&p("show.in"), &p("xy.x")), 0.4);
    assert_eq!(w.get(&p("show.in"), &p("ones.out")), 0.1);
    assert_eq!(w.row(&p("show.in")).map(|r| r.len()), Some(2));
    assert_eq!(w.get(&p("lfo.x"), &p("k.out")), 0.5);
    let f = s
        .code
        .last_sent
        .as_ref()
        .expect("the evaluated line flashes");
    assert_eq!((f.first_line, f.last_line), (13, 13));
    assert!(s.code.status.as_ref().is_some_and(|st| st.ok));
}

#[test]
fn alt_enter_sends_the_paragraph_and_ctrl_shift_enter_the_whole_buffer() {
    let mut h = harness(state(PATCH));
    h.event(egui::Event::Text("\nlfo.a <- 2 k\nlfo.b <- 0.5 k".into()));
    h.run();
    h.key_press_modifiers(Modifiers::ALT, Key::Enter);
    h.run();
    {
        let s = h.state();
        let sent = edits(s);
        assert_eq!(sent.len(), 1);
        let want = eval_snippet(
            "lfo.a <- 2 k\nlfo.b <- 0.5 k",
            14,
            &s.net,
            &s.w,
            &AssetDirs::default(),
            0.0,
        )
        .expect("evaluates")
        .expect("an edit");
        assert_eq!(sent[0], &want);
        let f = s.code.last_sent.as_ref().expect("flash");
        assert_eq!((f.first_line, f.last_line), (14, 15));
    }
    h.state_mut().sent.clear();
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Enter);
    h.run();
    let s = h.state();
    assert_eq!(s.sent.len(), 1);
    let Request::Apply(patch) = &s.sent[0] else {
        panic!("Ctrl+Shift+Enter sends the whole buffer");
    };
    assert_eq!(patch.weights.get(&p("lfo.a"), &p("k.out")), 2.0);
    assert_eq!(patch.weights.get(&p("show.in"), &p("xy.x")), 1.0);
}

#[test]
fn a_bad_line_changes_nothing_and_shows_its_message_at_that_line() {
    let mut h = harness(state(PATCH));
    h.event(egui::Event::Text("show.in <- 0.4 nosuch".into()));
    h.run();
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run();
    h.run();
    let (line, msg) = {
        let s = h.state();
        assert!(s.sent.is_empty(), "nothing sent: {:?}", s.sent);
        assert!(s.code.last_sent.is_none(), "nothing flashes");
        let e = s.code.errors.first().expect("an error");
        assert_eq!(e.line, 13, "at the typed line");
        assert!(e.msg.contains("nosuch"), "names what is wrong: {}", e.msg);
        let st = s.code.status.as_ref().expect("status");
        assert!(
            !st.ok && st.text.contains("nosuch"),
            "status line: {}",
            st.text
        );
        (e.line, e.msg.clone())
    };
    // The message is drawn beside its own line: level with line 13 of the text.
    let label = error_label(line, &msg);
    let node = h.get_by_label(&label);
    let text = h.get_by_label(CODE_LABEL).rect();
    let row = (node.rect().center().y - text.min.y) / (text.height() / 13.0);
    assert!(
        (12.0..13.0).contains(&row),
        "message at row {row:.2}, expected line 13 (rows 12..13)"
    );
    // The error stays through typing, until a good evaluation.
    h.event(egui::Event::Text(" ".into()));
    h.run();
    assert!(!h.state().code.errors.is_empty());
    h.event(egui::Event::Text("\nshow.in <- 0.3 xy.x".into()));
    h.run();
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run();
    let s = h.state();
    assert!(
        s.code.errors.is_empty(),
        "a good evaluation clears the errors"
    );
    assert!(s.code.status.as_ref().is_some_and(|st| st.ok));
    assert_eq!(edits(s).len(), 1);
}

#[test]
fn completion_offers_only_matching_kinds() {
    let s = state(PATCH);
    let names = |line: &str| -> Vec<String> {
        items(&context(line, line.len()), &s.st)
            .into_iter()
            .map(|i| i.insert)
            .collect()
    };
    // An image input: image sources of its shape only (coords' ramps, the image one).
    let img = names("show.in <- ");
    assert!(
        img.contains(&"xy.x".to_string()) && img.contains(&"ones".to_string()),
        "{img:?}"
    );
    assert!(
        !img.iter().any(|n| n == "k" || n == "lfo" || n == "tone"),
        "{img:?}"
    );
    // A scalar input: the scalar ones; an audio input: the audio one.
    let sc = names("lfo.x <- ");
    assert!(
        sc.contains(&"k".to_string()) && sc.contains(&"lfo".to_string()),
        "{sc:?}"
    );
    assert!(
        !sc.iter()
            .any(|n| n == "tone" || n == "ones" || n.starts_with("xy")),
        "{sc:?}"
    );
    assert_eq!(names("tone.x <- "), vec!["tone".to_string()]);
    // Ports after `name.`, with their kinds; types after `:`.
    let ports = items(&context("xy.", 3), &s.st);
    assert!(ports.is_empty(), "coords has no inputs to write a row for");
    let ports = items(&context("lfo.", 4), &s.st);
    assert_eq!(
        ports
            .iter()
            .map(|i| (i.insert.as_str(), i.detail.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("lfo.x", "scalar"),
            ("lfo.a", "scalar"),
            ("lfo.b", "scalar")
        ]
    );
    let outs: Vec<String> = names("show.in <- xy.");
    assert_eq!(outs, vec!["xy.x".to_string(), "xy.y".to_string()]);
    assert_eq!(names("a : pha"), vec!["phasor".to_string()]);
    assert_eq!(context("a.x <- 0.5 # k", 14), Context::None);

    // In the pane: the popup lists them under the cursor and Tab takes the first.
    let mut h = harness(state(PATCH));
    h.event(egui::Event::Text("tone.x <- 0.5 to".into()));
    h.run();
    h.run();
    assert!(
        h.query_by_label_contains("tone").is_some(),
        "popup shows tone"
    );
    assert!(
        h.query_by_label_contains("lfo").is_none(),
        "a scalar is not offered for audio"
    );
    h.key_press(Key::Tab);
    h.run();
    assert!(
        h.state().code.text.ends_with("tone.x <- 0.5 tone"),
        "{:?}",
        h.state().code.text
    );
}

/// Ctrl as a Linux or Windows keyboard sends it (egui's Ctrl+Home/End look at `ctrl`).
const CTRL: Modifiers = Modifiers::CTRL.plus(Modifiers::COMMAND);

/// The popup's rect (the frame around the suggestion labelled `label`) and the cursor's glyph.
fn popup_and_cursor(h: &Harness<'_, S>, label: &str) -> (egui::Rect, egui::Rect) {
    let item = h.get_by_label_contains(label).rect();
    let (cursor, open) = h.state().code.cursor_at.expect("the cursor was placed");
    assert!(open, "the pane says the popup is open");
    (item, cursor)
}

#[test]
fn completion_popup_sits_at_the_cursor_and_closes_when_the_word_is_done() {
    let mut h = harness(state(PATCH));
    // Mid-buffer: the end of line 7 (`lfo  : sin`), then a new row there.
    h.key_press_modifiers(CTRL, Key::Home);
    for _ in 0..6 {
        h.key_press(Key::ArrowDown);
    }
    h.key_press(Key::End);
    h.key_press(Key::Enter);
    h.event(egui::Event::Text("tone.x <- 0.5 to".into()));
    h.run();
    h.run();
    assert!(
        h.state()
            .code
            .text
            .contains("lfo  : sin\ntone.x <- 0.5 to\ntone"),
        "{:?}",
        h.state().code.text
    );
    let (item, cursor) = popup_and_cursor(&h, "tone");
    let view = h.state().code.view.expect("the pane was drawn");
    let row = cursor.height();
    assert!(
        cursor.top() > view.top() + 5.0 * row && cursor.bottom() < view.bottom() - 3.0 * row,
        "the cursor is mid-buffer: {cursor:?} in {view:?}"
    );
    // Just below the cursor's glyph, starting at its column (the frame's margin aside), not at
    // the text area's edge.
    assert!(
        item.top() >= cursor.bottom() - 1.0 && item.top() < cursor.bottom() + 20.0,
        "popup item {item:?} below the cursor {cursor:?}"
    );
    assert!(
        (item.left() - cursor.left()).abs() < 20.0,
        "popup item {item:?} at the cursor's column {cursor:?}"
    );
    assert!(
        egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(900.0, 500.0)).contains_rect(item),
        "inside the window: {item:?}"
    );
    // Escape closes it; typing opens it again; a complete word closes it.
    h.key_press(Key::Escape);
    h.run();
    h.run();
    assert!(h.query_by_label_contains("tone").is_none(), "Escape closes");
    assert_eq!(h.state().code.cursor_at.map(|c| c.1), Some(false));
    h.event(egui::Event::Text("n".into()));
    h.run();
    h.run();
    let (item2, cursor2) = popup_and_cursor(&h, "tone");
    assert!(
        (item2.left() - cursor2.left()).abs() < 20.0 && cursor2.left() > cursor.left(),
        "reopened at the moved cursor: {item2:?} {cursor2:?}"
    );
    h.event(egui::Event::Text("e".into()));
    h.run();
    h.run();
    assert!(
        h.query_by_label_contains("tone").is_none(),
        "the word is complete"
    );
    // Evaluating closes it too.
    h.key_press(Key::Enter);
    h.event(egui::Event::Text("lfo.a <- 0.5 lf".into()));
    h.run();
    h.run();
    popup_and_cursor(&h, "lfo");
    h.key_press_modifiers(CTRL, Key::Enter);
    h.run();
    h.run();
    assert!(
        h.query_by_label_contains("lfo").is_none(),
        "evaluating closes"
    );
    assert!(
        h.state().code.status.as_ref().is_some_and(|st| !st.ok),
        "the line was evaluated (`lf` is no neuron)"
    );
}

#[test]
fn jumps_pages_and_typing_keep_the_cursor_in_view() {
    let text: String = (1..=200).map(|i| format!("# line {i}\n")).collect();
    let mut h = harness(state(&text));
    let visible = |h: &Harness<'_, S>, what: &str| {
        let (c, _) = h.state().code.cursor_at.expect("cursor placed");
        let v = h.state().code.view.expect("view");
        assert!(
            c.top() >= v.top() - 1.0 && c.bottom() <= v.bottom() + 1.0,
            "{what}: cursor {c:?} outside the view {v:?}"
        );
    };
    h.key_press_modifiers(CTRL, Key::End);
    h.run();
    h.run();
    visible(&h, "Ctrl+End");
    h.key_press_modifiers(CTRL, Key::Home);
    h.run();
    h.run();
    visible(&h, "Ctrl+Home");
    // Three pages down: the cursor moved that many screens' lines, and shows.
    for _ in 0..3 {
        h.key_press(Key::PageDown);
        h.run();
        h.run();
        h.run();
        h.run();
        visible(&h, "PageDown");
    }
    h.event(egui::Event::Text("X".into()));
    h.run();
    h.run();
    let line = |h: &Harness<'_, S>| {
        h.state()
            .code
            .text
            .lines()
            .position(|l| l.starts_with('X'))
            .expect("X typed")
    };
    let down = line(&h);
    assert!(down >= 30, "three pages went down {down} lines");
    h.key_press(Key::Backspace);
    h.key_press(Key::PageUp);
    h.run();
    h.run();
    visible(&h, "PageUp");
    h.event(egui::Event::Text("X".into()));
    h.run();
    h.run();
    let up = line(&h);
    assert!(up < down && up + 10 <= down, "a page up: {up} from {down}");
    // Typing past the bottom of the view: new lines keep the cursor visible.
    h.key_press(Key::End);
    for _ in 0..40 {
        h.key_press(Key::Enter);
        h.event(egui::Event::Text("a".into()));
        h.run();
        h.run();
        h.run();
        h.run();
    }
    visible(&h, "typing");
}

#[test]
fn panel_edits_add_and_remove_declarations_and_rows() {
    use dmm_synth::neurons::NeuronSpec;
    use dmm_synth::ui::editor::sync::{decl_name, row_target};
    let mut s = state(PATCH);
    let mut weights = WMatrix::new();
    weights.add_entry(&p("wob.x"), &p("k.out"), 0.5);
    let add = Edit::AddNeuron {
        name: "wob".into(),
        neuron: NeuronSpec::new("sin").with("kind", "scalar"),
        weights,
    };
    s.code.panel_edit(&add, &s.net, &s.w);
    let lines: Vec<&str> = s.code.text.lines().collect();
    let decl = lines
        .iter()
        .position(|l| decl_name(l) == Some("wob"))
        .expect("declared");
    assert_eq!(decl, 9, "after the other declarations: {:?}", s.code.text);
    let row = lines
        .iter()
        .find(|l| row_target(l) == Some(p("wob.x")))
        .expect("its row");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["wob.x", "<-", "0.5", "k"]
    );
    let rm = Edit::RemoveNeuron {
        name: "lfo".into(),
        morph: 0.0,
    };
    s.code.panel_edit(&rm, &s.net, &s.w);
    assert!(!s.code.text.contains("lfo"), "{}", s.code.text);
    assert!(
        s.code.text.contains("show.in <- 1 xy.x"),
        "other rows stay as typed"
    );
}

#[test]
fn hovering_a_type_shows_its_row_of_the_neuron_table() {
    let mut h = harness(state(PATCH));
    let text = h.get_by_label(CODE_LABEL).rect();
    let row_h = text.height() / 13.0;
    let char_w = h
        .ctx
        .fonts_mut(|f| f.glyph_width(&egui::FontId::monospace(12.0), '0'));
    // Line 7 is `lfo  : sin`: the type starts at column 8.
    h.hover_at(egui::pos2(
        text.min.x + 8.5 * char_w,
        text.min.y + 6.5 * row_h,
    ));
    h.run();
    assert!(
        h.query_by_label_contains("out = sin(a·x + b)").is_some(),
        "the tooltip shows sin's row"
    );
    assert!(
        h.query_by_label_contains("inputs: x any, a any, b any")
            .is_some()
    );
    // Over a neuron's name: no row.
    h.hover_at(egui::pos2(
        text.min.x + 1.5 * char_w,
        text.min.y + 6.5 * row_h,
    ));
    h.run();
    h.run();
    assert!(h.query_by_label_contains("out = sin(a·x + b)").is_none());
}

// ---- The pane in a session on a running instrument (a real `Live`, CPU backend) ----

mod session {
    use super::p;
    use dmm_synth::backend::cpu::CpuBackend;
    use dmm_synth::live::{Live, LiveOptions};
    use dmm_synth::patch::text::print_row;
    use dmm_synth::ui::session::Session;
    use egui::{Key, Modifiers};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::path::Path;
    use std::time::{Duration, Instant};

    /// Typed the way a performer types: odd spacing, comments, integers, blank lines.
    pub const DMM: &str = "# session test   (kept exactly)\n\
settings tick_rate=375 sample_rate=48000 image=16x16\n\
\n\
xy   : coords     # ramps\n\
ones : one image\n\
k    : one\n\
lfo  : sin\n\
show : display\n\
\n\
show.in <- 1 xy.x   # the picture\n\
lfo.x   <-   0.5 k\n";

    pub fn open(path: &Path) -> Session {
        let live = Live::open(
            path,
            Box::new(CpuBackend::new()),
            LiveOptions {
                audio: false,
                watch: false,
                capture_every: 1,
                morph: None,
                trace: None,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Session::new(live, Vec::new(), true)
    }

    pub fn harness(s: Session) -> Harness<'static, Session> {
        let mut h = Harness::builder()
            .with_size(egui::vec2(1200.0, 700.0))
            .build_ui_state(|ui, s: &mut Session| s.ui(ui), s);
        run_until(&mut h, "a first snapshot", |s| s.latest().is_some());
        h
    }

    /// Runs frames until `done` holds. The deadline only guards against a hang.
    pub fn run_until(h: &mut Harness<'_, Session>, what: &str, done: impl Fn(&Session) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            h.run();
            if done(h.state()) {
                return;
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn w(s: &Session, t: &str, src: &str) -> f64 {
        s.latest()
            .map(|l| l.w.get(&p(t), &p(src)))
            .unwrap_or(f64::NAN)
    }

    #[test]
    fn ctrl_s_writes_the_buffer_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.dmm");
        std::fs::write(&path, DMM).expect("write");
        let mut h = harness(open(&path));
        assert!(
            h.state().code.visible,
            "a .dmm patch opens with its code shown"
        );
        assert_eq!(
            h.state().code.text,
            DMM,
            "the buffer is the file's text exactly"
        );
        assert_eq!(h.state().title(), "s.dmm - dmm-synth");
        h.event(egui::Event::Text(
            "lfo.a <-  2*pi   # typed, not reformatted\n\n\n".into(),
        ));
        h.run();
        assert_eq!(h.state().title(), "s.dmm • - dmm-synth");
        h.key_press_modifiers(Modifiers::COMMAND, Key::S);
        h.run();
        let want = format!("{DMM}lfo.a <-  2*pi   # typed, not reformatted\n\n\n");
        assert_eq!(h.state().code.text, want);
        assert_eq!(
            std::fs::read(&path).expect("read"),
            want.as_bytes(),
            "saved byte for byte"
        );
        assert_eq!(
            std::fs::read(dir.path().join("s.dmm.bak")).expect("backup"),
            DMM.as_bytes(),
            "the previous version is kept"
        );
        assert_eq!(h.state().title(), "s.dmm - dmm-synth");
        // Saving is not evaluating: the typed row has not reached W.
        assert_eq!(w(h.state(), "lfo.a", "_one.out"), 0.0);
        h.into_state().into_live().stop();
    }

    #[test]
    fn a_typed_row_reaches_w_through_self_and_a_panel_edit_rewrites_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.dmm");
        std::fs::write(&path, DMM).expect("write");
        let mut h = harness(open(&path));
        h.event(egui::Event::Text("show.in <- 0.4 xy.x + 0.25 ones".into()));
        h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
        run_until(&mut h, "the typed row in W", |s| {
            w(s, "show.in", "xy.x") == 0.4 && w(s, "show.in", "ones.out") == 0.25
        });
        // The panel sets one weight of that row: the row's first line now states the new row
        // (its comment kept), the later line for it goes, nothing else changes.
        {
            let s = h.state_mut();
            s.ed.target = Some(p("show.in"));
            s.ed.source = Some(p("ones.out"));
            s.ed.weight = 0.5;
            s.ed.weight_text = "0.5".into();
        }
        h.run();
        h.get_by_label("Set weight").click();
        h.run();
        let s = h.state();
        let snap = s.latest().expect("snapshot");
        // The row as the panel set it, whether or not the snapshot shows the set yet.
        let mut w2 = snap.w.clone();
        w2.set_entry(&p("show.in"), &p("ones.out"), 0.5);
        let row = print_row(&snap.net, &w2, &p("show.in"));
        let text = &s.code.text;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[9], format!("{row}   # the picture"), "{text}");
        assert!(
            !lines.iter().skip(10).any(|l| l.starts_with("show.in")),
            "{text}"
        );
        assert_eq!(lines[..9], DMM.lines().take(9).collect::<Vec<_>>()[..]);
        run_until(&mut h, "the panel's weight in W", |s| {
            w(s, "show.in", "ones.out") == 0.5
        });
        // Frames going by (W and the live values moving) do not touch the text.
        let before = h.state().code.text.clone();
        for _ in 0..20 {
            h.run();
        }
        assert_eq!(h.state().code.text, before);
        h.into_state().into_live().stop();
    }

    #[test]
    fn a_change_on_disk_reloads_a_clean_buffer_and_asks_when_it_is_unsaved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.dmm");
        std::fs::write(&path, DMM).expect("write");
        let mut s = open(&path);
        s.watch_file();
        let mut h = harness(s);
        // Clean buffer: the new file comes in and is evaluated.
        let v2 = DMM.replace("lfo.x   <-   0.5 k", "lfo.x <- 0.75 k");
        std::fs::write(&path, &v2).expect("write");
        run_until(&mut h, "the reload", |s| {
            s.code.text == v2 && w(s, "lfo.x", "k.out") == 0.75
        });
        assert!(!h.state().code.dirty());
        // Unsaved changes: a notice, nothing changes until the performer chooses.
        h.event(egui::Event::Text("# mine\n".into()));
        h.run();
        let v3 = DMM.replace("lfo.x   <-   0.5 k", "lfo.x <- 0.125 k");
        std::fs::write(&path, &v3).expect("write");
        run_until(&mut h, "the notice", |s| s.code.disk_notice.is_some());
        assert!(h.state().code.text.ends_with("# mine\n"));
        h.get_by_label("Keep the buffer").click();
        h.run();
        assert!(h.state().code.disk_notice.is_none());
        assert!(h.state().code.text.ends_with("# mine\n"), "kept");
        assert_eq!(w(h.state(), "lfo.x", "k.out"), 0.75, "nothing applied");
        let v4 = DMM.replace("lfo.x   <-   0.5 k", "lfo.x <- 0.25 k");
        std::fs::write(&path, &v4).expect("write");
        run_until(&mut h, "the second notice", |s| {
            s.code.disk_notice.is_some()
        });
        h.get_by_label("Reload from disk").click();
        run_until(&mut h, "the reload", |s| {
            s.code.text == v4 && w(s, "lfo.x", "k.out") == 0.25
        });
        h.into_state().into_live().stop();
    }

    /// Save As from the code pane moves everything that follows the patch file to the new
    /// file: Ctrl+S writes there (the old file untouched), a change on disk to the new file
    /// reloads and evaluates the buffer (the old one is no longer watched), and the instrument's
    /// own path (scenes' sidecar, recovery file, title) is the new one.
    #[test]
    fn save_as_from_the_code_pane_moves_saves_and_hot_reload_to_the_new_file() {
        use dmm_synth::live::autosave::recovery_path;
        use dmm_synth::live::scenes::scenes_path;
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("a.dmm");
        std::fs::write(&old, DMM).expect("write");
        std::fs::create_dir(dir.path().join("moved")).expect("mkdir");
        let new = dir.path().join("moved").join("b.dmm");
        let mut live = Live::open(
            &old,
            Box::new(CpuBackend::new()),
            LiveOptions {
                audio: false,
                watch: false, // the pane watches, as in the window
                capture_every: 1,
                morph: None,
                trace: None,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        live.set_autosave(true);
        live.store_scene(1).unwrap_or_else(|e| panic!("{e}"));
        assert!(scenes_path(&old).exists());
        let mut s = Session::new(live, Vec::new(), true);
        s.watch_file();
        let mut h = harness(s);
        run_until(&mut h, "the old file's recovery file", |_| {
            recovery_path(&old).exists()
        });
        // Typed but unsaved; Save As writes the buffer as it is.
        h.event(egui::Event::Text("# saved as\n".into()));
        h.run();
        let typed = h.state().code.text.clone();
        assert!(typed.ends_with("# saved as\n"), "{typed}");
        h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::S);
        h.run();
        h.state_mut()
            .prompt
            .as_mut()
            .expect("the save-as prompt")
            .text = new.display().to_string();
        h.run();
        h.get_by_label("OK").click();
        h.run();
        h.run();
        assert!(h.state().prompt.is_none());
        assert_eq!(std::fs::read_to_string(&new).expect("new file"), typed);
        assert_eq!(std::fs::read_to_string(&old).expect("old file"), DMM);
        assert_eq!(h.state().live().path(), new.as_path(), "Live follows");
        assert_eq!(h.state().title(), "b.dmm - dmm-synth");
        assert!(scenes_path(&new).exists(), "the scenes go with the patch");
        run_until(&mut h, "the new file's recovery file", |_| {
            recovery_path(&new).exists()
        });
        assert!(
            !recovery_path(&old).exists(),
            "the old file's recovery file would offer a stale program"
        );

        // Ctrl+S writes the new file (its previous version kept beside it), not the old one.
        h.event(egui::Event::Text("lfo.a <- 2*pi\n".into()));
        h.key_press_modifiers(Modifiers::COMMAND, Key::S);
        h.run();
        let saved = h.state().code.text.clone();
        assert_eq!(std::fs::read_to_string(&new).expect("new file"), saved);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("moved").join("b.dmm.bak")).expect("bak"),
            typed
        );
        assert_eq!(std::fs::read_to_string(&old).expect("old file"), DMM);
        assert!(!dir.path().join("a.dmm.bak").exists());
        assert!(!h.state().code.dirty());

        // Hot reload follows the new file: a change to the old one is not taken, one to the
        // new one is reloaded and evaluated.
        let on_old = DMM.replace("lfo.x   <-   0.5 k", "lfo.x <- 0.125 k");
        std::fs::write(&old, &on_old).expect("write");
        let on_new = saved.replace("lfo.x   <-   0.5 k", "lfo.x <- 0.75 k");
        assert_ne!(on_new, saved);
        std::fs::write(&new, &on_new).expect("write");
        run_until(&mut h, "the reload of the new file", |s| {
            s.code.text == on_new && w(s, "lfo.x", "k.out") == 0.75
        });
        for _ in 0..30 {
            h.run();
        }
        assert_eq!(h.state().code.text, on_new);
        assert!(h.state().code.disk_notice.is_none());
        assert_eq!(w(h.state(), "lfo.x", "k.out"), 0.75);
        h.into_state().into_live().stop();
    }

    #[test]
    fn ctrl_shift_r_regenerates_the_text_from_the_running_network() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.dmm");
        std::fs::write(&path, DMM).expect("write");
        let mut h = harness(open(&path));
        h.event(egui::Event::Text("lfo.b <- 0.5 xy".into()));
        h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
        h.run();
        assert!(!h.state().code.errors.is_empty(), "xy is an image: refused");
        h.event(egui::Event::Text("\nlfo.b <- 0.5 k".into()));
        h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
        run_until(&mut h, "the row in W", |s| w(s, "lfo.b", "k.out") == 0.5);
        h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::R);
        h.run();
        let text = h.state().code.text.clone();
        assert!(!text.contains("0.5 xy"), "only what runs: {text}");
        let p2 = dmm_synth::patch::text::parse_text(&text, "regen", &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let snap = h.state().latest().expect("snap").clone();
        assert_eq!(p2.initial_w(), snap.w, "the text states the running W");
        h.into_state().into_live().stop();
    }
}

#[test]
fn readme_lists_the_editor_keys() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (keys, _) in dmm_synth::ui::keys::EDITOR_KEYS {
        assert!(
            readme.contains(&format!("| {keys} |")),
            "README lacks {keys}"
        );
    }
}

/// A right click on a coefficient of a row asks to learn that weight (target, source, the row's
/// coefficient); elsewhere on the row it asks nothing.
#[test]
fn right_click_on_a_coefficient_learns_that_weight() {
    let row = "show.in <- 0.8 xy.x + 0.2 ones";
    let text = format!("# a row\n{row}\n");
    let mut h = harness(state(&text));
    let right_click = |h: &mut Harness<'static, S>, what: &str| {
        let c = text.find(what).expect("in the text") + 1;
        let at = h.state().code.point_of_char(c).expect("drawn");
        h.hover_at(at);
        h.run();
        for pressed in [true, false] {
            h.event(egui::Event::PointerButton {
                pos: at,
                button: egui::PointerButton::Secondary,
                pressed,
                modifiers: Modifiers::NONE,
            });
        }
        h.run();
        std::mem::take(&mut h.state_mut().sent)
    };
    let learned = |sent: Vec<Request>| match sent.as_slice() {
        [Request::Learn(w)] => (w.target.to_string(), w.source.to_string(), w.weight),
        other => panic!("expected one learn request, got {other:?}"),
    };
    assert_eq!(
        learned(right_click(&mut h, "0.8")),
        ("show.in".into(), "xy.x".into(), 0.8)
    );
    assert_eq!(
        learned(right_click(&mut h, "0.2")),
        ("show.in".into(), "ones.out".into(), 0.2)
    );
    assert!(
        right_click(&mut h, "show.in").is_empty(),
        "the target is no weight"
    );
    assert!(
        right_click(&mut h, "a row").is_empty(),
        "a comment is no weight"
    );
    assert_eq!(h.state().code.text, text, "a right click changes no text");
}
