//! `java.util.Random` (the 48-bit linear congruential generator of the JDK) and Processing's
//! `randomSeed`/`random(high)` on top of it: what the 2016–2018 Processing experiments drew their
//! starting matrices from. Reproducing it bit for bit lets a patch start exactly where the
//! original sketch did (seed 746484 of afterlife_9_1, 300032 of afterlife_conway_2).

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

/// `java.util.Random` with `setSeed(seed)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JavaRandom {
    state: u64,
}

impl JavaRandom {
    /// `new Random(seed)`, the same as `setSeed(seed)`: the seed is scrambled with the
    /// multiplier, and only its low 48 bits count.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            state: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: advance the LCG and return its top `bits` bits (as Java's signed int).
    pub fn next(&mut self, bits: u32) -> i32 {
        self.state = (self.state.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND)) & MASK;
        (self.state >> (48 - bits)) as i32
    }

    /// `nextInt()`.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextFloat()`: 24 random bits / 2^24, in [0, 1).
    pub fn next_float(&mut self) -> f32 {
        self.next(24) as f32 / (1u32 << 24) as f32
    }
}

/// Processing's random number source: `randomSeed(seed)` then `random(high)`.
#[derive(Clone, Debug)]
pub struct ProcessingRandom {
    rng: JavaRandom,
}

impl ProcessingRandom {
    /// `randomSeed(seed)` (an `int` in the sketches).
    pub fn seeded(seed: i64) -> Self {
        ProcessingRandom {
            rng: JavaRandom::new(seed),
        }
    }

    /// `random(high)`: `nextFloat() · high` in f32, drawn again while it rounds up to `high`;
    /// 0 for a zero or NaN `high` (PApplet.java).
    pub fn random(&mut self, high: f32) -> f32 {
        if high == 0.0 || high.is_nan() {
            return 0.0;
        }
        loop {
            let v = self.rng.next_float() * high;
            if v != high {
                return v;
            }
        }
    }
}

/// The first `n` values of `random(2) - 1` after `randomSeed(seed)`, in f32 like the sketches
/// (Processing reads `1.` as a float): the sequence the experiments filled their matrices from.
pub fn sketch_values(seed: i64, n: usize) -> Vec<f32> {
    let mut r = ProcessingRandom::seeded(seed);
    (0..n).map(|_| r.random(2.0) - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values printed by the JDK (java 17+): `new Random(s)`, `setSeed`, `nextInt`,
    // `nextFloat` (as Float.floatToIntBits), and Processing's `random(h)` loop.
    #[test]
    fn matches_the_jdk() {
        let mut r = JavaRandom::new(746484);
        let ints: Vec<i32> = (0..3).map(|_| r.next_int()).collect();
        assert_eq!(ints, [671793575, 339720635, 922574146]);
        let mut r = JavaRandom::new(0);
        let bits: Vec<u32> = (0..3).map(|_| r.next_float().to_bits()).collect();
        assert_eq!(bits, [1060839604, 1062525265, 1047940908]);
        let mut r = JavaRandom::new(-5);
        assert_eq!(r.next_float().to_bits(), 1049223632);
        let mut p = ProcessingRandom::seeded(42);
        let bits: Vec<u32> = (0..3).map(|_| p.random(0.7).to_bits()).collect();
        assert_eq!(bits, [1057120545, 1025293424, 1056235014]);
    }

    #[test]
    fn sketch_seeds_match_the_jdk() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits() as i32).collect::<Vec<_>>();
        assert_eq!(
            bits(&sketch_values(746484, 5)),
            [
                -1087378818,
                -1084784498,
                -1089338042,
                1059018882,
                -1089813442
            ]
        );
        let v = sketch_values(300032, 12696);
        assert_eq!(
            bits(&v[..5]),
            [
                1043549712,
                -1088633668,
                -1084719022,
                -1083772850,
                -1090079546
            ]
        );
        assert_eq!(v[12695].to_bits(), 1057735560);
        assert_eq!(v[0], 0.17510247);
    }

    #[test]
    fn random_of_zero_or_nan_is_zero() {
        let mut p = ProcessingRandom::seeded(1);
        assert_eq!(p.random(0.0), 0.0);
        assert_eq!(p.random(f32::NAN), 0.0);
        // Nothing was drawn: the next value is the seed's first.
        assert_eq!(p.random(1.0), JavaRandom::new(1).next_float());
    }
}
