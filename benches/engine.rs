//! Engine benchmarks, printed side by side in one run: matmul GFLOP/s at 128/256/512 (GPU kernel on
//! the present adapter, the CPU backend's GEMM, numpy); ticks/s of poster.json at 256² and 512² on
//! each backend and in numpy (benches/poster_numpy.py, same run); the real-time factor of fm.json
//! and the per-tick time of sine.json on each backend; ns per oscillator per sample of 10, 100 and
//! 1000 sine oscillators against fundsp (benches/engine/oscillators.rs); ticks/s and CPU share of
//! default.json and poster.json with the CPU backend's strokes threaded or not, and with the
//! pictures on every tick against the frame clock. Run with
//! `cargo bench --bench engine` (`-- osc` for one section).

use dmm_synth::backend::Backend;
use dmm_synth::backend::cpu::{CpuBackend, PAR_WORK};
use dmm_synth::backend::gpu::GpuBackend;
use dmm_synth::engine::Machine;
use dmm_synth::neurons::AssetDirs;
use dmm_synth::neurons::images as kernels;
use dmm_synth::patch::Patch;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[path = "engine/oscillators.rs"]
mod oscillators;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str, size: Option<usize>) -> (Patch, AssetDirs) {
    load_with(name, |json| {
        if let Some(n) = size {
            json["settings"]["image_size"] = serde_json::json!([n, n]);
        }
    })
}

/// A shipped patch with its JSON changed by `f` first.
fn load_with(name: &str, f: impl FnOnce(&mut serde_json::Value)) -> (Patch, AssetDirs) {
    let path = root().join("patches").join(name);
    let assets = AssetDirs::for_patch(&path);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("patch")).expect("json");
    f(&mut json);
    let p = Patch::parse(&json.to_string(), name, &assets).expect("valid patch");
    (p, assets)
}

/// The frame clock: each patch as shipped (pictures every round(tick_rate / frame_rate)-th tick)
/// against the same patch with `frame_rate` = `tick_rate` (pictures every tick, as before the
/// frame clock), on the CPU backend; the share is of one core at the patch's tick rate.
fn frame_section(min: Duration) {
    println!();
    println!(
        "frame clock, cpu backend                 ticks/s   cpu ms/tick   share of a core at tick_rate"
    );
    for (name, size) in [
        ("default.json", None),
        ("poster.json", None),
        ("poster.json", Some(512)),
    ] {
        let label = match size {
            Some(n) => format!("{name} {n}²"),
            None => name.to_string(),
        };
        let (after, a) = load(name, size);
        let (before, _) = load_with(name, |j| {
            if let Some(n) = size {
                j["settings"]["image_size"] = serde_json::json!([n, n]);
            }
            j["settings"]["frame_rate"] = j["settings"]["tick_rate"].clone();
        });
        let rate = after.settings.tick_rate;
        let mut shares = Vec::new();
        for (how, p) in [("every tick", &before), ("frame clock", &after)] {
            let (tps, cpu) = cpu_share(p, &a, PAR_WORK, min);
            let share = cpu.map(|c| c * rate * 100.0);
            shares.push((tps, share));
            let what = format!("{label} {how} (1 in {})", p.settings.frame_period());
            println!(
                "{what:<40}{tps:>8.1} {:>13} {:>12}",
                cpu.map(|c| format!("{:.3}", c * 1e3)).unwrap_or("—".into()),
                share.map(|s| format!("{s:.1}%")).unwrap_or("—".into())
            );
        }
        let (b, f) = (shares[0], shares[1]);
        println!(
            "{:<40}{:>8} {:>13} {:>12}",
            format!("{label} frame clock / every tick"),
            format!("{:.2}×", f.0 / b.0),
            "",
            match (b.1, f.1) {
                (Some(x), Some(y)) if y > 0.0 => format!("{:.2}× less", x / y),
                _ => "—".into(),
            }
        );
    }
}

