//! The visual experiments of the seeds as shipped patches, each against an independent computation
//! written here: the continuous cellular automata of Aug 2015 and Jun 2016, the JuliaCon symmetric
//! poster image, and the Jun 2015 S-insert (a higher-order edit the running network makes itself).
//! The patches run at tick_rate <= 30: every tick is a frame tick.

mod common;
use common::*;
use dmm_synth::engine::{Machine, PortRef};
use dmm_synth::neurons::AssetDirs;
use dmm_synth::patch::Patch;

/// A shipped patch, its text changed by `edit` first (to switch something off).
fn shipped(name: &str, edit: impl Fn(String) -> String) -> Patch {
    let path = root().join("patches").join(name);
    let text = edit(std::fs::read_to_string(&path).unwrap());
    Patch::parse(&text, name, &AssetDirs::for_patch(&path)).unwrap_or_else(|e| panic!("{e}"))
}

fn read(m: &mut Machine, port: &str) -> Vec<f64> {
    m.read(port)
        .unwrap_or_else(|| panic!("no port {port}"))
        .into_iter()
        .map(f64::from)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

/// The "wandering clouds" neighbourhood, (columns, rows) added to a cell's position.
const CLOUDS: [(i64, i64); 5] = [(0, 0), (1, 0), (0, 1), (1, 1), (-1, -1)];

/// One step of the plain rule: every cell becomes the mean of `f` of its five neighbours on the
/// torus.
fn ca_step(v: &[f64], n: i64, f: impl Fn(f64) -> f64) -> Vec<f64> {
    (0..n * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            CLOUDS
                .iter()
                .map(
                    |(dc, dr)| f(v[((r + dr).rem_euclid(n) * n + (c + dc).rem_euclid(n)) as usize]),
                )
                .sum::<f64>()
                / 5.0
        })
        .collect()
}

/// With the randomisation off (keep=1), the board the rolls read starts as the original's (one
/// white cell at (0, 0) on black) and then follows the plain shift-and-average rule for 20 steps.
#[test]
fn continuous_ca_without_randomisation_is_the_shift_and_average_rule() {
    let p = shipped("continuous_ca.dmm", |t| t.replace("keep=0.995", "keep=1"));
    let mut m = machine(&p);
    for _ in 0..3 {
        m.tick(false).unwrap();
    }
    let mut want: Vec<f64> = (0..64 * 64)
        .map(|i| if i == 0 { 1.0 } else { -1.0 })
        .collect();
    assert_close(&read(&mut m, "r0.x"), &want, 1e-6, "the initial board");
    for step in 1..=20 {
        want = ca_step(&want, 64, |v| v);
        m.tick(false).unwrap();
        for r in ["r0", "r1", "r2", "r3", "r4"] {
            let got = read(&mut m, &format!("{r}.x"));
            assert_close(&got, &want, 1e-5, &format!("step {step} {r}.x"));
        }
    }
    // The clouds have spread from the corner and are still moving.
    assert!(want.iter().filter(|&&v| v > -0.99).count() > 50);
}

/// As shipped (keep=0.995) the links drop out: the board leaves the plain rule, by the same
/// amount on every run with the same seed.
#[test]
fn continuous_ca_randomisation_is_seeded() {
    let run = |seed: u64| {
        let p = shipped("continuous_ca.dmm", |t| t);
        let mut m = Machine::new(
            p.network.clone(),
            p.initial_w(),
            Box::new(dmm_synth::backend::cpu::CpuBackend::new()),
            assets(),
            seed,
        )
        .unwrap();
        for _ in 0..23 {
            m.tick(false).unwrap();
        }
        read(&mut m, "r0.x")
    };
    let (a, b, c) = (run(4), run(4), run(5));
    assert_eq!(a, b, "same seed, same board");
    assert_ne!(a, c, "another seed drops other links");
    let mut plain: Vec<f64> = (0..64 * 64)
        .map(|i| if i == 0 { 1.0 } else { -1.0 })
        .collect();
    for _ in 0..20 {
        plain = ca_step(&plain, 64, |v| v);
    }
    let moved = a
        .iter()
        .zip(&plain)
        .filter(|(x, y)| (*x - *y).abs() > 1e-3)
        .count();
    // 0.5 % of 5 links per cell per step, over 20 steps, touch most cells.
    assert!(
        moved > 64 * 64 / 4,
        "only {moved} cells differ from the plain rule"
    );
}

