//! The write-verify loop of one device.
//!
//! The loop is written once, generic over [`DeviceModel`], and monomorphised for each device model:
//! [`WriteVerify::run`] matches on the device once and then runs a loop with no dispatch left in it
//! (static dispatch, not `Box<dyn>`, because this is the per-pulse hot loop).

use super::fmath::at_least;
use super::normal::Normal;
use super::{Device, DeviceEvent, DeviceModel, DeviceState, PulseLevel, Statistical};
use crate::config::{DeviceModelConfig, HwConfig};
use crate::periph::{Adc, WriteDriver};
use crate::pulse::Polarity;
use rand::Rng;

/// What one device's write-verify loop did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VerifyReport {
    /// Verify reads (ADC conversions), >= 1.
    pub reads: u32,
    /// Correction pulses: reads - 1.
    pub pulses: u32,
    /// Whether the last read was inside the band (false: failed after max_iterations reads).
    pub converged: bool,
    /// Energy of the correction pulses in the device, in pJ: per pulse V^2 t times the mean of the
    /// conductance before and after it (floored at 0).
    pub pulse_energy_pj: f64,
    /// Energy of the verify reads in the device (V_read^2 G t_read), in pJ.
    pub read_energy_pj: f64,
}

/// Everything one device's write-verify needs, built once from a checked configuration: the device model
/// (with its pulse scheme), the ADC, the acceptance band, the iteration cap and the read conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteVerify {
    device: Device,
    adc: Adc,
    driver: WriteDriver,
    normal: Normal,
    tolerance_us: f32,
    max_iterations: u32,
    read_noise_us: f32,
    /// V_read^2 t_read 1e-3: read energy per uS of conductance, in pJ.
    read_pj_per_us: f32,
    /// The acceptance band in ADC codes of each level's target (level_us as f32, lo, hi), precomputed so
    /// that the usual targets skip [`Adc::band_codes`].
    level_bands: Vec<(f32, f32, f32)>,
    /// levels - 1 over the range: a target's level index before rounding, per uS above g_min.
    levels_per_us: f32,
}

/// An acceptance band of integer ADC codes, tested as |code - mid| <= half: one comparison, one
/// predictable branch. (Two comparisons compile to two branches, and for the statistical device the first,
/// below or above the band, is a coin flip the branch predictor gets wrong half the time.)
#[derive(Debug, Clone, Copy)]
struct CodeBand {
    mid: f32,
    half: f32,
}

/// An open band edge stands this many codes beyond the window edge (the top edge beyond the largest
/// possible top code, 2^16 - 1): farther than any read of a saturating (pulse-level) device can reach,
/// since its conductance stays in the window and read noise is at most half the range (a few ranges,
/// at most 2^16 codes each, even at 6 sigma), and small enough that mid and half stay exact in f32.
const OPEN_EDGE_CODES: f32 = 2_097_152.0;

impl CodeBand {
    /// From the float bounds of [`Adc::band_codes`] (infinite for open edges, lo > hi when empty).
    fn new(lo: f32, hi: f32) -> Self {
        if lo > hi {
            return Self { mid: 0.0, half: -1.0 };
        }
        let lo = if lo.is_finite() { lo } else { -OPEN_EDGE_CODES };
        let hi = if hi.is_finite() {
            hi
        } else {
            OPEN_EDGE_CODES + 65_536.0
        };
        // lo and hi are integers of magnitude below 2^22: their half-sum and half-difference are exact.
        Self {
            mid: 0.5 * (lo + hi),
            half: 0.5 * (hi - lo),
        }
    }

    /// Whether an (integral, unsaturated) code lies in the band.
    #[inline(always)]
    fn contains(self, code: f32) -> bool {
        (code - self.mid).abs() <= self.half
    }
}

impl WriteVerify {
    /// The write-verify of `hw`, to its acceptance band `program.tolerance`.
    pub fn new(hw: &HwConfig) -> Self {
        Self::with_tolerance(hw, hw.program.tolerance)
    }