/// Runs ticks for at least `min` wall time (after a warm-up); returns ticks per second.
fn ticks_per_second(
    p: &Patch,
    assets: &AssetDirs,
    backend: Box<dyn Backend>,
    min: Duration,
) -> f64 {
    let mut m = Machine::new(p.network.clone(), p.initial_w(), backend, assets.clone(), 0)
        .expect("machine");
    for _ in 0..5 {
        m.tick(false).expect("tick");
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < min || n < 10 {
        m.tick(false).expect("tick");
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// CPU seconds this process has used (user + system, every thread), from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<&str> = s.get(s.rfind(')')? + 2..)?.split_whitespace().collect();
    // utime and stime are fields 14 and 15, counted from the pid; CLK_TCK is 100 on Linux.
    let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(t / 100.0)
}

/// Ticks per second flat out, and CPU seconds per tick (all threads), on the CPU backend with
/// the strokes going parallel from `par_work` elements.
fn cpu_share(p: &Patch, assets: &AssetDirs, par_work: usize, min: Duration) -> (f64, Option<f64>) {
    let backend = Box::new(CpuBackend::with_par_work(par_work));
    let mut m = Machine::new(p.network.clone(), p.initial_w(), backend, assets.clone(), 0)
        .expect("machine");
    for _ in 0..5 {
        m.tick(false).expect("tick");
    }
    let (start, cpu0) = (Instant::now(), cpu_seconds());
    let mut n = 0u64;
    while start.elapsed() < min || n < 10 {
        m.tick(false).expect("tick");
        n += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| (b - a) / n as f64);
    (n as f64 / wall, cpu)
}

/// Whether spreading the strokes over threads pays: each patch with the default threshold and
/// with the strokes always parallel; the CPU share is of one core at the patch's tick rate.
fn share_section(min: Duration) {
    println!();
    println!(
        "cpu backend: threads or not        ticks/s   cpu ms/tick   share of a core at tick_rate"
    );
    let cases = [
        ("default.json", None),
        ("poster.json", Some(256)),
        ("poster.json", Some(512)),
    ];
    for (name, size) in cases {
        let (p, a) = load(name, size);
        for (how, par) in [("as shipped", PAR_WORK), ("always parallel", 0)] {
            let (tps, cpu) = cpu_share(&p, &a, par, min);
            let label = match size {
                Some(n) => format!("{name} {n}² {how}"),
                None => format!("{name} {how}"),
            };
            println!(
                "{label:<35}{tps:>8.1} {:>13} {:>12}",
                cpu.map(|c| format!("{:.3}", c * 1e3)).unwrap_or("—".into()),
                cpu.map(|c| format!("{:.1}%", c * p.settings.tick_rate * 100.0))
                    .unwrap_or("—".into())
            );
        }
    }
}

fn cpu_matmul_gflops(n: usize) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; n * n];
    for _ in 0..3 {
        kernels::matmul(&a, &a, &mut c, n, n, n);
    }
    let start = Instant::now();
    let mut reps = 0u64;
    while start.elapsed() < Duration::from_secs(1) || reps < 5 {
        kernels::matmul(&a, &a, &mut c, n, n, n);
        reps += 1;
    }
    2.0 * (n as f64).powi(3) * reps as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// numpy's figures, from benches/poster_numpy.py run now on this machine, and the BLAS it used.
/// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the peer's environment: OpenBLAS picks
/// its kernel for this CPU itself (forced ones made its figure swing between 5 and 120 GFLOP/s).
/// The first interpreter that has numpy runs it.
fn numpy() -> Result<(HashMap<String, f64>, String), String> {
    let mut why = Vec::new();
    for python in ["python3", "/usr/bin/python3"] {
        let out = std::process::Command::new(python)
            .arg(root().join("benches/poster_numpy.py"))
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE")
            .output();
        let out = match out {
            Ok(o) if o.status.success() => o,
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                why.push(format!(
                    "{python}: {}",
                    err.trim().lines().last().unwrap_or("")
                ));
                continue;
            }
            Err(e) => {
                why.push(format!("{python}: {e}"));
                continue;
            }
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let blas = text
            .lines()
            .find_map(|l| l.strip_prefix("blas "))
            .unwrap_or("unknown")
            .to_string();
        let figures = text
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                match w[..] {
                    ["numpy", what, n, _, v] => Some((format!("{what} {n}"), v.parse().ok()?)),
                    _ => None,
                }
            })
            .collect();
        return Ok((figures, blas));
    }
    Err(why.join("; "))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn fmt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "—".into(),
    }
}

