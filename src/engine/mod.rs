//! The tick (machine), edit staging and morphs, matrix-kind neurons, the thread.

pub mod edits;
mod inbox;
mod log;
pub mod machine;
mod matrix;
pub mod meter;
mod midi_feed;
pub mod midi_log;
mod program;
mod schedule;
pub mod staging;
pub mod tap;
pub mod thread;

pub use crate::neurons::{Network, WeightError};
pub use crate::stream::{Kind, MAX_WEIGHT, PortRef, Settings, WMatrix};
pub use edits::{Edit, EditOutcome, MAX_MORPH_SECONDS, TimedEdit};
pub use machine::{EDIT_LATENCY_TICKS, EngineError, Fallback, Level, Machine, Message};
pub use staging::Rejection;
