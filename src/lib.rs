//! dmm-synth: a live-coding audiovisual synthesizer whose engine is a dataflow matrix machine.
//! See DESIGN.md in the team's shared folder and README.md.

pub mod audio;
pub mod backend;
pub mod control;
pub mod engine;
pub mod live;
pub mod neurons;
pub mod patch;
pub mod render;
pub mod stream;
pub mod trace;
pub mod ui;
