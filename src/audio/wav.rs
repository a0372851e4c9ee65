//! A stereo 32-bit float WAV sink (hound). Blocks are written as they come; the header is
//! rewritten on `flush` and `finish`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

pub struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
}

impl WavSink {
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self, hound::Error> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        Ok(WavSink {
            writer: hound::WavWriter::create(path, spec)?,
        })
    }

    /// Appends one block, interleaving left and right.
    pub fn write_block(&mut self, left: &[f32], right: &[f32]) -> Result<(), hound::Error> {
        for (&l, &r) in left.iter().zip(right) {
            self.writer.write_sample(l)?;
            self.writer.write_sample(r)?;
        }
        Ok(())
    }

    /// Writes what is buffered and rewrites the header: the file is a valid WAV up to here,
    /// whatever happens to the process next.
    pub fn flush(&mut self) -> Result<(), hound::Error> {
        self.writer.flush()
    }

    pub fn finish(self) -> Result<(), hound::Error> {
        self.writer.finalize()
    }
}

/// Reads a WAV written by `WavSink` back as (left, right, sample_rate). For tests and tools.
pub fn read_stereo(path: &Path) -> Result<(Vec<f32>, Vec<f32>, u32), hound::Error> {
    let mut r = hound::WavReader::open(path)?;
    let sr = r.spec().sample_rate;
    let samples: Vec<f32> = r.samples::<f32>().collect::<Result<_, _>>()?;
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    Ok((left, right, sr))
}
