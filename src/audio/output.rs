//! The sound card: a cpal output stream fed from a lock-free ring (rtrb) that the engine thread
//! fills (DESIGN §2). With no device, a null sink: the engine then runs at wall-clock pace.
//!
//! The ring holds interleaved stereo frames (`l, r, l, r, …`). The callback pops what the device
//! asks for, maps stereo to the device's channels (mono: the average; more than two: the first
//! two, the rest silent), applies the final guard (NaN/Inf → 0, soft limit above 0.8) and the mute
//! flag, and converts to the device's sample format. On underrun it plays silence for the missing
//! part and counts one underrun. It never locks, allocates, logs or waits.

use super::quiet::Quiet;
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use rtrb::{Consumer, Producer, RingBuffer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Ring capacity in frames (about 0.34 s at 48 kHz): room for any device buffer we have met.
pub const RING_FRAMES: usize = 16_384;

/// Meters shared by the callback, the engine thread and the UI. All plain atomics.
#[derive(Debug)]
pub struct AudioStats {
    fill: AtomicUsize,
    capacity: usize,
    underruns: AtomicU64,
    muted: AtomicBool,
    callbacks: AtomicU64,
    /// Frames the device asked for in its last callback (sets the engine's target fill).
    last_request: AtomicUsize,
    /// Frames the callback has played (silence for underruns included).
    played: AtomicU64,
    /// Under/overruns the device reported (cpal's `ErrorKind::Xrun`).
    xruns: AtomicU64,
}

impl AudioStats {
    pub fn new(capacity: usize) -> Self {
        AudioStats {
            fill: AtomicUsize::new(0),
            capacity,
            underruns: AtomicU64::new(0),
            muted: AtomicBool::new(false),
            callbacks: AtomicU64::new(0),
            last_request: AtomicUsize::new(0),
            played: AtomicU64::new(0),
            xruns: AtomicU64::new(0),
        }
    }

    /// Frames waiting in the ring (as last seen by the callback or the engine).
    pub fn fill(&self) -> usize {
        self.fill.load(Ordering::Relaxed)
    }

    /// Ring capacity in frames (0 for the null sink).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Callbacks that found fewer frames than the device asked for.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }

    pub fn muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }

    /// The panic button: takes effect at the next callback (the ring keeps draining, so the
    /// engine keeps its pace and un-muting resumes at once).
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    pub fn callbacks(&self) -> u64 {
        self.callbacks.load(Ordering::Relaxed)
    }

    pub fn played_frames(&self) -> u64 {
        self.played.load(Ordering::Relaxed)
    }

    /// Under/overruns reported by the device itself (besides `underruns`, which are ours).
    pub fn device_xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }

    /// Frames asked for by the device's last callback (0 before the first).
    pub fn last_request(&self) -> usize {
        self.last_request.load(Ordering::Relaxed)
    }
}

/// The final guard before the device: NaN/Inf → 0; linear up to 0.8, then a tanh knee that
/// reaches ±1 only asymptotically (continuous value and slope at the knee).
#[inline]
pub fn guard(x: f32) -> f32 {
    const KNEE: f32 = 0.8;
    if !x.is_finite() {
        return 0.0;
    }
    let a = x.abs();
    if a <= KNEE {
        x
    } else {
        let room = 1.0 - KNEE;
        (KNEE + room * ((a - KNEE) / room).tanh()).copysign(x)
    }
}

/// The consumer side, owned by the callback (or by a test standing in for it).
pub struct RingReader {
    cons: Consumer<f32>,
    stats: Arc<AudioStats>,
}

impl RingReader {
    /// Frames waiting in the ring.
    pub fn available(&self) -> usize {
        self.cons.slots() / 2
    }

