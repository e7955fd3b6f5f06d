//! Branch-free float helpers for the hot loops. `f32::max`, `min` and `clamp` give NaN a defined meaning
//! (and `clamp` asserts its bounds), which costs several instructions; the physics never produces NaN from
//! checked inputs, so these compile to one `maxss` / `minss` each.

/// max(x, lo), as one `maxss`.
#[inline(always)]
pub(crate) fn at_least(x: f32, lo: f32) -> f32 {
    if x > lo { x } else { lo }
}

/// min(x, hi), as one `minss`.
#[inline(always)]
pub(crate) fn at_most(x: f32, hi: f32) -> f32 {
    if x < hi { x } else { hi }
}

/// x clamped to [lo, hi] (lo <= hi).
#[inline(always)]
pub(crate) fn within(x: f32, lo: f32, hi: f32) -> f32 {
    at_most(at_least(x, lo), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_clamp() {
        assert_eq!(at_least(-1.0, 0.0), 0.0);
        assert_eq!(at_least(2.0, 0.0), 2.0);
        assert_eq!(at_most(3.0, 2.0), 2.0);
        assert_eq!(within(5.0, 1.0, 4.0), 4.0);
        assert_eq!(within(0.5, 1.0, 4.0), 1.0);
        assert_eq!(within(2.5, 1.0, 4.0), 2.5);
    }
}