    /// The write-verify of `hw` to the acceptance band +-`tolerance` (a fraction of the conductance range,
    /// as `program.tolerance`), e.g. the loose class's [`crate::config::ProgramConfig::loose_tolerance`].
    /// The statistical device's spread after a converged verify (`device.variation.sigma_wv`, used with
    /// `outcome = "gaussian"`) is a property of the band (the papers set tolerance = 2 sigma_wv), so it
    /// scales with `tolerance / program.tolerance`: a looser band leaves a wider final error.
    pub fn with_tolerance(hw: &HwConfig, tolerance: f64) -> Self {
        if tolerance != hw.program.tolerance {
            let mut banded = hw.clone();
            banded.device.variation.sigma_wv *= tolerance / hw.program.tolerance;
            banded.program.tolerance = tolerance;
            return Self::with_tolerance(&banded, tolerance);
        }
        let range = hw.range_us();
        let adc = Adc::new(&hw.adc, &hw.device);
        let tolerance_us = (tolerance * range) as f32;
        let saturating = matches!(hw.device.model, DeviceModelConfig::Pulse(_));
        let level_bands = (0..hw.device.levels())
            .map(|level| {
                let target = hw.device.level_us(level) as f32;
                let (lo, hi) = adc.band_codes(target, tolerance_us, saturating);
                (target, lo, hi)
            })
            .collect();
        Self {
            level_bands,
            levels_per_us: ((hw.device.levels() - 1) as f64 / range) as f32,
            device: Device::new(hw),
            adc,
            driver: WriteDriver::new(&hw.program),
            normal: Normal::new(),
            tolerance_us,
            max_iterations: hw.program.max_iterations,
            read_noise_us: (hw.device.read_noise * range) as f32,
            read_pj_per_us: (hw.program.read_voltage_v.powi(2) * hw.program.read_pulse_ns * 1e-3) as f32,
        }
    }

    /// The device model.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The ADC of the verify reads.
    pub fn adc(&self) -> &Adc {
        &self.adc
    }

    /// The write drivers.
    pub fn driver(&self) -> &WriteDriver {
        &self.driver
    }

    /// Half-width of the acceptance band, in uS.
    pub fn tolerance_us(&self) -> f32 {
        self.tolerance_us
    }

