//! Live recording into a folder that `render` replays:
//!
//! - `start.json`: the program as it ran when the recording started (network and W);
//! - `edits.jsonl`: every edit request with the tick (from the start) at which the engine took
//!   it, in `render --edits` form (OSC and MIDI mappings onto weights arrive here, as `set`s);
//! - `midi.jsonl`: every MIDI event with the tick that took it, in `render --midi` form
//!   (`engine::midi_log`): what the `midi_*` neurons read;
//! - `audio.wav`: 32-bit float stereo, its header rewritten at every flush (4 times a second),
//!   so a crash or `kill -9` leaves a file that plays up to the last flush;
//! - `frames/NAME_TICK.png` at the chosen rate, or `NAME.mp4` per display when `ffmpeg` is on
//!   the PATH;
//! - `meta.json` at the end: ticks, seed, backend and the `render` command that replays it.
//!
//! The engine thread feeds a `Tap` (engine/tap.rs); a writer thread here does the disk work.
//! A recording started at tick 0 (`--record`) re-renders byte for byte on the same backend; one
//! started later starts from the running network and W, but neurons' inner state (phases,
//! accumulators) is not in a patch, so its re-render starts them from `init`.

use crate::audio::wav::WavSink;
use crate::engine::edits::TimedEdit;
use crate::engine::tap::{Tap, TapItem};
use crate::patch::Patch;
use crate::render::write_png;
use crossbeam_channel::{Receiver, unbounded};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("recording {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("recording {path}: {err}")]
    Wav { path: PathBuf, err: hound::Error },
    #[error("recording {0}: {1}")]
    Frame(PathBuf, String),
    #[error("recording {0}: the engine stopped before the recording started")]
    NoStart(PathBuf),
    #[error("recording frame rate {0}: expected a finite number of frames a second, 0 or more")]
    BadRate(f64),
}

#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub dir: PathBuf,
    /// Display frames per second to keep (0: none).
    pub frames_per_second: f64,
    /// Write a video with `ffmpeg` when it is on the PATH (else PNGs).
    pub video: bool,
}

impl RecordOptions {
    pub fn new(dir: &Path) -> RecordOptions {
        RecordOptions {
            dir: dir.to_path_buf(),
            frames_per_second: 15.0,
            video: true,
        }
    }
}

/// What a finished recording holds.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSummary {
    pub dir: PathBuf,
    pub ticks: u64,
    pub edits: usize,
    /// MIDI events recorded (`midi.jsonl`).
    pub midi: usize,
    pub frames: usize,
    /// The command that re-renders it.
    pub render: String,
}

/// A recording in progress: the writer thread behind a tap.
pub struct Recording {
    dir: PathBuf,
    join: JoinHandle<Result<RecordSummary, RecordError>>,
    /// "PNG frames in DIR/frames" or "a video per display (ffmpeg)".
    pub frames_note: String,
}

/// `recordings/NAME-UNIXSECONDS` next to the patch: a new folder for each recording.
pub fn default_dir(patch: &Path) -> PathBuf {
    let stem = patch
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "patch".into());
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = patch.parent().unwrap_or(Path::new("."));
    let mut dir = base.join("recordings").join(format!("{stem}-{secs}"));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join("recordings").join(format!("{stem}-{secs}-{n}"));
    }
    dir
}

/// `ffmpeg` on the PATH, if any.
fn ffmpeg() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ffmpeg"))
        .find(|p| p.is_file())
}

