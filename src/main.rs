//! The command line: parse, call into the library, print errors. anyhow lives here only.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use cpal::traits::{DeviceTrait, HostTrait};
use dmm_synth::audio::quiet::Quiet;
use dmm_synth::backend::{self, BackendChoice, gpu};
use dmm_synth::control::learn::parse_mapping;
use dmm_synth::control::out::OutOptions;
use dmm_synth::control::send::{Selection, select, send_eval};
use dmm_synth::control::{ControlOptions, DEFAULT_OSC_PORT};
use dmm_synth::engine::Level;
use dmm_synth::engine::edits::parse_edits_jsonl;
use dmm_synth::live::LiveOptions;
use dmm_synth::live::headless::play_and_record;
use dmm_synth::live::record::RecordOptions;
use dmm_synth::patch::{Patch, budget, one_line};
use dmm_synth::render::{RenderOptions, render};
use dmm_synth::ui::editor::script::parse_script;
use dmm_synth::ui::{CaptureRequest, OutputOptions, WindowOptions, run_window};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dmm-synth",
    version,
    about = "A live-coding audiovisual synthesizer whose engine is a dataflow matrix machine"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    play: PlayArgs,
}

/// `dmm-synth [PATCH]`: open the live window (picture, panel, sound, hot reload).
#[derive(clap::Args)]
struct PlayArgs {
    /// The patch to play.
    #[arg(default_value = "patches/default.dmm")]
    patch: PathBuf,
    /// Do not open the sound card (null sink paced by the wall clock).
    #[arg(long)]
    no_audio: bool,
    /// Do not watch the patch file for changes.
    #[arg(long)]
    no_watch: bool,
    /// Spread hot-reloaded weight changes over this many seconds (overrides the file's morph_time).
    #[arg(long)]
    morph: Option<f64>,
    /// Start with the panel hidden (Ctrl+Shift+H shows it).
    #[arg(long)]
    hide_panel: bool,
    /// Window size in logical pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    size: [u32; 2],
    /// Write the window's own picture (display and panel) at this engine tick.
    #[arg(long, requires = "capture_out")]
    capture_tick: Option<u64>,
    /// PNG file for --capture-tick.
    #[arg(long, requires = "capture_tick")]
    capture_out: Option<PathBuf>,
    /// Quit once the capture is written.
    #[arg(long, requires = "capture_tick")]
    exit_after_capture: bool,
    /// Timed edit requests to send while playing, one JSON object per line with a "tick" field.
    #[arg(long)]
    edits: Option<PathBuf>,
    /// Text and keys to type into the code pane at engine ticks, one JSON object per line:
    /// {"tick": N, "text": "..."} or {"tick": N, "key": "ctrl+enter"} (a test hook).
    #[arg(long = "type", value_name = "FILE")]
    typed: Option<PathBuf>,
    /// auto: the GPU on a hardware adapter, else the CPU; gpu or cpu to choose.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// UDP port for OSC in (/dmm/w, /dmm/eval, /dmm/mute, /dmm/scene, /dmm/xfade).
    #[arg(long, default_value_t = DEFAULT_OSC_PORT)]
    osc_port: u16,
    /// Address OSC in listens on; 0.0.0.0 listens on the network (on purpose only).
    #[arg(long, default_value = "127.0.0.1")]
    osc_bind: std::net::IpAddr,
    /// Do not listen for OSC.
    #[arg(long, conflicts_with_all = ["osc_port", "osc_bind"])]
    no_osc: bool,
    /// Send scalar outputs as /dmm/out/neuron.port to HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    osc_out: Option<String>,
    /// Which scalar outputs to send, comma-separated neuron.port names (default: all).
    #[arg(long, value_delimiter = ',', requires = "osc_out")]
    osc_out_ports: Vec<String>,
    /// Messages per second per output for --osc-out.
    #[arg(long, default_value_t = 30.0, requires = "osc_out")]
    osc_out_rate: f64,
    /// Listen to every MIDI input port (ports plugged in later too).
    #[arg(long)]
    midi: bool,
    /// Map a MIDI controller onto a weight: CH:CC=target.port<-source.port:MIN..MAX[:exp][:SECONDS]
    /// (CH 0: any channel; SECONDS: smoothing). Repeatable; implies --midi.
    #[arg(long, value_name = "SPEC")]
    midi_map: Vec<String>,
    /// Take only the MIDI input ports whose name contains NAME (any case) at first; the others
    /// are listed in the panel, off. Repeatable; implies --midi.
    #[arg(long, value_name = "NAME")]
    midi_in: Vec<String>,
    /// Record from the first tick into this folder (Ctrl+R records from any moment).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Restore the program a crash left in NAME.recover.json without asking.
    #[arg(long)]
    restore: bool,
    /// Open the output window (only the picture, borderless, for a projector; Ctrl+Shift+O
    /// toggles it, F11 there makes it fullscreen).
    #[arg(long)]
    output_window: bool,
    /// Open the output window fullscreen on this monitor (0 is the first; the log lists them).
    #[arg(long, value_name = "N", requires = "output_window")]
    output_monitor: Option<usize>,
    /// Also write the output window's picture to this PNG, in the same frame as --capture-out.
    #[arg(long, value_name = "PATH", requires = "capture_tick")]
    capture_output: Option<PathBuf>,
}