    /// Fills `out` (interleaved, `channels` per frame) from the ring: the callback body.
    /// Lock-free, allocation-free. Returns the frames that came from the ring (the rest of
    /// `out` is silence).
    pub fn fill<T>(&mut self, out: &mut [T], channels: usize) -> usize
    where
        T: SizedSample + FromSample<f32>,
    {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        let stats = &*self.stats;
        stats.callbacks.fetch_add(1, Ordering::Relaxed);
        stats.last_request.store(frames, Ordering::Relaxed);
        let muted = stats.muted.load(Ordering::Relaxed);
        let avail = (self.cons.slots() / 2).min(frames);
        let silence = T::from_sample(0.0f32);
        let mut written = 0;
        if let Ok(chunk) = self.cons.read_chunk(avail * 2) {
            let (a, b) = chunk.as_slices();
            let mut it = a.iter().chain(b.iter()).copied();
            for frame in out.chunks_mut(channels).take(avail) {
                let l = guard(it.next().unwrap_or(0.0));
                let r = guard(it.next().unwrap_or(0.0));
                let (l, r) = if muted { (0.0, 0.0) } else { (l, r) };
                match frame {
                    [m] => *m = T::from_sample(0.5 * (l + r)),
                    [fl, fr, rest @ ..] => {
                        *fl = T::from_sample(l);
                        *fr = T::from_sample(r);
                        for s in rest {
                            *s = silence;
                        }
                    }
                    [] => {}
                }
            }
            chunk.commit_all();
            written = avail;
        }
        for s in &mut out[written * channels..] {
            *s = silence;
        }
        if written < frames {
            stats.underruns.fetch_add(1, Ordering::Relaxed);
        }
        stats.played.fetch_add(frames as u64, Ordering::Relaxed);
        stats.fill.store(self.cons.slots() / 2, Ordering::Relaxed);
        written
    }
}

/// The producer side, owned by the engine thread (`Pace::Audio`).
#[derive(Debug)]
pub struct AudioFeed {
    prod: Producer<f32>,
    stats: Arc<AudioStats>,
}

impl AudioFeed {
    /// Frames waiting in the ring now.
    pub fn fill(&self) -> usize {
        let cap = self.prod.buffer().capacity();
        (cap - self.prod.slots()) / 2
    }

    pub fn capacity(&self) -> usize {
        self.prod.buffer().capacity() / 2
    }

    /// The fill the engine keeps: three blocks, or the device's request plus two blocks when
    /// the device asks for more at a time; never more than the ring holds.
    pub fn target_fill(&self, block_len: usize) -> usize {
        let req = self.stats.last_request();
        (3 * block_len)
            .max(req + 2 * block_len)
            .min(self.capacity().saturating_sub(block_len))
    }

    /// Whether the ring is as full as the engine wants it.
    pub fn full_enough(&self, block_len: usize) -> bool {
        let fill = self.fill();
        self.stats.fill.store(fill, Ordering::Relaxed);
        fill >= self.target_fill(block_len)
    }

    /// Pushes one block (interleaving `left` and `right`); whatever does not fit is dropped
    /// (returns the frames pushed). The engine only pushes when the ring has room.
    pub fn push_block(&mut self, left: &[f32], right: &[f32]) -> usize {
        let n = left.len().min(right.len()).min(self.prod.slots() / 2);
        if let Ok(chunk) = self.prod.write_chunk_uninit(n * 2) {
            let it = left[..n]
                .iter()
                .zip(&right[..n])
                .flat_map(|(&l, &r)| [l, r]);
            chunk.fill_from_iter(it);
        }
        self.stats.fill.store(self.fill(), Ordering::Relaxed);
        n
    }

    pub fn stats(&self) -> &Arc<AudioStats> {
        &self.stats
    }

    /// Whether the reading side is gone (the stream was dropped).
    pub fn abandoned(&self) -> bool {
        self.prod.is_abandoned()
    }
}

/// A ring of `frames` stereo frames: the engine's feed and the callback's reader.
pub fn ring(frames: usize) -> (AudioFeed, RingReader) {
    let stats = Arc::new(AudioStats::new(frames));
    let (prod, cons) = RingBuffer::new(frames * 2);
    (
        AudioFeed {
            prod,
            stats: stats.clone(),
        },
        RingReader { cons, stats },
    )
}

enum Sink {
    Device {
        _stream: cpal::Stream,
        name: String,
        rate: u32,
        channels: u16,
        format: cpal::SampleFormat,
        feed: Option<AudioFeed>,
    },
    Null {
        note: String,
    },
}

