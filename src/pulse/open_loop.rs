//! `open_loop`: NeuroSim V2.1 programming without verify.
//!
//! NeuroSim V2.1 (Cell.cpp, `WriteCell`) programs a cell from its current conductance to the target with
//! `ceil(|dG| / dG_min)` identical pulses, SET if the target is higher and RESET if lower, where dG_min is the
//! conductance step of one pulse ((G_max - G_min) / (maxNumLevel - 1) for its linear device). No verify
//! read follows. Inside a verify loop (which the programmer never runs for this scheme) its pulses behave
//! like `fixed` ones.

use super::Fixed;

/// NeuroSim V2.1 open-loop programming. Its pulses are [`Fixed`] ones (one amplitude per polarity, one
/// width); what sets the scheme apart is the pulse count ([`pulse_count`]) and that no verify follows.
pub type OpenLoop = Fixed;

/// NeuroSim's pulse count to move the conductance by `delta_us` with pulses of `step_us` each:
/// ceil(|dG| / dG_min). A ratio within a relative 1e-6 of a whole number counts as that number, so a
/// change of exactly k steps takes k pulses despite rounding. Zero for `step_us <= 0` or no change.
pub fn pulse_count(delta_us: f64, step_us: f64) -> u32 {
    if step_us <= 0.0 || delta_us == 0.0 || !delta_us.is_finite() {
        return 0;
    }
    let ratio = delta_us.abs() / step_us;
    let nearest = ratio.round();
    let count = if (ratio - nearest).abs() <= 1e-6 * nearest.max(1.0) {
        nearest
    } else {
        ratio.ceil()
    };
    count.min(f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_ceilings_of_the_step_ratio() {
        assert_eq!(pulse_count(10.0, 2.0), 5);
        assert_eq!(pulse_count(-10.0, 2.0), 5);
        assert_eq!(pulse_count(10.1, 2.0), 6);
        assert_eq!(pulse_count(0.3, 2.0), 1);
        assert_eq!(pulse_count(0.0, 2.0), 0);
        assert_eq!(pulse_count(1.0, 0.0), 0);
        // 0.3 / 0.1 = 2.9999999999999996 in floating point: still 3 pulses.
        assert_eq!(pulse_count(0.3, 0.1), 3);
    }
}
