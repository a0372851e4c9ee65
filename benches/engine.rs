//! Engine benchmarks, printed side by side in one run: matmul GFLOP/s at 128/256/512 (GPU kernel on
//! the present adapter, the CPU backend's GEMM, numpy); ticks/s of poster.json at 256² and 512² on
//! each backend and in numpy (benches/poster_numpy.py, same run); the real-time factor of fm.json
//! and the per-tick time of sine.json on each backend. Run with `cargo bench --bench engine`.

use dmm_synth::backend::Backend;
use dmm_synth::backend::cpu::CpuBackend;
use dmm_synth::backend::gpu::GpuBackend;
use dmm_synth::engine::Machine;
use dmm_synth::neurons::AssetDirs;
use dmm_synth::neurons::images as kernels;
use dmm_synth::patch::Patch;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str, size: Option<usize>) -> (Patch, AssetDirs) {
    let path = root().join("patches").join(name);
    let assets = AssetDirs::for_patch(&path);
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("patch")).expect("json");
    if let Some(n) = size {
        json["settings"]["image_size"] = serde_json::json!([n, n]);
    }
    let p = Patch::parse(&json.to_string(), name, &assets).expect("valid patch");
    (p, assets)
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

/// numpy's figures, from benches/poster_numpy.py run now on this machine.
fn numpy() -> Result<HashMap<String, f64>, String> {
    let out = std::process::Command::new("python3")
        .arg(root().join("benches/poster_numpy.py"))
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w[..] {
                ["numpy", what, n, _, v] => Some((format!("{what} {n}"), v.parse().ok()?)),
                _ => None,
            }
        })
        .collect())
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
    // `cargo bench --bench engine -- WORD` runs only the sections whose name contains WORD
    // (matmul, poster, small).
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
    let np = numpy();
    match &np {
        Ok(_) => println!("peer: numpy (benches/poster_numpy.py), measured in this run"),
        Err(e) => println!("peer: numpy not available ({e}); install python3-numpy"),
    }
    let npv = |k: &str| np.as_ref().ok().and_then(|m| m.get(k).copied());
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
        println!("poster.json ticks/s         256²      512²");
        let mut cpu_p = Vec::new();
        let mut gpu_p = Vec::new();
        let mut np_p = Vec::new();
        for n in [256, 512] {
            let (p, a) = load("poster.json", Some(n));
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
