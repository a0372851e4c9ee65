//! What every layer shares: the kinds of stream, the settings that size them, W (the sparse
//! network matrix) and the magnitude spectrum of a block. Nothing here imports another folder
//! of the crate.

pub mod kind;
pub mod spectrum;
pub mod wmatrix;

pub use kind::{Kind, Settings};
pub use wmatrix::{MAX_WEIGHT, PortRef, WMatrix, weight_in_bounds};
