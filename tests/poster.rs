//! poster.json equals an independent, straightforward computation of the formula:
//! normalize(normalize(softmax_rows(L)) · normalize(softmax_cols(R))).

mod common;
use common::*;

type M = Vec<Vec<f64>>;

fn normalize(m: &M) -> M {
    let lo = m.iter().flatten().cloned().fold(f64::INFINITY, f64::min);
    let hi = m
        .iter()
        .flatten()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    m.iter()
        .map(|r| r.iter().map(|v| (v - lo) / (hi - lo)).collect())
        .collect()
}

fn softmax_rows(m: &M) -> M {
    // Textbook form, no max subtraction (the pixels are in [0, 1]).
    m.iter()
        .map(|r| {
            let s: f64 = r.iter().map(|v| v.exp()).sum();
            r.iter().map(|v| v.exp() / s).collect()
        })
        .collect()
}

fn transpose(m: &M) -> M {
    (0..m[0].len())
        .map(|j| m.iter().map(|r| r[j]).collect())
        .collect()
}

fn matmul(a: &M, b: &M) -> M {
    let bt = transpose(b);
    a.iter()
        .map(|r| {
            bt.iter()
                .map(|c| r.iter().zip(c).map(|(x, y)| x * y).sum())
                .collect()
        })
        .collect()
}

#[test]
fn poster_matches_the_formula() {
    let p = patch("poster.json");
    let mut m = machine(&p);
    // Four frames through softmax, normalize, matmul and normalize (the pictures run on frame
    // ticks: every `period`-th tick, tick 0 included); np holds the product after tick 3·period.
    let period = p.settings.frame_period();
    assert!(
        period > 1,
        "the poster runs its pictures on the frame clock"
    );
    for _ in 0..=3 * period {
        m.tick(false).unwrap();
    }
    let (rows, cols) = (256, 256);
    let to_m = |v: Vec<f32>| -> M {
        assert_eq!(v.len(), rows * cols);
        v.chunks(cols)
            .map(|r| r.iter().map(|&x| x as f64).collect())
            .collect()
    };
    let l = to_m(m.read("left.out").unwrap());
    let r = to_m(m.read("right.out").unwrap());
    // The pictures are really there (not blank, not equal).
    assert!(l.iter().flatten().any(|&v| v > 0.5) && l != r);
    let a = normalize(&softmax_rows(&l));
    let b = normalize(&transpose(&softmax_rows(&transpose(&r))));
    let want = normalize(&matmul(&a, &b));
    let got = to_m(m.read("np.out").unwrap());
    let mut worst = 0.0f64;
    for (gr, wr) in got.iter().zip(&want) {
        for (g, w) in gr.iter().zip(wr) {
            worst = worst.max((g - w).abs());
        }
    }
    assert!(worst <= 1e-4, "max |engine - formula| = {worst}");
    // And the display shows it from the next frame tick (4·period) on, and holds it.
    for _ in 0..period - 1 {
        m.tick(false).unwrap();
    }
    m.tick(true).unwrap();
    let held = m.outputs().frames[0].clone();
    m.tick(true).unwrap();
    assert_eq!(
        m.outputs().frames[0],
        held,
        "the display holds between frames"
    );
    let f = &m.outputs().frames[0];
    let px = |i: usize, j: usize| f.rgba[(i * cols + j) * 4];
    let expect = |i: usize, j: usize| (want[i][j] * 255.0).round() as i32;
    for (i, j) in [(0, 0), (10, 200), (128, 128), (255, 3)] {
        assert!(
            (px(i, j) as i32 - expect(i, j)).abs() <= 1,
            "pixel ({i},{j})"
        );
    }
}
