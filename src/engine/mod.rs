//! Streams and kinds, the network matrix, the tick, the engine thread.

pub mod edits;
pub mod kind;
pub mod machine;
pub mod network;
pub mod thread;
pub mod wmatrix;

pub use edits::{Edit, EditOutcome, TimedEdit};
pub use kind::{Kind, Settings};
pub use machine::{EDIT_LATENCY_TICKS, EngineError, Level, Machine, Message};
pub use network::{Network, WeightError};
pub use wmatrix::{PortRef, WMatrix};
