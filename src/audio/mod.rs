//! Audio sinks. The WAV sink writes what `audio_out` plays (32-bit float, stereo); the output
//! module plays it on the sound card (or a null sink).

pub mod output;
pub mod quiet;
pub mod wav;

pub use output::{AudioFeed, AudioOutput, AudioStats};