/// The audio output: the default device, or a null sink when there is none.
pub struct AudioOutput {
    sink: Sink,
    stats: Arc<AudioStats>,
    errors: Arc<AtomicU64>,
}

impl AudioOutput {
    /// Opens the default output device at its own rate, format and channel count and starts
    /// it. With no device (or `prefer_device == false`) returns a null sink whose `note()`
    /// says why; the note is printed to stderr once.
    pub fn open(prefer_device: bool) -> AudioOutput {
        let out = if prefer_device {
            // alsa-lib's own lines about a missing card say less than our one note.
            let quiet = Quiet::new();
            let opened = Self::open_device();
            let silenced = match quiet.swallowed() {
                0 => String::new(),
                n => format!(" ({n} messages from alsa-lib silenced)"),
            };
            match opened {
                Ok(out) => out,
                Err(why) => Self::null(format!(
                    "no audio device ({why}){silenced}; running on a null sink paced by the wall clock"
                )),
            }
        } else {
            Self::null("audio off; running on a null sink paced by the wall clock".into())
        };
        if let Some(n) = out.note() {
            eprintln!("note: {n}");
        }
        out
    }

    /// A null sink, saying `note` (not printed).
    pub fn null(note: String) -> AudioOutput {
        AudioOutput {
            sink: Sink::Null { note },
            stats: Arc::new(AudioStats::new(0)),
            errors: Arc::new(AtomicU64::new(0)),
        }
    }

