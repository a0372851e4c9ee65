//! The engine meter: each tick's CPU time on the engine thread's own clock
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so a busy machine that preempts the engine does
//! not make a tick look slow; mean and max over the last second against the tick budget.
//! Work a tick hands to other threads (rayon's image kernels) is not on this clock; the wall
//! figures are kept beside it.

use std::time::{Duration, Instant};

/// CPU time this thread has used, where the OS can tell (None elsewhere).
pub fn thread_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if r == 0 {
            return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
        }
        None
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Tick costs over the last full second, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TickLoad {
    /// CPU time of a tick on the engine thread (wall time where there is no thread clock).
    pub cpu_mean: f64,
    pub cpu_max: f64,
    /// Wall time of a tick (includes time the OS gave to other threads).
    pub wall_mean: f64,
    pub wall_max: f64,
    /// Ticks in that second.
    pub ticks: u64,
    /// Whether `cpu_*` come from the thread's CPU clock.
    pub thread_clock: bool,
}

/// Collects tick costs and closes a `TickLoad` every second.
pub struct TickMeter {
    since: Instant,
    sum: (f64, f64),
    max: (f64, f64),
    n: u64,
    last: TickLoad,
}

impl Default for TickMeter {
    fn default() -> Self {
        TickMeter {
            since: Instant::now(),
            sum: (0.0, 0.0),
            max: (0.0, 0.0),
            n: 0,
            last: TickLoad::default(),
        }
    }
}

/// A tick being measured.
pub struct TickTimer {
    wall: Instant,
    cpu: Option<Duration>,
}

impl TickTimer {
    pub fn start() -> TickTimer {
        TickTimer {
            wall: Instant::now(),
            cpu: thread_cpu_time(),
        }
    }

    /// (cpu seconds or None, wall seconds) since `start`.
    pub fn stop(&self) -> (Option<f64>, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, thread_cpu_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
            _ => None,
        };
        (cpu, wall)
    }
}

impl TickMeter {
    /// Adds one tick's cost; closes the window when a second has passed since it opened.
    pub fn add(&mut self, cpu: Option<f64>, wall: f64) {
        self.add_at(cpu, wall, Instant::now());
    }

    fn add_at(&mut self, cpu: Option<f64>, wall: f64, now: Instant) {
        let c = cpu.unwrap_or(wall);
        self.sum.0 += c;
        self.sum.1 += wall;
        self.max.0 = self.max.0.max(c);
        self.max.1 = self.max.1.max(wall);
        self.n += 1;
        if now.duration_since(self.since) >= Duration::from_secs(1) {
            let n = self.n as f64;
            self.last = TickLoad {
                cpu_mean: self.sum.0 / n,
                cpu_max: self.max.0,
                wall_mean: self.sum.1 / n,
                wall_max: self.max.1,
                ticks: self.n,
                thread_clock: cpu.is_some(),
            };
            self.since = now;
            (self.sum, self.max, self.n) = ((0.0, 0.0), (0.0, 0.0), 0);
        }
    }

    /// The last closed second (all zero during the first second).
    pub fn load(&self) -> TickLoad {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_clock_does_not_count_sleep() {
        let t = TickTimer::start();
        // Some work, then a sleep: CPU time sees the work only.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        std::thread::sleep(Duration::from_millis(100));
        let (cpu, wall) = t.stop();
        let cpu = cpu.expect("a thread CPU clock on this OS");
        assert!(cpu > 0.0, "the work took some CPU time");
        assert!(wall >= 0.1, "{wall}");
        assert!(
            cpu < wall - 0.05,
            "cpu {cpu} s should leave out the 0.1 s sleep (wall {wall} s)"
        );
    }

    #[test]
    fn a_window_reports_mean_and_max_of_its_second() {
        let t0 = Instant::now();
        let mut m = TickMeter {
            since: t0,
            ..TickMeter::default()
        };
        m.add_at(Some(0.001), 0.010, t0);
        m.add_at(Some(0.003), 0.002, t0 + Duration::from_millis(500));
        assert_eq!(m.load(), TickLoad::default(), "not a full second yet");
        m.add_at(Some(0.002), 0.003, t0 + Duration::from_millis(1000));
        let l = m.load();
        assert_eq!(l.ticks, 3);
        assert!((l.cpu_mean - 0.002).abs() < 1e-12);
        assert_eq!(l.cpu_max, 0.003);
        assert!((l.wall_mean - 0.005).abs() < 1e-12);
        assert_eq!(l.wall_max, 0.010);
        assert!(l.thread_clock);
        // The next window starts empty.
        m.add_at(None, 0.004, t0 + Duration::from_millis(2000));
        let l = m.load();
        assert_eq!((l.ticks, l.cpu_max, l.thread_clock), (1, 0.004, false));
    }
}