/// The OSC settings from the flags.
fn control_options(a: &PlayArgs) -> Result<ControlOptions> {
    let osc_out = match &a.osc_out {
        Some(hp) => Some(OutOptions {
            to: resolve(hp)?,
            ports: a.osc_out_ports.clone(),
            rate: a.osc_out_rate,
        }),
        None => None,
    };
    let midi_maps = a
        .midi_map
        .iter()
        .map(|m| parse_mapping(m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ControlOptions {
        osc_in: (!a.no_osc).then(|| std::net::SocketAddr::new(a.osc_bind, a.osc_port)),
        osc_out,
        midi: a.midi || !a.midi_in.is_empty(),
        midi_in: a.midi_in.clone(),
        midi_maps,
        osc_maps: Vec::new(),
        perform_maps: Vec::new(),
    })
}

/// `HOST:PORT` → a socket address (the first one the name resolves to).
fn resolve(hp: &str) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    hp.to_socket_addrs()
        .with_context(|| format!("{hp:?}: expected HOST:PORT such as 127.0.0.1:9001"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{hp:?}: the name resolves to no address"))
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let bad = || format!("expected WIDTHxHEIGHT such as 1280x800, found {s:?}");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(64..=16384).contains(&w) || !(64..=16384).contains(&h) {
        return Err(format!("window size {w}x{h} is outside 64..=16384"));
    }
    Ok([w, h])
}

fn read_edits(path: &std::path::Path) -> Result<Vec<dmm_synth::engine::TimedEdit>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_edits_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), one_line(&e)))
}