/// The Jun 2016 variant: the board starts as the picture's brightness - 1 and every step is the
/// mean of sin(π·v) over the five neighbours; the loop is two ticks deep, so each board is read
/// on two consecutive ticks.
#[test]
fn continuous_ca_picture_steps_are_the_mean_of_sin_pi_v() {
    let p = shipped("continuous_ca_picture.dmm", |t| t);
    let mut m = machine(&p);
    m.tick(false).unwrap();
    let pic = read(&mut m, "pic.out");
    assert!(pic.iter().any(|&v| v > 0.5) && pic.iter().any(|&v| v < 0.2));
    m.tick(false).unwrap();
    let board0: Vec<f64> = pic.iter().map(|v| v - 1.0).collect();
    assert_close(
        &read(&mut m, "s.x"),
        &board0,
        1e-6,
        "tick 1: the picture's board",
    );
    m.tick(false).unwrap();
    assert_close(&read(&mut m, "s.x"), &board0, 1e-6, "tick 2: again");
    let mut prev = board0;
    for step in 1..=10 {
        // From the machine's previous board: one step of the rule each time, in f64.
        let want = ca_step(&prev, 128, |v| (std::f64::consts::PI * v).sin());
        for half in 0..2 {
            m.tick(false).unwrap();
            let got = read(&mut m, "s.x");
            assert_close(&got, &want, 1e-5, &format!("step {step}.{half}"));
        }
        prev = read(&mut m, "s.x");
    }
}

/// The symmetric poster image, rendered by the app: S[i][j] = S[j][i] within one grey level, and
/// not a flat picture.
#[test]
fn poster_symmetric_frame_is_symmetric() {
    let dir = tempfile::tempdir().unwrap();
    let p = patch("poster_symmetric.dmm");
    // Six frames deep on the frame clock: the display shows S from frame tick 5·period on.
    let ticks = 5 * p.settings.frame_period() + 1;
    render_to(&p, dir.path(), ticks, ticks, Vec::new(), 0);
    let img = image::open(dir.path().join(format!("show_{:06}.png", ticks - 1)))
        .unwrap()
        .to_luma8();
    let (w, h) = img.dimensions();
    assert_eq!((w, h), (256, 256));
    let px = |x: u32, y: u32| img.get_pixel(x, y)[0];
    let mut worst = 0;
    for y in 0..h {
        for x in 0..y {
            worst = worst.max(px(x, y).abs_diff(px(y, x)));
        }
    }
    assert!(
        worst <= 1,
        "S[i][j] and S[j][i] differ by {worst} grey levels"
    );
    let (lo, hi) = img
        .pixels()
        .fold((255, 0), |(lo, hi), p| (p[0].min(lo), p[0].max(hi)));
    assert_eq!((lo, hi), (0, 255), "normalised to the full range");
    let mean = img.pixels().map(|p| p[0] as f64).sum::<f64>() / (w * h) as f64;
    assert!((20.0..235.0).contains(&mean), "mean grey {mean}");
}