impl Recording {
    /// Creates the folder and starts the writer; the returned tap goes to the engine.
    pub fn start(
        opts: &RecordOptions,
        tick_rate: f64,
        comment: Option<String>,
    ) -> Result<(Recording, Tap), RecordError> {
        let fps = opts.frames_per_second;
        if !(fps.is_finite() && fps >= 0.0) {
            return Err(RecordError::BadRate(fps));
        }
        let dir = opts.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let frame_every = if fps > 0.0 {
            (tick_rate / fps).round().max(1.0) as u64
        } else {
            0
        };
        let video = opts.video.then(ffmpeg).flatten();
        let frames_note = match (&video, frame_every) {
            (_, 0) => "no frames".to_string(),
            (Some(f), _) => format!("a video per display neuron ({})", f.display()),
            (None, _) => format!("PNG frames in {}", dir.join("frames").display()),
        };
        let (tx, rx) = unbounded();
        let d = dir.clone();
        let join = std::thread::Builder::new()
            .name("dmm-record".into())
            .spawn(move || {
                Writer::new(d, comment, video, tick_rate / frame_every.max(1) as f64).run(rx)
            })
            .map_err(io(&dir))?;
        Ok((
            Recording {
                dir,
                join,
                frames_note,
            },
            Tap { tx, frame_every },
        ))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the writer has ended (its tap was removed, or the engine stopped).
    pub fn finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Waits for the writer (the tap must be gone: removed, or its engine stopped).
    pub fn finish(self) -> Result<RecordSummary, RecordError> {
        self.join.join().unwrap_or_else(|_| {
            Err(RecordError::Io {
                path: self.dir.clone(),
                err: std::io::Error::other("the recording writer panicked"),
            })
        })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |err| RecordError::Io {
        path: path.to_path_buf(),
        err,
    }
}

/// The files of a recording once it has started.
struct Files {
    wav: WavSink,
    edits: BufWriter<File>,
    midi: BufWriter<File>,
    start: u64,
    seed: u64,
    backend: String,
    blocks_per_flush: u64,
}

struct Writer {
    dir: PathBuf,
    comment: Option<String>,
    ffmpeg: Option<PathBuf>,
    fps: f64,
    videos: Vec<(String, Child, ChildStdin)>,
    ticks: u64,
    edits: usize,
    midi: usize,
    frames: usize,
}

impl Writer {
    fn new(dir: PathBuf, comment: Option<String>, ffmpeg: Option<PathBuf>, fps: f64) -> Writer {
        Writer {
            dir,
            comment,
            ffmpeg,
            fps,
            videos: Vec::new(),
            ticks: 0,
            edits: 0,
            midi: 0,
            frames: 0,
        }
    }

    fn run(mut self, rx: Receiver<TapItem>) -> Result<RecordSummary, RecordError> {
        let mut files = match rx.recv() {
            Ok(TapItem::Start {
                tick,
                net,
                w,
                seed,
                backend,
            }) => {
                let p = Patch::from_running(&net.settings, self.comment.clone(), &net, &w);
                self.begin(&p, tick, seed, backend)?
            }
            _ => return Err(RecordError::NoStart(self.dir.clone())),
        };
        let wav_path = self.dir.join("audio.wav");
        let mut since_flush = 0u64;
        // Ends when the tap is removed or the engine thread stops.
        while let Ok(first) = rx.recv() {
            for item in std::iter::once(first).chain(rx.try_iter()) {
                match item {
                    TapItem::Start { .. } => {}
                    TapItem::Edit { tick, edit } => {
                        let line = serde_json::to_string(&TimedEdit {
                            tick: tick - files.start,
                            edit,
                        })
                        .map_err(|e| io(&self.dir)(std::io::Error::other(e)))?;
                        // A non-finite number (which the engine rejects anyway) is written
                        // as `null` and would not parse back: keep it as a comment, so
                        // `render --edits` still reads the file.
                        if serde_json::from_str::<TimedEdit>(&line).is_ok() {
                            writeln!(files.edits, "{line}").map_err(io(&self.dir))?;
                        } else {
                            writeln!(files.edits, "// not replayable (rejected): {line}")
                                .map_err(io(&self.dir))?;
                        }
                        self.edits += 1;
                    }
                    TapItem::Midi { tick, ev } => {
                        let s = crate::engine::midi_log::StampedMidi {
                            tick: tick - files.start,
                            ev,
                        };
                        writeln!(files.midi, "{}", crate::engine::midi_log::line(&s))
                            .map_err(io(&self.dir))?;
                        self.midi += 1;
                    }
                    TapItem::Block { left, right, .. } => {
                        files
                            .wav
                            .write_block(&left, &right)
                            .map_err(|err| RecordError::Wav {
                                path: wav_path.clone(),
                                err,
                            })?;
                        self.ticks += 1;
                        since_flush += 1;
                    }
                    TapItem::Frames { tick, frames } => self.frames(tick - files.start, frames)?,
                }
            }
            files.edits.flush().map_err(io(&self.dir))?;
            files.midi.flush().map_err(io(&self.dir))?;
            if since_flush >= files.blocks_per_flush {
                since_flush = 0;
                files.wav.flush().map_err(|err| RecordError::Wav {
                    path: wav_path.clone(),
                    err,
                })?;
            }
        }
        self.end(files)
    }

    /// Writes `start.json` and opens `audio.wav` and `edits.jsonl`.
    fn begin(
        &mut self,
        p: &Patch,
        start: u64,
        seed: u64,
        backend: String,
    ) -> Result<Files, RecordError> {
        let start_path = self.dir.join("start.json");
        crate::patch::save_atomic(&start_path, p.to_json_string().as_bytes())
            .map_err(io(&start_path))?;
        let wav_path = self.dir.join("audio.wav");
        let wav =
            WavSink::create(&wav_path, p.settings.sample_rate).map_err(|err| RecordError::Wav {
                path: wav_path.clone(),
                err,
            })?;
        let edits_path = self.dir.join("edits.jsonl");
        let edits = BufWriter::new(File::create(&edits_path).map_err(io(&edits_path))?);
        let midi_path = self.dir.join("midi.jsonl");
        let midi = BufWriter::new(File::create(&midi_path).map_err(io(&midi_path))?);
        Ok(Files {
            wav,
            edits,
            midi,
            start,
            seed,
            backend,
            blocks_per_flush: (p.settings.tick_rate / 4.0).ceil().max(1.0) as u64,
        })
    }

    fn frames(
        &mut self,
        tick: u64,
        frames: Vec<(String, crate::backend::Frame)>,
    ) -> Result<(), RecordError> {
        let dir = self.dir.join("frames");
        for (name, f) in frames {
            if let Some(ff) = self.ffmpeg.clone() {
                self.video_frame(&ff, &name, &f)?;
            } else {
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                let path = dir.join(format!("{name}_{tick:06}.png"));
                write_png(&path, &f)
                    .map_err(|e| RecordError::Frame(path.clone(), e.to_string()))?;
            }
            self.frames += 1;
        }
        Ok(())
    }

    /// Pipes one RGBA frame into this display's ffmpeg (started on its first frame).
    fn video_frame(
        &mut self,
        ffmpeg: &Path,
        name: &str,
        f: &crate::backend::Frame,
    ) -> Result<(), RecordError> {
        if !self.videos.iter().any(|(n, _, _)| n == name) {
            let out = self.dir.join(format!("{name}.mp4"));
            let mut child = Command::new(ffmpeg)
                .args([
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "rgba",
                ])
                .arg("-video_size")
                .arg(format!("{}x{}", f.cols, f.rows))
                .arg("-framerate")
                .arg(format!("{}", self.fps))
                .args(["-i", "-", "-pix_fmt", "yuv420p"])
                .arg(&out)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .map_err(io(ffmpeg))?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| RecordError::Frame(out.clone(), "no pipe to ffmpeg".into()))?;
            self.videos.push((name.to_string(), child, stdin));
        }
        if let Some((_, _, stdin)) = self.videos.iter_mut().find(|(n, _, _)| n == name) {
            stdin.write_all(&f.rgba).map_err(io(ffmpeg))?;
        }
        Ok(())
    }

    /// Finishes the WAV and the videos and writes `meta.json`.
    fn end(mut self, mut files: Files) -> Result<RecordSummary, RecordError> {
        let wav_path = self.dir.join("audio.wav");
        files.edits.flush().map_err(io(&self.dir))?;
        files.midi.flush().map_err(io(&self.dir))?;
        files.wav.finish().map_err(|err| RecordError::Wav {
            path: wav_path.clone(),
            err,
        })?;
        for (name, mut child, stdin) in std::mem::take(&mut self.videos) {
            drop(stdin);
            let status = child.wait().map_err(io(&self.dir))?;
            if !status.success() {
                return Err(RecordError::Frame(
                    self.dir.join(format!("{name}.mp4")),
                    format!("ffmpeg ended with {status}"),
                ));
            }
        }
        let midi = if self.midi > 0 {
            format!(" --midi {}", self.dir.join("midi.jsonl").display())
        } else {
            String::new()
        };
        let render = format!(
            "dmm-synth render {} --edits {}{midi} --ticks {} --seed {} --backend {} --out {}",
            self.dir.join("start.json").display(),
            self.dir.join("edits.jsonl").display(),
            self.ticks,
            files.seed,
            if files.backend.starts_with("gpu") {
                "gpu"
            } else {
                "cpu"
            },
            self.dir.join("rerender").display(),
        );
        let meta = serde_json::json!({
            "ticks": self.ticks,
            "start_tick": files.start,
            "seed": files.seed,
            "backend": files.backend,
            "edits": self.edits,
            "midi": self.midi,
            "frames": self.frames,
            "render": render,
        });
        let meta_path = self.dir.join("meta.json");
        let text = serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n";
        std::fs::write(&meta_path, text).map_err(io(&meta_path))?;
        Ok(RecordSummary {
            dir: self.dir,
            ticks: self.ticks,
            edits: self.edits,
            midi: self.midi,
            frames: self.frames,
            render,
        })
    }
}

impl super::Live {
    /// Starts recording into `opts.dir` from the next tick; returns a line for the log.
    /// A recording already running is finished first.
    pub fn start_recording(&mut self, opts: &RecordOptions) -> Result<String, super::LiveError> {
        if let Some(r) = self.recording.take() {
            self.engine().set_tap(None);
            let _ = r.finish();
        }
        let snap = self.settled_snapshot()?;
        let (rec, tap) =
            Recording::start(opts, snap.net.settings.tick_rate, self.file.comment.clone())?;
        self.engine().set_tap(Some(tap));
        let line = format!(
            "recording into {} (audio.wav, edits.jsonl, midi.jsonl, start.json; {})",
            rec.dir().display(),
            rec.frames_note
        );
        self.recording = Some(rec);
        Ok(line)
    }

