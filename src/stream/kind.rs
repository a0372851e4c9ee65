//! The four kinds of stream (DESIGN §1) and the machine-wide settings that give them their sizes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of value a port carries each tick. A weight may only join ports of the same kind
/// (and, for images, the same shape): the type-correctness rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One f32 per tick.
    Scalar,
    /// A block of `block_len` f32 samples per tick.
    Audio,
    /// A rows×cols f32 matrix (row-major).
    Image { rows: usize, cols: usize },
    /// A network-matrix (W-shaped) sparse value.
    Matrix,
}

impl Kind {
    /// Number of f32 values a dense value of this kind holds (0 for matrices, which are sparse).
    pub fn len(&self, block_len: usize) -> usize {
        match *self {
            Kind::Scalar => 1,
            Kind::Audio => block_len,
            Kind::Image { rows, cols } => rows * cols,
            Kind::Matrix => 0,
        }
    }

    pub fn is_dense(&self) -> bool {
        !matches!(self, Kind::Matrix)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Scalar => write!(f, "scalar"),
            Kind::Audio => write!(f, "audio"),
            Kind::Image { rows, cols } => write!(f, "image {rows}x{cols}"),
            Kind::Matrix => write!(f, "matrix"),
        }
    }
}

/// Machine-wide settings. `block_len = sample_rate / tick_rate` must be a whole number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Ticks (down+up strokes) per second.
    #[serde(default = "default_tick_rate")]
    pub tick_rate: f64,
    /// Audio samples per second.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// Default image shape `[rows, cols]` for image-kind neurons that do not give their own.
    #[serde(default = "default_image_size")]
    pub image_size: [usize; 2],
    /// Pictures per second: image-clocked neurons run on every `frame_period()`-th tick only
    /// (DESIGN §1, "two clocks") and hold their outputs in between.
    #[serde(default = "default_frame_rate")]
    pub frame_rate: f64,
    /// Seconds over which a hot-reloaded weight change is spread (0 = instant).
    #[serde(default)]
    pub morph_time: f64,
    /// Most stream memory the patch may need, in MiB (default: half of the machine's memory;
    /// see `patch::budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_mb: Option<u64>,
}

fn default_tick_rate() -> f64 {
    375.0
}
fn default_frame_rate() -> f64 {
    60.0
}
fn default_sample_rate() -> u32 {
    48_000
}
fn default_image_size() -> [usize; 2] {
    [128, 128]
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick_rate: default_tick_rate(),
            sample_rate: default_sample_rate(),
            image_size: default_image_size(),
            frame_rate: default_frame_rate(),
            morph_time: 0.0,
            memory_budget_mb: None,
        }
    }
}

/// Largest image side we accept (keeps a typo from allocating gigabytes).
pub const MAX_IMAGE_SIDE: usize = 4096;
/// Largest audio block we accept.
pub const MAX_BLOCK_LEN: usize = 1 << 16;

impl Settings {
    /// Samples per tick. Call `check` first; this rounds.
    pub fn block_len(&self) -> usize {
        (self.sample_rate as f64 / self.tick_rate).round() as usize
    }

    /// Ticks from one frame tick to the next: `round(tick_rate / frame_rate)`, at least 1.
    pub fn frame_period(&self) -> u64 {
        frame_period(self.tick_rate, self.frame_rate)
    }

    /// Checks the settings and says what is wrong, naming the field.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, msg: String| Err((field.to_string(), msg));
        if !(self.tick_rate.is_finite() && self.tick_rate > 0.0) {
            return bad(
                "tick_rate",
                format!("expected a positive number, found {}", self.tick_rate),
            );
        }
        if self.sample_rate == 0 {
            return bad("sample_rate", "expected a positive integer, found 0".into());
        }
        let ratio = self.sample_rate as f64 / self.tick_rate;
        if (ratio - ratio.round()).abs() > 1e-9 || ratio.round() < 1.0 {
            return bad(
                "tick_rate",
                format!(
                    "sample_rate / tick_rate must be a whole number of samples per tick, found {} / {} = {ratio}",
                    self.sample_rate, self.tick_rate
                ),
            );
        }
        if ratio.round() as usize > MAX_BLOCK_LEN {
            return bad(
                "tick_rate",
                format!("block of {ratio} samples per tick is larger than {MAX_BLOCK_LEN}"),
            );
        }
        let [r, c] = self.image_size;
        if r == 0 || c == 0 || r > MAX_IMAGE_SIDE || c > MAX_IMAGE_SIDE {
            return bad(
                "image_size",
                format!("expected [rows, cols] each in 1..={MAX_IMAGE_SIDE}, found [{r}, {c}]"),
            );
        }
        if let Err(msg) = check_frame_rate(self.frame_rate) {
            return bad("frame_rate", msg);
        }
        if !(self.morph_time.is_finite() && self.morph_time >= 0.0) {
            return bad(
                "morph_time",
                format!("expected seconds >= 0, found {}", self.morph_time),
            );
        }
        if self.memory_budget_mb == Some(0) {
            return bad(
                "memory_budget_mb",
                "expected a positive number of MiB, found 0".into(),
            );
        }
        Ok(())
    }
}

/// Ticks from one frame tick to the next at `frame_rate` pictures a second: tick t is a frame tick
/// when t is a multiple of it (tick 0 is one). `round(tick_rate / frame_rate)`, at least 1 (a frame
/// rate at or above the tick rate runs every tick); non-finite rates give 1.
pub fn frame_period(tick_rate: f64, frame_rate: f64) -> u64 {
    let r = (tick_rate / frame_rate).round();
    if r.is_finite() && r >= 1.0 {
        // Saturates far beyond any tick count a performance reaches.
        r.min(u64::MAX as f64) as u64
    } else {
        1
    }
}

/// A frame rate must be a positive, finite number of pictures a second.
pub fn check_frame_rate(frame_rate: f64) -> Result<(), String> {
    if frame_rate.is_finite() && frame_rate > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "expected a positive number of frames per second, found {frame_rate}"
        ))
    }
}
