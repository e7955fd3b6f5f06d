//! A fast standard-normal sampler for the per-pulse hot loops: the ziggurat method of Marsaglia and Tsang
//! (J. Stat. Softw. 5(8), 2000) with 256 layers, in f32, one `u64` per draw on the fast path (~99% of
//! draws): 8 bits pick the layer, 1 bit the sign, 24 bits the position in the layer.
//!
//! The tables are computed once (in f64) on first use. rand_distr's `StandardNormal` does the same in f64
//! and then rounds; this version keeps everything in f32 and avoids an out-of-line call per draw.

use rand::Rng;
use std::sync::LazyLock;

/// Layers of the ziggurat.
const LAYERS: usize = 256;
/// Right edge of the base layer for 256 layers.
const R: f64 = 3.654_152_885_361_009;
/// Area of each layer (and of the base layer with its tail) for 256 layers.
const V: f64 = 0.004_928_673_233_99;

/// The ziggurat tables.
#[derive(Debug)]
pub struct Tables {
    /// x[i]: right edge of layer i (x[0] = V / f(R) for the base layer), x[LAYERS] = 0.
    x: [f32; LAYERS + 1],
    /// x[i + 1] / x[i]: below this fraction a draw in layer i is inside the curve for sure.
    ratio: [f32; LAYERS],
    /// f(x[i]) = exp(-x[i]^2 / 2), in f64 for the rare slow path.
    f: [f64; LAYERS + 1],
}

fn density(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut x = [0f64; LAYERS + 1];
    x[0] = V / density(R);
    x[1] = R;
    for i in 1..LAYERS - 1 {
        x[i + 1] = (-2.0 * (V / x[i] + density(x[i])).ln()).sqrt();
    }
    x[LAYERS] = 0.0;
    Tables {
        x: x.map(|v| v as f32),
        ratio: std::array::from_fn(|i| (x[i + 1] / x[i]) as f32),
        f: x.map(density),
    }
});

/// A handle on the shared ziggurat tables (cheap to copy; build it once, outside hot loops).
#[derive(Debug, Clone, Copy)]
pub struct Normal {
    tables: &'static Tables,
}

/// All samplers share the same tables, so any two are equal (lets models holding one derive `PartialEq`).
impl PartialEq for Normal {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Default for Normal {
    fn default() -> Self {
        Self::new()
    }
}

impl Normal {
    /// The sampler (computes the tables on first use in the process).
    pub fn new() -> Self {
        Self { tables: &TABLES }
    }

    /// One standard normal draw.
    ///
    /// Every random number is drawn here, inline, and the rare paths call cold helpers with plain values:
    /// passing `rng` to an out-of-line function would force the generator's state out of registers in
    /// the caller's hot loop.
    #[inline(always)]
    pub fn sample<G: Rng + ?Sized>(&self, rng: &mut G) -> f32 {
        let t = self.tables;
        loop {
            let bits = rng.next_u64();
            let layer = (bits & 0xff) as usize;
            // 24 bits fit an i32: a single signed conversion (u64 -> f32 needs a multi-instruction sequence).
            let u = ((bits >> 40) as i32) as f32 * (1.0 / 16_777_216.0);
            // Bit 8 of the draw becomes the sign bit: a branch on it would be mispredicted half the time.
            let sign_bit = ((bits as u32) & 0x100) << 23;
            let z = f32::from_bits((u * t.x[layer]).to_bits() ^ sign_bit);
            if u < t.ratio[layer] {
                return z;
            }
            let sign = if sign_bit != 0 { -1.0 } else { 1.0 };
            if layer == 0 {
                // The tail beyond R needs its own loop: restarting the whole draw would thin the tail.
                loop {
                    let (a, b) = (rng.next_u64(), rng.next_u64());
                    if let Some(x) = tail(a, b) {
                        return sign * x;
                    }
                }
            }
            if wedge_accepts(t, layer, z.abs(), rng.next_u64()) {
                return z;
            }
        }
    }
}

/// Marsaglia's (1964) tail method: x = -ln(u1) / R is accepted if -2 ln(u2) > x^2; returns R + x.
#[cold]
#[inline(never)]
fn tail(a: u64, b: u64) -> Option<f32> {
    let x = -open01(a).ln() / R;
    let y = -open01(b).ln();
    (2.0 * y > x * x).then_some((R + x) as f32)
}

/// Whether a point of layer `layer` at |z| outside its inner rectangle lies under the density.
#[cold]
#[inline(never)]
fn wedge_accepts(t: &Tables, layer: usize, z: f32, bits: u64) -> bool {
    let y = t.f[layer] + open01(bits) * (t.f[layer + 1] - t.f[layer]);
    y < density(f64::from(z))
}

/// A uniform value in (0, 1) from 53 random bits.
fn open01(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, stream};

    #[test]
    fn tables_close_the_ziggurat() {
        let t = &*TABLES;
        // The recurrence must end near 0 (x[255] small) and be decreasing.
        assert!(t.x[LAYERS - 1] < 0.3, "{}", t.x[LAYERS - 1]);
        assert!(t.x.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn moments_and_tails_match_the_standard_normal() {
        let n = Normal::new();
        let mut rng = stream(1, Purpose::Device, 99);
        let count = 2_000_000;
        let (mut s1, mut s2, mut s4) = (0.0f64, 0.0f64, 0.0f64);
        let (mut beyond_1, mut beyond_2, mut beyond_3) = (0u32, 0u32, 0u32);
        for _ in 0..count {
            let z = f64::from(n.sample(&mut rng));
            s1 += z;
            s2 += z * z;
            s4 += z * z * z * z;
            beyond_1 += u32::from(z.abs() > 1.0);
            beyond_2 += u32::from(z.abs() > 2.0);
            beyond_3 += u32::from(z > 3.0);
        }
        let c = f64::from(count);
        let se = 1.0 / c.sqrt();
        assert!((s1 / c).abs() < 4.0 * se, "mean {}", s1 / c);
        assert!((s2 / c - 1.0).abs() < 4.0 * 2f64.sqrt() * se, "var {}", s2 / c);
        assert!(
            (s4 / c - 3.0).abs() < 4.0 * 96f64.sqrt() * se,
            "kurtosis {}",
            s4 / c
        );
        // Closed-form tail probabilities: P(|Z| > 1) = 0.317311, P(|Z| > 2) = 0.0455003, P(Z > 3) = 0.0013499.
        for (hits, p) in [
            (beyond_1, 0.317_310_5),
            (beyond_2, 0.045_500_26),
            (beyond_3, 0.001_349_9),
        ] {
            let got = f64::from(hits) / c;
            let tol = 4.0 * (p * (1.0 - p) / c).sqrt();
            assert!((got - p).abs() < tol, "tail {got} vs {p}");
        }
    }
}