    /// Stops the recording, if any, and waits for its files.
    pub fn stop_recording(&mut self) -> Option<Result<RecordSummary, RecordError>> {
        let rec = self.recording.take()?;
        self.engine().set_tap(None);
        Some(rec.finish())
    }

    /// The folder being recorded into, if any.
    pub fn recording(&self) -> Option<&Path> {
        self.recording.as_ref().map(|r| r.dir())
    }

    /// A recording that ended on its own (the engine restarted, or a disk error) says so.
    pub(super) fn poll_recording(&mut self, ev: &mut Vec<super::LiveEvent>) {
        use crate::engine::machine::{Level, Message};
        if !self.recording.as_ref().is_some_and(|r| r.finished()) {
            return;
        }
        let Some(rec) = self.recording.take() else {
            return;
        };
        let text = match rec.finish() {
            Ok(s) => format!(
                "recording stopped (the engine restarted): {} ticks in {}; replay with: {}",
                s.ticks,
                s.dir.display(),
                s.render
            ),
            Err(e) => format!("recording stopped: {e}"),
        };
        let level = if text.contains("engine restarted") {
            Level::Notice
        } else {
            Level::Error
        };
        ev.push(super::LiveEvent::Message(Message {
            tick: 0,
            level,
            text,
        }));
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::edits::{Edit, TimedEdit};

    #[test]
    fn a_non_finite_edit_does_not_parse_back() {
        let e = TimedEdit {
            tick: 3,
            edit: Edit::set("a.x", "b.out", f64::NAN).unwrap(),
        };
        let line = serde_json::to_string(&e);
        let back = line
            .as_ref()
            .ok()
            .map(|l| serde_json::from_str::<TimedEdit>(l).is_ok());
        assert_eq!(back, Some(false), "{line:?}");
    }
}
