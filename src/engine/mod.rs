//! The tick, edit staging and morphs, matrix-kind neurons, the engine thread.

pub mod edits;
pub mod machine;
pub mod thread;

pub use crate::neurons::{Network, WeightError};
pub use crate::stream::{Kind, PortRef, Settings, WMatrix};
pub use edits::{Edit, EditOutcome, TimedEdit};
pub use machine::{EDIT_LATENCY_TICKS, EngineError, Level, Machine, Message};
