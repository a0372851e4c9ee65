//! Headless rendering: run a patch as fast as possible and write what it shows and plays.
//! Same patch, edits and seed give byte-identical files.

use crate::audio::wav::WavSink;
use crate::backend::{Backend, Frame};
use crate::engine::edits::{EditOutcome, TimedEdit};
use crate::engine::machine::{EngineError, Level, Machine, Message};
use crate::neurons::{AssetDirs, Network};
use crate::patch::Patch;
use crate::trace::TraceFile;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Wav { path: PathBuf, err: hound::Error },
    #[error("{path}: {err}")]
    Png {
        path: PathBuf,
        err: image::ImageError,
    },
}

pub struct RenderOptions {
    pub ticks: u64,
    pub out_dir: PathBuf,
    /// Write frames on ticks t with (t + 1) % every == 0.
    pub every: u64,
    pub edits: Vec<TimedEdit>,
    /// Stamped MIDI events to feed the `midi_*` neurons (`render --midi`, `midi.jsonl`): each
    /// taken at the start of its tick, as the live engine took it.
    pub midi: Vec<crate::engine::midi_log::StampedMidi>,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct RenderReport {
    pub ticks: u64,
    pub frames_written: usize,
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    pub messages: Vec<Message>,
    pub rejected_edits: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |err| RenderError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// Writes a frame as an RGB PNG.
pub fn write_png(path: &Path, f: &Frame) -> Result<(), RenderError> {
    let rgb: Vec<u8> = f.rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    image::save_buffer(
        path,
        &rgb,
        f.cols as u32,
        f.rows as u32,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|err| RenderError::Png {
        path: path.to_path_buf(),
        err,
    })
}

/// Renders `patch` for `opts.ticks` ticks into `opts.out_dir`: `NAME_TICK.png` per display
/// neuron, `audio.wav`, `trace.jsonl` (one line per tick with every scalar output).
pub fn render(
    patch: &Patch,
    backend: Box<dyn Backend>,
    opts: &RenderOptions,
    mut on_message: impl FnMut(&Message),
) -> Result<RenderReport, RenderError> {
    std::fs::create_dir_all(&opts.out_dir).map_err(io(&opts.out_dir))?;
    let assets = patch
        .path
        .as_deref()
        .map(AssetDirs::for_patch)
        .unwrap_or_default();
    let mut m = Machine::new(
        patch.network.clone(),
        patch.initial_w(),
        backend,
        assets,
        opts.seed,
    )?;
    let mut sinks = Sinks::create(&opts.out_dir, patch.settings.sample_rate)?;
    let mut report = RenderReport::default();
    let every = opts.every.max(1);
    let mut pending = opts.edits.iter().peekable();
    let mut midi = opts.midi.iter().peekable();
    let start = Instant::now();
    for t in 0..opts.ticks {
        while let Some(e) = pending.next_if(|e| e.tick <= t) {
            m.submit(e.edit.clone());
        }
        while let Some(s) = midi.next_if(|s| s.tick <= t) {
            m.midi_at(t, s.ev);
        }
        let capture = (t + 1) % every == 0;
        m.tick(capture)?;
        report.frames_written += sinks.write_tick(&m, t)?;
        report_tick(&mut m, &mut report, &mut on_message);
    }
    sinks.finish()?;
    report.ticks = opts.ticks;
    report.wall_seconds = start.elapsed().as_secs_f64();
    report.audio_seconds = opts.ticks as f64 / patch.settings.tick_rate;
    Ok(report)
}

/// The files a render writes: the sound, the trace, and the frames, beside each other.
struct Sinks {
    dir: PathBuf,
    wav: WavSink,
    wav_path: PathBuf,
    trace: TraceFile,
    trace_path: PathBuf,
    /// The trace's column names, and the catalogue they are for (they change only with it).
    names: Option<(Arc<Network>, Vec<String>)>,
}

impl Sinks {
    fn create(dir: &Path, sample_rate: u32) -> Result<Sinks, RenderError> {
        let wav_path = dir.join("audio.wav");
        let wav = WavSink::create(&wav_path, sample_rate).map_err(|err| RenderError::Wav {
            path: wav_path.clone(),
            err,
        })?;
        let trace_path = dir.join("trace.jsonl");
        let trace = TraceFile::create(&trace_path).map_err(io(&trace_path))?;
        Ok(Sinks {
            dir: dir.to_path_buf(),
            wav,
            wav_path,
            trace,
            trace_path,
            names: None,
        })
    }

    /// Writes tick `t`'s audio block, frames and trace line; returns the frames written.
    fn write_tick(&mut self, m: &Machine, t: u64) -> Result<usize, RenderError> {
        let out = m.outputs();
        self.wav
            .write_block(&out.left, &out.right)
            .map_err(|err| RenderError::Wav {
                path: self.wav_path.clone(),
                err,
            })?;
        for f in &out.frames {
            let name = &m.network().neurons[f.neuron].name;
            write_png(&self.dir.join(format!("{name}_{t:06}.png")), f)?;
        }
        let net = m.network();
        if self
            .names
            .as_ref()
            .is_none_or(|(n, _)| !Arc::ptr_eq(n, net))
        {
            self.names = Some((net.clone(), m.scalar_names()));
        }
        let row_names = self
            .names
            .as_ref()
            .map(|(_, n)| n.as_slice())
            .unwrap_or_default();
        self.trace
            .write(t, row_names, &out.scalars)
            .map_err(io(&self.trace_path))?;
        Ok(out.frames.len())
    }

    fn finish(mut self) -> Result<(), RenderError> {
        self.trace.flush().map_err(io(&self.trace_path))?;
        self.wav.finish().map_err(|err| RenderError::Wav {
            path: self.wav_path.clone(),
            err,
        })
    }
}

/// The tick's messages, and its rejected requests: a rejection arrives only as its outcome,
/// counted and said once.
fn report_tick(m: &mut Machine, report: &mut RenderReport, on_message: &mut impl FnMut(&Message)) {
    for msg in m.take_messages() {
        on_message(&msg);
        report.messages.push(msg);
    }
    for (_, outcome) in m.take_outcomes() {
        if let EditOutcome::Rejected { tick, .. } = &outcome {
            report.rejected_edits += 1;
            let msg = Message {
                tick: *tick,
                level: Level::Error,
                text: format!("edit rejected: {}", outcome.reasons()),
            };
            on_message(&msg);
            report.messages.push(msg);
        }
    }
}
