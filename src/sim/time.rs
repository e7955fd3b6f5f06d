//! Simulated time: controller cycles and nanoseconds as distinct types, so one is never used for the other.
//!
//! Cycle arithmetic saturates at `u64::MAX` instead of wrapping, so a time can never move backwards; the
//! configuration bounds (`crate::config::check`) keep every accepted run far below that ceiling.

use crate::periph::Clock;
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in time or a duration, in controller clock cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cycle(pub u64);

/// A time or duration in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Ns(pub f64);

impl Cycle {
    /// Time zero.
    pub const ZERO: Cycle = Cycle(0);

    /// The raw cycle count.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The time of this cycle on `clock`.
    pub fn to_ns(self, clock: &Clock) -> Ns {
        Ns(clock.ns(self.0))
    }
}

impl Add for Cycle {
    type Output = Cycle;
    /// Saturates at `u64::MAX`.
    fn add(self, rhs: Cycle) -> Cycle {
        Cycle(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Cycle {
    fn add_assign(&mut self, rhs: Cycle) {
        *self = *self + rhs;
    }
}

impl Sub for Cycle {
    type Output = Cycle;
    /// Saturates at zero.
    fn sub(self, rhs: Cycle) -> Cycle {
        Cycle(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cycles", self.0)
    }
}

impl Ns {
    /// The raw value, in ns.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Ns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ns", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_arithmetic_saturates_instead_of_wrapping() {
        let near_end = Cycle(u64::MAX - 1);
        assert_eq!(near_end + Cycle(10), Cycle(u64::MAX));
        let mut t = near_end;
        t += Cycle(u64::MAX);
        assert_eq!(t, Cycle(u64::MAX));
        assert_eq!(Cycle(3) - Cycle(5), Cycle::ZERO);
        assert!(near_end + Cycle(10) >= near_end);
    }
}