fn play(a: PlayArgs) -> Result<ExitCode> {
    let control = control_options(&a)?;
    let edits = match &a.edits {
        Some(p) => read_edits(p)?,
        None => Vec::new(),
    };
    let typed = match &a.typed {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            parse_script(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => Vec::new(),
    };
    let capture = match (a.capture_tick, a.capture_out) {
        (Some(tick), Some(out)) => Some(CaptureRequest {
            tick,
            out,
            exit: a.exit_after_capture,
        }),
        _ => None,
    };
    let mut opts = WindowOptions {
        patch: a.patch,
        audio: !a.no_audio,
        watch: !a.no_watch,
        morph: a.morph,
        capture,
        edits,
        typed,
        size: a.size,
        panel: !a.hide_panel,
        notes: Vec::new(),
        control,
        record: a.record,
        restore: a.restore,
        output: OutputOptions {
            open: a.output_window,
            monitor: a.output_monitor,
            capture: a.capture_output,
        },
    };
    let (backend, note) = backend::create(a.backend)?;
    if let Some(note) = note {
        eprintln!("{note}");
        opts.notes.push(note);
    }
    run_window(opts, backend)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum Command {
    /// Check patch files; print every error (file, place, what was expected). Exit 1 on any error.
    Check {
        #[arg(required = true)]
        patches: Vec<PathBuf>,
    },
    /// Run a patch headless as fast as possible; write PNG frames, audio.wav and trace.jsonl.
    Render(RenderArgs),
    /// Convert a patch between JSON (.json) and the text language (.dmm), by extension.
    Convert { from: PathBuf, to: PathBuf },
    /// Send lines of FILE (or standard input: -) to the running instrument as /dmm/eval.
    Send(SendArgs),
    /// Print the neuron table (markdown).
    Types,
    /// Print a patch generated from a Processing sketch (lightweight_waves, afterlife_sleep_wake,
    /// afterlife_conway, afterlife_sound): the shipped patches/NAME.dmm are this output.
    Gen { name: String },
    /// List GPU adapters (name, API, device type) and audio output devices.
    Info,
    /// Play a patch without a window and record it into a folder that `render --edits` replays.
    Record(RecordArgs),
}

#[derive(clap::Args)]
struct RecordArgs {
    patch: PathBuf,
    /// The recording folder (start.json, edits.jsonl, audio.wav, frames, meta.json).
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many seconds of engine time (default: until the process is stopped).
    #[arg(long)]
    seconds: Option<f64>,
    /// Timed edit requests to send while playing, one JSON object per line with a "tick" field.
    #[arg(long)]
    edits: Option<PathBuf>,
    /// Display frames per second to keep (0: none).
    #[arg(long, default_value_t = 15.0)]
    fps: f64,
    /// Do not open the sound card (null sink paced by the wall clock).
    #[arg(long)]
    no_audio: bool,
    /// auto: the GPU on a hardware adapter, else the CPU; gpu or cpu to choose.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
}

#[derive(clap::Args)]
struct SendArgs {
    /// The file to take lines from; - reads standard input.
    file: PathBuf,
    /// Send line N (1-based).
    #[arg(long, group = "which")]
    line: Option<usize>,
    /// Send the paragraph (lines between blank lines) holding line N.
    #[arg(long, group = "which")]
    paragraph: Option<usize>,
    /// Send the whole file (the default).
    #[arg(long, group = "which")]
    all: bool,
    /// Where the instrument listens.
    #[arg(long, default_value = "127.0.0.1:9000", value_name = "HOST:PORT")]
    to: String,
    /// Number the lines sent from N in error messages (for text piped from an editor).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    first_line: Option<u32>,
}

fn send_cmd(a: SendArgs) -> Result<ExitCode> {
    let text = if a.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?
    };
    let sel = match (a.line, a.paragraph) {
        (Some(n), _) => Selection::Line(n),
        (_, Some(n)) => Selection::Paragraph(n),
        _ => Selection::All,
    };
    let (first, lines) =
        select(&text, sel).map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    let first = a.first_line.map_or(first, |n| n as usize + first - 1);
    let to = resolve(&a.to)?;
    send_eval(to, &lines, first)?;
    let n = lines.lines().count();
    println!(
        "sent {n} line{} (from line {first}) to {to}",
        if n == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
struct RenderArgs {
    patch: PathBuf,
    /// Number of ticks to run.
    #[arg(long, default_value_t = 375)]
    ticks: u64,
    /// Output folder.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Write a frame of every display neuron every K-th tick.
    #[arg(long, default_value_t = 1)]
    every: u64,
    /// Timed edit requests to replay, one JSON object per line with a "tick" field.
    #[arg(long)]
    edits: Option<PathBuf>,
    /// Stamped MIDI events to replay into the midi_* neurons, one per line:
    /// {"tick": N, "time_us": T, "midi": [STATUS, DATA...]} (a recording's midi.jsonl).
    #[arg(long)]
    midi: Option<PathBuf>,
    /// Seed for every noise neuron.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto: the GPU on a hardware adapter, else the CPU; gpu or cpu to choose.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Also for the window: without XDG_RUNTIME_DIR no Wayland compositor can be reached, so the
    // device-selection layer has nothing to learn there and would only print its complaint.
    // SAFETY: first thing in `main`, before any other thread exists.
    unsafe { dmm_synth::backend::gpu::context::quiet_gpu_probe() };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let Some(command) = cli.command else {
        return play(cli.play);
    };
    match command {
        Command::Check { patches } => Ok(check(&patches)),
        Command::Render(args) => render_cmd(args),
        Command::Send(args) => send_cmd(args),
        Command::Convert { from, to } => {
            let p = Patch::load(&from).map_err(|e| anyhow::anyhow!("{e}"))?;
            p.save(&to)
                .with_context(|| format!("cannot write {}", to.display()))?;
            println!("{} -> {}", from.display(), to.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Types => {
            print!("{}", dmm_synth::neurons::table::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Gen { name } => match dmm_synth::patch::sketches::generate(&name) {
            Some(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            None => anyhow::bail!(
                "unknown sketch {name:?}; expected one of: {}",
                dmm_synth::patch::sketches::NAMES.join(", ")
            ),
        },
        Command::Info => {
            info();
            Ok(ExitCode::SUCCESS)
        }
        Command::Record(args) => record_cmd(args),
    }
}

/// `record`: headless play with a recording; prints the command that replays it.
fn record_cmd(a: RecordArgs) -> Result<ExitCode> {
    if let Some(s) = a.seconds
        && !(s.is_finite() && s >= 0.0)
    {
        bail!("--seconds {s}: expected a finite number of seconds, 0 or more");
    }
    let edits = match &a.edits {
        Some(p) => read_edits(p)?,
        None => Vec::new(),
    };
    let (backend, note) = backend::create(a.backend)?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let opts = LiveOptions {
        audio: !a.no_audio,
        watch: false,
        capture_every: 0,
        morph: None,
        trace: None,
    };
    let rec = RecordOptions {
        frames_per_second: a.fps,
        ..RecordOptions::new(&a.out)
    };
    let summary = play_and_record(&a.patch, backend, opts, &rec, edits, a.seconds, |l| {
        eprintln!("{}", one_line(l))
    })
    .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))?;
    println!(
        "recorded {} ticks, {} edit(s), {} frame(s) into {}",
        summary.ticks,
        summary.edits,
        summary.frames,
        summary.dir.display()
    );
    println!("replay: {}", summary.render);
    Ok(ExitCode::SUCCESS)
}

/// `check`: every error of every file, one line each; exit 1 if any file has one.
fn check(patches: &[PathBuf]) -> ExitCode {
    let mut bad = 0;
    for p in patches {
        match Patch::load(p) {
            Ok(patch) => println!(
                "{}: ok ({} neurons, {} weights, {} of streams)",
                one_line(&p.display().to_string()),
                patch.neurons.len(),
                patch.weights.len(),
                budget::mib(budget::network_bytes(&patch.network))
            ),
            Err(errs) => {
                bad += 1;
                eprintln!("{errs}");
            }
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `render`: exit 1 when an edit request was rejected.
fn render_cmd(a: RenderArgs) -> Result<ExitCode> {
    let p = Patch::load(&a.patch).map_err(|e| anyhow::anyhow!("{e}"))?;
    let edits = match &a.edits {
        Some(path) => read_edits(path)?,
        None => Vec::new(),
    };
    let midi = match &a.midi {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            dmm_synth::engine::midi_log::parse_midi_jsonl(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), one_line(&e)))?
        }
        None => Vec::new(),
    };
    if a.every == 0 {
        bail!("--every must be at least 1");
    }
    let opts = RenderOptions {
        ticks: a.ticks,
        out_dir: a.out.clone(),
        every: a.every,
        edits,
        midi,
        seed: a.seed,
    };
    let (backend, note) = backend::create(a.backend)?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let name = backend.name();
    let report = render(&p, backend, &opts, |m| {
        let tag = if m.level == Level::Error {
            "error"
        } else {
            "note"
        };
        eprintln!("tick {}: {tag}: {}", m.tick, one_line(&m.text));
    })?;
    println!(
        "rendered {} ticks ({:.2} s of audio) in {:.2} s wall ({:.1}x real time) on the {name} backend",
        report.ticks,
        report.audio_seconds,
        report.wall_seconds,
        report.audio_seconds / report.wall_seconds.max(1e-9)
    );
    println!(
        "wrote {} frame(s), audio.wav and trace.jsonl to {}",
        report.frames_written,
        a.out.display()
    );
    Ok(if report.rejected_edits > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Adapters and audio devices, and what `--backend auto` would pick.
fn info() {
    println!("GPU adapters:");
    let adapters = gpu::adapters();
    if adapters.is_empty() {
        println!(
            "  none (install Vulkan drivers, e.g. mesa-vulkan-drivers, for a GPU or lavapipe)"
        );
    }
    for a in &adapters {
        println!(
            "  {} | {} | {}{} | {}",
            a.name,
            a.api,
            a.device_type,
            if a.software { " (software)" } else { "" },
            a.driver
        );
    }
    match backend::create(BackendChoice::Auto) {
        Ok((b, note)) => {
            println!("--backend auto picks: {}", b.name());
            if let Some(n) = note {
                println!("  {n}");
            }
        }
        Err(e) => println!("--backend auto fails: {e}"),
    }
    println!("Audio output devices:");
    // alsa-lib prints its own lines for every missing card; the list below says it once.
    let quiet = Quiet::new();
    let host = cpal::default_host();
    let default = host
        .default_output_device()
        .and_then(|d| d.description().ok())
        .map(|d| d.name().to_string());
    match host.output_devices() {
        Ok(devs) => {
            let mut any = false;
            for d in devs {
                any = true;
                let name = d
                    .description()
                    .map(|d| d.name().to_string())
                    .unwrap_or_else(|e| format!("(unnamed: {e})"));
                let config = d
                    .default_output_config()
                    .map(|c| {
                        format!(
                            "{} Hz, {} ch, {:?}",
                            c.sample_rate(),
                            c.channels(),
                            c.sample_format()
                        )
                    })
                    .unwrap_or_else(|e| format!("no default config: {e}"));
                let mark = if default.as_deref() == Some(name.as_str()) {
                    " (default)"
                } else {
                    ""
                };
                println!("  {name}{mark} | {config}");
            }
            if !any {
                println!("  none: no sound card (the app plays into a null sink)");
            }
        }
        Err(e) => println!("  cannot list devices: {e}"),
    }
    if quiet.swallowed() > 0 {
        println!(
            "  ({} messages from alsa-lib silenced: it found no usable sound card)",
            quiet.swallowed()
        );
    }
}