    /// Reads after which a device is left as failed.
    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }

    /// Energy of one verify read of a device at `g_us` in the device, in pJ (ADC conversion excluded).
    #[inline]
    pub fn read_energy_pj(&self, g_us: f32) -> f64 {
        f64::from(self.read_pj_per_us * g_us.max(0.0))
    }

    /// One verify read: the conductance plus read noise (one normal draw when read_noise > 0), as the ADC
    /// reports it (the statistical device's ADC has headroom; see `device::statistical`).
    #[inline]
    pub fn read<R: Rng + ?Sized>(&self, state: &DeviceState, rng: &mut R) -> f32 {
        match &self.device {
            Device::Statistical(_) => self.read_with::<Statistical, R>(state, rng),
            Device::Pulse(_) => self.read_with::<PulseLevel, R>(state, rng),
        }
    }

    /// The unsaturated ADC code of one verify read (one normal draw when `NOISY`, i.e. read_noise > 0).
    #[inline(always)]
    fn read_code<const NOISY: bool, R: Rng + ?Sized>(&self, g_us: f32, rng: &mut R) -> f32 {
        let mut g = g_us;
        if NOISY {
            g += self.read_noise_us * self.normal.sample(rng);
        }
        self.adc.code(g)
    }

    /// The reading of a code (saturated for a saturating ADC), in uS.
    #[inline(always)]
    fn read_value<M: DeviceModel>(&self, code: f32) -> f32 {
        if M::SATURATING {
            self.adc.value(self.adc.saturate(code))
        } else {
            self.adc.value(code)
        }
    }

    #[inline(always)]
    fn read_with<M: DeviceModel, R: Rng + ?Sized>(&self, state: &DeviceState, rng: &mut R) -> f32 {
        let code = if self.read_noise_us > 0.0 {
            self.read_code::<true, R>(state.g_us, rng)
        } else {
            self.read_code::<false, R>(state.g_us, rng)
        };
        self.read_value::<M>(code)
    }

    /// The write-verify loop of one device towards `target_us` (see the contract in `device`).
    #[inline]
    pub fn run<R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> VerifyReport {
        // One monomorphic loop per (model, read noise or not): no dispatch and no invariant test inside.
        let noisy = self.read_noise_us > 0.0;
        match &self.device {
            Device::Statistical(d) if noisy => self.run_with::<_, true, _, _>(d, state, target_us, rng, sink),
            Device::Statistical(d) => self.run_with::<_, false, _, _>(d, state, target_us, rng, sink),
            Device::Pulse(d) if noisy => self.run_with::<_, true, _, _>(d, state, target_us, rng, sink),
            Device::Pulse(d) => self.run_with::<_, false, _, _>(d, state, target_us, rng, sink),
        }
    }

    #[inline(always)]
    fn run_with<M: DeviceModel, const NOISY: bool, R: Rng + ?Sized, S: FnMut(DeviceEvent)>(
        &self,
        model: &M,
        state: &mut DeviceState,
        target_us: f32,
        rng: &mut R,
        sink: &mut S,
    ) -> VerifyReport {
        let scheme = model.scheme();
        let dac = *model.dac();
        let width_ns = scheme.width_ns();
        let inv_range = 1.0 / self.device.window().range_us;
        let mut scheme_state = scheme.start();
        // A fixed scheme's two amplitudes, quantised once rather than per pulse (the same values).
        let fixed_v = scheme
            .fixed_amplitudes_v()
            .map(|amplitudes| amplitudes.map(|v| dac.quantize(v)));
        // Acceptance as two comparisons on the code (same result as |target - read| <= tolerance): keeps
        // the dependent chain from one pulse to the exit test short.
        let band = self.band::<M>(target_us);
        // A local copy keeps the conductance in a register across the loop.
        let mut st = *state;
        let ready = model.ready(&st);
        let (mut reads, mut pulses) = (0u32, 0u32);
        let (mut pulse_pj, mut read_pj) = (0f64, 0f64);
        let converged = loop {
            reads += 1;
            let g_us = st.g_us;
            let code = self.read_code::<NOISY, R>(g_us, rng);
            let read_us = self.read_value::<M>(code);
            read_pj += f64::from(self.read_pj_per_us * at_least(g_us, 0.0));
            sink(DeviceEvent::Read { g_us, read_us });
            if band.contains(code) {
                break true;
            }
            if reads >= self.max_iterations {
                break false;
            }
            let error_us = target_us - read_us;
            let polarity = if error_us > 0.0 {
                Polarity::Set
            } else {
                Polarity::Reset
            };
            let amplitude_v = match fixed_v {
                Some(v) => v[polarity.index()],
                None => dac.quantize(scheme.amplitude_v(&mut scheme_state, polarity, error_us * inv_range)),
            };
            let g_after_us = model.correct(ready, &mut st, target_us, polarity, amplitude_v, rng);
            sink(DeviceEvent::Pulse {
                g_before_us: g_us,
                g_after_us,
                amplitude_v,
                width_ns,
                polarity,
            });
            pulse_pj += model.pulse_energy_pj(amplitude_v, g_us, g_after_us);
            pulses += 1;
        };
        if converged {
            model.settle(&mut st, target_us, rng);
        }
        *state = st;
        VerifyReport {
            reads,
            pulses,
            converged,
            pulse_energy_pj: pulse_pj,
            read_energy_pj: read_pj,
        }
    }

    /// The acceptance band of `target_us` in ADC codes: cached for the level targets, computed otherwise.
    #[inline(always)]
    fn band<M: DeviceModel>(&self, target_us: f32) -> CodeBand {
        let index = ((target_us - self.adc.value(0.0)) * self.levels_per_us + 0.5).max(0.0) as usize;
        let (lo, hi) = match self.level_bands.get(index) {
            Some(&(level_target, lo, hi)) if level_target == target_us => (lo, hi),
            _ => self.adc.band_codes(target_us, self.tolerance_us, M::SATURATING),
        };
        CodeBand::new(lo, hi)
    }

    /// ADC energy of `reads` conversions, in pJ.
    pub fn adc_energy_pj(&self, reads: u32) -> f64 {
        f64::from(reads) * self.adc.energy_pj()
    }

    /// Write-driver energy of `pulses` pulses, in pJ.
    pub fn driver_energy_pj(&self, pulses: u32) -> f64 {
        f64::from(pulses) * self.driver.energy_per_pulse_pj()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_band_matches_the_float_bounds() {
        let closed = CodeBand::new(3.0, 7.0);
        let open_low = CodeBand::new(f32::NEG_INFINITY, 2.0);
        let open_high = CodeBand::new(250.0, f32::INFINITY);
        let empty = CodeBand::new(f32::INFINITY, f32::NEG_INFINITY);
        for k in -300..600 {
            let c = k as f32;
            assert_eq!(closed.contains(c), (3.0..=7.0).contains(&c), "{c}");
            assert_eq!(open_low.contains(c), c <= 2.0, "{c}");
            assert_eq!(open_high.contains(c), c >= 250.0, "{c}");
            assert!(!empty.contains(c));
        }
        // Reads of a saturating device stay within a few ranges (at most 2^16 codes each) of the window.
        assert!(open_low.contains(-1e6) && open_high.contains(1e6));
        assert!(!closed.contains(-1e12) && !closed.contains(1e12));
    }
}