/// The S-insert: before the network edits itself the screen shows A's output; the swap to
/// B -> C happens at tick 60 without a jump (C starts as B, a copy of A); α then ramps to 1
/// through Self, after which the screen shows the D path's output and W holds C.in <- D alone.
#[test]
fn s_insert_replaces_a_then_crossfades_to_d() {
    let p = patch("s_insert.dmm");
    let mut m = machine(&p);
    let w = |m: &Machine, t: &str, s: &str| {
        m.w()
            .get(&PortRef::parse(t).unwrap(), &PortRef::parse(s).unwrap())
    };
    // The phase follows the clock from tick 1 on (tick 0 reads the clock's birth value, 0).
    m.tick(false).unwrap();
    m.tick(false).unwrap();
    let mut prev_a = read(&mut m, "A.out");
    let mut swapped = None;
    let mut last_alpha = 0.0;
    for t in 2..160u64 {
        let prev_c = read(&mut m, "C.out");
        m.tick(false).unwrap();
        let shown = read(&mut m, "show.in");
        let a_now = read(&mut m, "A.out");
        assert!(a_now != prev_a, "tick {t}: A is animated");
        if swapped.is_none() && shown != prev_a {
            swapped = Some(t);
            // The first frame after the swap is C's, which was B's: a copy of A, no jump.
            assert!(shown == prev_c, "tick {t}: shows C");
        }
        match swapped {
            // The count reaches 60, compare, gate, Self and the down stroke each take a tick.
            None => assert!(t <= 66, "tick {t}: still showing A"),
            Some(s) => assert!((60..=66).contains(&s), "swapped at tick {s}"),
        }
        // α = the weight C.in <- D never goes back, and the two weights sum to 1.
        let (b, d) = (w(&m, "C.in", "B.out"), w(&m, "C.in", "D.out"));
        assert!(
            d >= last_alpha && (b + d - 1.0).abs() < 1e-12,
            "tick {t}: {b} + {d}"
        );
        if t == 105 {
            assert!(d > 0.2 && d < 0.8, "tick {t}: α = {d} mid-ramp");
        }
        last_alpha = d;
        prev_a = a_now;
    }
    assert_eq!(w(&m, "C.in", "D.out"), 1.0);
    assert_eq!(
        m.w().row(&PortRef::parse("C.in").unwrap()).map(|r| r.len()),
        Some(1)
    );
    assert_eq!(w(&m, "show.in", "A.out"), 0.0);
    assert_eq!(w(&m, "show.in", "C.out"), 1.0);
    // D's path, a fixed affine view of the picture, is what the screen shows now.
    let (shown, d) = (read(&mut m, "show.in"), read(&mut m, "D.out"));
    assert!(shown == d, "the screen shows D's output");
    assert!(shown != read(&mut m, "A.out"), "and not A's");
}

/// The experiments are kept in the text language's canonical form (what `convert` prints), like
/// the other shipped patches.
#[test]
fn the_experiments_are_in_canonical_form() {
    for name in [
        "continuous_ca",
        "continuous_ca_picture",
        "wave_transform",
        "poster_symmetric",
        "s_insert",
    ] {
        let file = format!("{name}.dmm");
        let src = std::fs::read_to_string(root().join("patches").join(&file)).unwrap();
        assert_eq!(
            dmm_synth::patch::text::print_text(&patch(&file)),
            src,
            "{file} is not in canonical form (dmm-synth convert {file} OUT.dmm)"
        );
    }
}

/// The feedback patches on the GPU backend (roll's seeded mask, warp's resampling, the S-insert's
/// self-edit) give the CPU's frames within one grey level. Not the picture automaton: it is
/// chaotic, and the two backends' sin part ways by design. Without an adapter this is not run,
/// and says so; with REQUIRE_GPU=1 (CI) that is a failure.
#[test]
fn the_feedback_patches_render_the_same_on_the_gpu() {
    use dmm_synth::backend::Backend;
    use dmm_synth::backend::cpu::CpuBackend;
    use dmm_synth::backend::gpu::{GpuBackend, GpuContext, GpuOptions};
    for (name, ticks) in [
        ("continuous_ca.dmm", 40),
        ("wave_transform.dmm", 40),
        ("s_insert.dmm", 130),
    ] {
        let gpu = GpuContext::new()
            .and_then(|ctx| GpuBackend::with_options(ctx, GpuOptions { variant: None }));
        let gpu = match gpu {
            Ok(g) => g,
            Err(e) if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") => {
                panic!("REQUIRE_GPU=1 but the GPU backend cannot start: {e}")
            }
            Err(e) => {
                eprintln!(
                    "NOT RUN: no GPU adapter ({e}); set REQUIRE_GPU=1 to make this a failure"
                );
                return;
            }
        };
        let p = patch(name);
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let backends: [Box<dyn Backend>; 2] = [Box::new(CpuBackend::new()), Box::new(gpu)];
        for (dir, b) in dirs.iter().zip(backends) {
            let opts = dmm_synth::render::RenderOptions {
                ticks,
                out_dir: dir.path().to_path_buf(),
                every: ticks / 2,
                edits: Vec::new(),
                midi: Vec::new(),
                seed: 9,
            };
            dmm_synth::render::render(&p, b, &opts, |_| {}).unwrap();
        }
        for tick in [ticks / 2 - 1, ticks - 1] {
            let file = format!("show_{tick:06}.png");
            let [a, b] =
                [&dirs[0], &dirs[1]].map(|d| image::open(d.path().join(&file)).unwrap().to_rgba8());
            let worst = a
                .as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(x, y)| x.abs_diff(*y))
                .max()
                .unwrap_or(0);
            assert!(
                worst <= 1,
                "{name} {file}: cpu and gpu differ by {worst} levels"
            );
        }
    }
}