fn main() {
    // No `XDG_RUNTIME_DIR is invalid` lines from the GPU probe (see the function).
    // SAFETY: first thing in `main`, before any other thread exists.
    unsafe { dmm_synth::backend::gpu::context::quiet_gpu_probe() };
    // `cargo bench --bench engine -- WORD` runs only the sections whose name contains WORD
    // (matmul, poster, share, frames, osc, small).
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| filter.is_empty() || filter.iter().any(|f| s.contains(f.as_str()));
    let min = Duration::from_secs(3);
    let gpu = |_: ()| GpuBackend::new();
    let (adapter, variant) = match gpu(()) {
        Ok(g) => (
            format!(
                "{} ({:?}, {:?})",
                g.adapter().name,
                g.adapter().backend,
                g.adapter().device_type
            ),
            g.matmul_variant(),
        ),
        Err(e) => (format!("none ({e})"), "—"),
    };
    println!("dmm-synth engine benchmark");
    println!(
        "CPU: {} ({} threads)",
        cpu_model(),
        rayon::current_num_threads()
    );
    println!("GPU adapter: {adapter}");
    let np = if want("matmul") || want("poster") {
        numpy()
    } else {
        Err("not run (section filter)".into())
    };
    match &np {
        Ok((_, blas)) => println!(
            "peer: numpy (benches/poster_numpy.py), measured in this run, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; BLAS: {blas}"
        ),
        Err(e) => println!("peer: numpy not available ({e}); pip install numpy threadpoolctl"),
    }
    let npv = |k: &str| np.as_ref().ok().and_then(|(m, _)| m.get(k).copied());
    if want("matmul") {
        println!();
        println!("matmul GFLOP/s              128       256       512");
        let sizes = [128, 256, 512];
        let g_mm: Vec<Option<f64>> = sizes
            .iter()
            .map(|&n| {
                let g = gpu(()).ok()?;
                let reps = if n >= 512 { 3 } else { 10 };
                let s = g.matmul_seconds(n, reps).ok()?;
                Some(2.0 * (n as f64).powi(3) / s / 1e9)
            })
            .collect();
        let c_mm: Vec<Option<f64>> = sizes.iter().map(|&n| Some(cpu_matmul_gflops(n))).collect();
        let n_mm: Vec<Option<f64>> = sizes.iter().map(|n| npv(&format!("matmul {n}"))).collect();
        let row =
            |name: &str, v: &[String]| println!("{name:<24}{:>9} {:>9} {:>9}", v[0], v[1], v[2]);
        row(
            &format!("gpu ({variant})"),
            &g_mm.iter().map(|v| fmt(*v)).collect::<Vec<_>>(),
        );
        row(
            "cpu (matrixmultiply)",
            &c_mm.iter().map(|v| fmt(*v)).collect::<Vec<_>>(),
        );
        row("numpy", &n_mm.iter().map(|v| fmt(*v)).collect::<Vec<_>>());
        row(
            "gpu / numpy",
            &(0..3).map(|i| ratio(g_mm[i], n_mm[i])).collect::<Vec<_>>(),
        );
        row(
            "cpu / numpy",
            &(0..3).map(|i| ratio(c_mm[i], n_mm[i])).collect::<Vec<_>>(),
        );
    }
    let row2 = |name: &str, v: [String; 2]| println!("{name:<24}{:>9} {:>9}", v[0], v[1]);
    if want("poster") {
        println!();
        println!("poster.json, pictures on every tick (as numpy's tick computes them)");
        println!("ticks/s                     256²      512²");
        let mut cpu_p = Vec::new();
        let mut gpu_p = Vec::new();
        let mut np_p = Vec::new();
        for n in [256, 512] {
            // Pictures on every tick, as numpy's tick computes them: the frame clock would run
            // them on one tick in six and flatter the ratio six times over.
            let (p, a) = load_with("poster.json", |j| {
                j["settings"]["image_size"] = serde_json::json!([n, n]);
                j["settings"]["frame_rate"] = j["settings"]["tick_rate"].clone();
            });
            cpu_p.push(Some(ticks_per_second(
                &p,
                &a,
                Box::new(CpuBackend::new()),
                min,
            )));
            gpu_p.push(
                gpu(())
                    .ok()
                    .map(|g| ticks_per_second(&p, &a, Box::new(g), min)),
            );
            np_p.push(npv(&format!("poster {n}")));
        }
        row2("cpu", [fmt(cpu_p[0]), fmt(cpu_p[1])]);
        row2("gpu", [fmt(gpu_p[0]), fmt(gpu_p[1])]);
        row2("numpy", [fmt(np_p[0]), fmt(np_p[1])]);
        row2(
            "cpu / numpy",
            [ratio(cpu_p[0], np_p[0]), ratio(cpu_p[1], np_p[1])],
        );
        row2(
            "gpu / numpy",
            [ratio(gpu_p[0], np_p[0]), ratio(gpu_p[1], np_p[1])],
        );
    }
    if want("share") {
        share_section(Duration::from_secs(2));
    }
    if want("frames") {
        frame_section(Duration::from_secs(2));
    }
    if want("osc") {
        oscillators::section();
    }
    if !want("small") {
        return;
    }
    println!();
    let (fm, fa) = load("fm.json", None);
    let (sine, sa) = load("sine.json", None);
    println!("small patches               cpu       gpu");
    let fm_c = ticks_per_second(&fm, &fa, Box::new(CpuBackend::new()), min);
    let fm_g = gpu(())
        .ok()
        .map(|g| ticks_per_second(&fm, &fa, Box::new(g), min));
    let rt = |t: f64| t / fm.settings.tick_rate;
    row2(
        "fm.json x real time",
        [format!("{:.1}", rt(fm_c)), fmt(fm_g.map(rt))],
    );
    let s_c = ticks_per_second(&sine, &sa, Box::new(CpuBackend::new()), min);
    let s_g = gpu(())
        .ok()
        .map(|g| ticks_per_second(&sine, &sa, Box::new(g), min));
    let ms = |t: f64| 1e3 / t;
    row2(
        "sine.json ms/tick",
        [
            format!("{:.3}", ms(s_c)),
            s_g.map(|t| format!("{:.3}", ms(t))).unwrap_or("—".into()),
        ],
    );
}
