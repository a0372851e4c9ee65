//! Outputs: the speakers and the screen. Neither computes anything in the up stroke; each backend
//! reads their inputs after the down stroke (the CPU backend directly, the GPU backend with the
//! `gather` and `frame` kernels of shaders/io.wgsl).

use super::table::{Gpu, Kinds, PortKind::*, TypeInfo};

pub static TYPES: &[TypeInfo] = &[
    TypeInfo {
        name: "audio_out",
        inputs: &[("left", Audio), ("right", Audio)],
        outputs: &[],
        kinds: Kinds::None,
        settings: &[],
        doc: "Sends left and right to the speakers / WAV file (all audio_out neurons are summed).",
        example: "{}",
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    },
    TypeInfo {
        name: "display",
        inputs: &[("in", Image), ("r", Image), ("g", Image), ("b", Image)],
        outputs: &[],
        kinds: Kinds::None,
        settings: &[],
        doc: "Shows an image: grey `in` plus optional `r`, `g`, `b` channels, clamped to [0, 1].",
        example: "{}",
        cpu: None,
        start: None,
        gpu: Gpu::NONE,
    },
];

/// Maps a display value to a byte: clamp to [0, 1], NaN to 0 (shaders/io.wgsl has the same).
pub fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
    }
}
