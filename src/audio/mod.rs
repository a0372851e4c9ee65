//! Audio sinks. The WAV sink writes what `audio_out` plays (32-bit float, stereo).

pub mod wav;
