//! The scope: a triggered oscilloscope and a log-frequency magnitude spectrum of one audio
//! signal: `audio_out` where an audio-only patch has no picture, or any audio port clicked in
//! the neuron list. The engine pushes the signal's blocks into a lock-free ring (`ScopeTap`);
//! the window drains it every frame into the newest `HISTORY` samples and draws them.

mod draw;
pub mod signal;

pub use crate::engine::tap::{ScopeSource, ScopeTap};
pub use draw::{OSCILLOSCOPE_LABEL, SPECTRUM_LABEL, scope_ui};

use crate::engine::thread::EngineHandle;
use crate::stream::spectrum::Spectrum;

/// Samples the window keeps (a trigger needs up to twice the shown span).
pub const HISTORY: usize = 4096;
/// Samples per spectrum (11.7 Hz bins at 48 kHz).
pub const FFT_LEN: usize = 4096;
/// Room in the engine's ring: a third of a second at 96 kHz, enough for a slow frame.
const RING: usize = 1 << 15;

/// The window's end of a scope feed: what it listens to and the newest samples.
pub struct ScopeFeed {
    pub source: ScopeSource,
    rx: rtrb::Consumer<f32>,
    /// The newest `HISTORY` samples, oldest first (zeros before any arrived).
    history: Vec<f32>,
    /// Samples received so far.
    received: u64,
}

impl ScopeFeed {
    /// A feed for `source` and the tap to hand to the engine (`EngineHandle::set_scope`).
    pub fn new(source: ScopeSource) -> (ScopeFeed, ScopeTap) {
        let (tx, rx) = rtrb::RingBuffer::new(RING);
        let tap = ScopeTap {
            source: source.clone(),
            tx,
        };
        let feed = ScopeFeed {
            source,
            rx,
            history: vec![0.0; HISTORY],
            received: 0,
        };
        (feed, tap)
    }

    /// Takes everything the engine pushed since the last call; returns how many samples.
    pub fn drain(&mut self) -> usize {
        let n = self.rx.slots();
        let Ok(chunk) = self.rx.read_chunk(n) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        append(&mut self.history, a);
        append(&mut self.history, b);
        chunk.commit_all();
        self.received += n as u64;
        n
    }

    /// The newest samples, oldest first (fewer than `HISTORY` until that many arrived).
    pub fn samples(&self) -> &[f32] {
        let have = self.received.min(HISTORY as u64) as usize;
        &self.history[HISTORY - have..]
    }

    /// The engine thread that fed it has ended (or never took it).
    pub fn abandoned(&self) -> bool {
        self.rx.is_abandoned()
    }
}

/// Shifts `new` in at the end of `history`, dropping as many of the oldest.
fn append(history: &mut [f32], new: &[f32]) {
    let n = history.len();
    if new.len() >= n {
        history.copy_from_slice(&new[new.len() - n..]);
    } else {
        history.copy_within(new.len().., 0);
        history[n - new.len()..].copy_from_slice(new);
    }
}

/// Gain of the oscilloscope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Gain {
    /// The shown window's peak fills 90 % of the half height.
    Auto,
    /// Full scale is ±1/g.
    Fixed(f32),
}

/// The scope's settings and spectrum buffers (they outlive a switch of port).
pub struct ScopeView {
    pub gain: Gain,
    /// Time shown across the oscilloscope, milliseconds.
    pub span_ms: f32,
    spectrum: Spectrum,
    mags: Vec<f32>,
}

impl Default for ScopeView {
    fn default() -> Self {
        // FFT_LEN is even and positive: planning it cannot fail.
        let spectrum = Spectrum::new(FFT_LEN).expect("FFT_LEN is even");
        ScopeView {
            gain: Gain::Auto,
            span_ms: 20.0,
            mags: vec![0.0; spectrum.bins()],
            spectrum,
        }
    }
}

/// What a click in the scope asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum ScopeAction {
    /// Show this signal instead.
    Show(ScopeSource),
    /// Stop showing a port (back to the picture, or to `audio_out` without one).
    Close,
}

/// The scope as the window holds it: the feed (when one is wanted) and the view.
#[derive(Default)]
pub struct ScopePane {
    feed: Option<ScopeFeed>,
    pub view: ScopeView,
}

impl ScopePane {
    /// Makes the engine feed `wanted` (or nothing): a new ring when the signal changes or the
    /// engine thread that fed the old one has ended (a restart), then takes the new samples.
    pub fn sync(&mut self, engine: &EngineHandle, wanted: Option<&ScopeSource>) {
        let current = self.feed.as_ref().map(|f| &f.source);
        let stale = self
            .feed
            .as_ref()
            .is_some_and(|f| f.abandoned() && !engine.finished());
        if current != wanted || stale {
            match wanted {
                Some(source) => {
                    let (feed, tap) = ScopeFeed::new(source.clone());
                    engine.set_scope(Some(tap));
                    self.feed = Some(feed);
                }
                None => {
                    engine.set_scope(None);
                    self.feed = None;
                }
            }
        }
        if let Some(f) = &mut self.feed {
            f.drain();
        }
    }

    /// The signal being shown, if any.
    pub fn source(&self) -> Option<&ScopeSource> {
        self.feed.as_ref().map(|f| &f.source)
    }

    /// The newest samples of the signal shown (empty when none).
    pub fn samples(&self) -> &[f32] {
        self.feed.as_ref().map(|f| f.samples()).unwrap_or(&[])
    }

    /// Draws the scope into the whole of `ui`'s area; `closable` offers "close".
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        sample_rate: f32,
        closable: bool,
    ) -> Option<ScopeAction> {
        let Some(feed) = &self.feed else {
            return None;
        };
        scope_ui(
            ui,
            &mut self.view,
            &feed.source,
            feed.samples(),
            sample_rate,
            closable,
        )
    }
}

impl ScopeView {
    /// The spectrum of the newest `FFT_LEN` samples, and its bin width at `sample_rate`.
    fn spectrum(&mut self, samples: &[f32], sample_rate: f32) -> (&[f32], f32) {
        self.spectrum.magnitudes(samples, &mut self.mags);
        (&self.mags, self.spectrum.bin_hz(1, sample_rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_keeps_the_newest_samples_in_order() {
        let (mut feed, mut tap) = ScopeFeed::new(ScopeSource::AudioOut);
        assert!(feed.samples().is_empty());
        for i in 0..10 {
            tap.tx.push(i as f32).unwrap();
        }
        assert_eq!(feed.drain(), 10);
        assert_eq!(feed.samples(), &[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        // More than HISTORY in a few blocks: the newest HISTORY remain, in order.
        let mut next = 10.0f32;
        for _ in 0..3 {
            for _ in 0..2000 {
                tap.tx.push(next).unwrap();
                next += 1.0;
            }
            feed.drain();
        }
        let s = feed.samples();
        assert_eq!(s.len(), HISTORY);
        assert_eq!(s[HISTORY - 1], next - 1.0);
        assert!(s.windows(2).all(|w| w[1] == w[0] + 1.0));
        assert!(!feed.abandoned());
        drop(tap);
        assert!(feed.abandoned());
    }
}