    fn open_device() -> Result<AudioOutput, String> {
        let host = cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| "no default output device".to_string())?;
        let supported = device
            .default_output_config()
            .map_err(|e| format!("default output config: {e}"))?;
        let name = device
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| "default output".to_string());
        let format = supported.sample_format();
        let config: cpal::StreamConfig = supported.config();
        let (feed, reader) = ring(RING_FRAMES);
        let stats = feed.stats().clone();
        let errors = Arc::new(AtomicU64::new(0));
        use cpal::SampleFormat as F;
        let stream = match format {
            F::F32 => build::<f32>(&device, &config, reader, errors.clone()),
            F::F64 => build::<f64>(&device, &config, reader, errors.clone()),
            F::I8 => build::<i8>(&device, &config, reader, errors.clone()),
            F::I16 => build::<i16>(&device, &config, reader, errors.clone()),
            F::I24 => build::<cpal::I24>(&device, &config, reader, errors.clone()),
            F::I32 => build::<i32>(&device, &config, reader, errors.clone()),
            F::I64 => build::<i64>(&device, &config, reader, errors.clone()),
            F::U8 => build::<u8>(&device, &config, reader, errors.clone()),
            F::U16 => build::<u16>(&device, &config, reader, errors.clone()),
            F::U32 => build::<u32>(&device, &config, reader, errors.clone()),
            F::U64 => build::<u64>(&device, &config, reader, errors.clone()),
            other => Err(format!("unsupported sample format {other}")),
        }?;
        stream
            .play()
            .map_err(|e| format!("starting the stream: {e}"))?;
        Ok(AudioOutput {
            sink: Sink::Device {
                _stream: stream,
                name,
                rate: config.sample_rate,
                channels: config.channels,
                format,
                feed: Some(feed),
            },
            stats,
            errors,
        })
    }

    /// Whether a real device plays.
    pub fn has_device(&self) -> bool {
        matches!(self.sink, Sink::Device { .. })
    }

    /// The device's sample rate; 0 for the null sink (the patch's own rate is used then).
    pub fn sample_rate(&self) -> u32 {
        match &self.sink {
            Sink::Device { rate, .. } => *rate,
            Sink::Null { .. } => 0,
        }
    }

    pub fn device_name(&self) -> String {
        match &self.sink {
            Sink::Device {
                name,
                channels,
                format,
                rate,
                ..
            } => format!("{name} ({rate} Hz, {channels} ch, {format})"),
            Sink::Null { .. } => "null sink".to_string(),
        }
    }

    /// Why there is no device (null sink only).
    pub fn note(&self) -> Option<&str> {
        match &self.sink {
            Sink::Null { note } => Some(note),
            Sink::Device { .. } => None,
        }
    }

    pub fn stats(&self) -> Arc<AudioStats> {
        self.stats.clone()
    }

    /// Stream errors reported by the device so far.
    pub fn stream_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The engine's side of the ring, once (None for the null sink or when already taken).
    pub fn feed(&mut self) -> Option<AudioFeed> {
        match &mut self.sink {
            Sink::Device { feed, .. } => feed.take(),
            Sink::Null { .. } => None,
        }
    }

    /// A fresh ring for a restarted engine is not possible with a running stream; instead a
    /// stopped engine gives its feed back here.
    pub fn return_feed(&mut self, f: AudioFeed) {
        if let Sink::Device { feed, .. } = &mut self.sink {
            *feed = Some(f);
        }
    }
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut reader: RingReader,
    errors: Arc<AtomicU64>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = config.channels as usize;
    let stats = reader.stats.clone();
    device
        .build_output_stream::<T, _, _>(
            *config,
            move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
                reader.fill(data, channels);
            },
            move |err: cpal::Error| {
                // Counted, not logged: this may run on the audio thread.
                if err.kind() == cpal::ErrorKind::Xrun {
                    stats.xruns.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            },
            None,
        )
        .map_err(|e| format!("building the output stream: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_kills_nonfinite_and_limits() {
        assert_eq!(guard(f32::NAN), 0.0);
        assert_eq!(guard(f32::INFINITY), 0.0);
        assert_eq!(guard(0.5), 0.5);
        assert_eq!(guard(-0.8), -0.8);
        assert!(guard(10.0) <= 1.0 && guard(10.0) > 0.99);
        assert!(guard(0.9) < 0.9 && guard(0.9) > 0.8);
        assert!(guard(-10.0) >= -1.0);
        // Monotonic and continuous at the knee.
        assert!((guard(0.8001) - 0.8001).abs() < 1e-4);
        let mut prev = -2.0f32;
        for i in 0..400 {
            let y = guard(-2.0 + i as f32 * 0.01);
            assert!(y >= prev);
            prev = y;
        }
    }

    #[test]
    fn reader_maps_channels_mutes_and_counts_underruns() {
        let (mut feed, mut reader) = ring(64);
        assert_eq!(feed.push_block(&[0.2, 0.4, f32::NAN], &[0.6, 0.0, 1.0]), 3);
        assert_eq!(feed.fill(), 3);
        // Mono: the average.
        let mut mono = [9.0f32; 2];
        reader.fill(&mut mono, 1);
        assert!((mono[0] - 0.4).abs() < 1e-6 && (mono[1] - 0.2).abs() < 1e-6);
        // Four channels: first two carry the signal, the rest silent; one frame short.
        let mut quad = [9i16; 8];
        reader.fill(&mut quad, 4);
        assert_eq!(quad[0], 0, "NaN became 0");
        assert!(quad[1] > 20_000, "{quad:?}");
        assert_eq!(&quad[2..], &[0; 6]);
        assert_eq!(reader.stats.underruns(), 1);
        // Muted: silence, but the ring still drains.
        feed.push_block(&[0.5; 4], &[0.5; 4]);
        reader.stats.set_muted(true);
        let mut st = [1.0f32; 8];
        reader.fill(&mut st, 2);
        assert_eq!(st, [0.0; 8]);
        assert_eq!(feed.fill(), 0);
        reader.stats.set_muted(false);
        feed.push_block(&[0.5; 4], &[0.25; 4]);
        let mut u = [0u16; 2];
        reader.fill(&mut u, 2);
        assert!(u[0] > u[1] && u[1] > 32768, "{u:?}");
    }

    #[test]
    fn feed_never_overfills() {
        let (mut feed, _reader) = ring(10);
        assert_eq!(feed.push_block(&[0.0; 8], &[0.0; 8]), 8);
        assert_eq!(feed.push_block(&[0.0; 8], &[0.0; 8]), 2);
        assert_eq!(feed.fill(), 10);
        assert!(feed.full_enough(2));
    }
}
