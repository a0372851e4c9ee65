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
            Request::Apply(_) => panic!("expected an edit request, got a whole patch"),
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
