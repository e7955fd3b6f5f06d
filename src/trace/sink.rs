//! The [`TraceSink`] interface (in the spirit of ripgrep's `Sink`), what is traced ([`TraceFilter`]), and
//! two in-memory sinks for tests and library callers.

use super::record::{ArrayStats, PhaseEvent, PulseEvent};
use std::io;
use std::ops::RangeInclusive;

/// Where the programmer sends what happens, as it happens on the chip's timeline (events in time order).
/// A sink that fails (a full disk) stops the run with its error.
pub trait TraceSink {
    /// One phase of one row.
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()>;

    /// One device pulse or read (only at [`TraceLevel::Device`]).
    fn on_pulse(&mut self, event: &PulseEvent) -> io::Result<()> {
        let _ = event;
        Ok(())
    }

    /// An array has finished programming (in the order arrays finish).
    fn on_array_done(&mut self, stats: &ArrayStats) -> io::Result<()> {
        let _ = stats;
        Ok(())
    }
}

impl<S: TraceSink + ?Sized> TraceSink for &mut S {
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()> {
        (**self).on_phase(event)
    }
    fn on_pulse(&mut self, event: &PulseEvent) -> io::Result<()> {
        (**self).on_pulse(event)
    }
    fn on_array_done(&mut self, stats: &ArrayStats) -> io::Result<()> {
        (**self).on_array_done(stats)
    }
}

/// How much is traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceLevel {
    /// No events (statistics and the summary are still computed).
    #[default]
    Off,
    /// One event per phase of each row.
    Phase,
    /// Phases, plus one event per device pulse and read.
    Device,
}

impl TraceLevel {
    /// Parses `off`, `phase` or `device`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(TraceLevel::Off),
            "phase" => Some(TraceLevel::Phase),
            "device" => Some(TraceLevel::Device),
            _ => None,
        }
    }
}

/// Which events reach the sink: a level, optional array ranges, and a sampled fraction of rows.
/// Sampling keeps or drops whole rows (all phases and device events of a row together), chosen by a hash
/// of (array, row): the same rows for every seed and thread count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceFilter {
    /// Trace level.
    pub level: TraceLevel,
    /// Arrays traced (inclusive ranges); `None` for all.
    pub arrays: Option<Vec<RangeInclusive<u32>>>,
    /// Fraction of rows traced, in (0, 1]; `None` for all.
    pub sample: Option<f64>,
}

impl TraceFilter {
    /// Everything at `level`.
    pub fn level(level: TraceLevel) -> Self {
        Self {
            level,
            arrays: None,
            sample: None,
        }
    }

    /// Whether any event of `array` is traced.
    pub fn wants_array(&self, array: u32) -> bool {
        self.level != TraceLevel::Off
            && self
                .arrays
                .as_ref()
                .is_none_or(|ranges| ranges.iter().any(|r| r.contains(&array)))
    }

    /// Whether device events of `array` are traced (decided before the array is programmed, so that an
    /// untraced array costs nothing).
    pub fn wants_devices(&self, array: u32) -> bool {
        self.level == TraceLevel::Device && self.wants_array(array)
    }

    /// Whether the events of `row` of `array` are traced.
    pub fn wants_row(&self, array: u32, row: u32) -> bool {
        self.wants_array(array) && self.sample.is_none_or(|f| row_hash(array, row) < f)
    }

    /// Parses an array list such as `0-3,10,12-15`.
    pub fn parse_arrays(text: &str) -> Option<Vec<RangeInclusive<u32>>> {
        text.split(',')
            .map(|part| {
                let part = part.trim();
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                        (a <= b).then_some(a..=b)
                    }
                    None => part.parse().ok().map(|a| a..=a),
                }
            })
            .collect()
    }
}

/// A uniform number in [0, 1) from (array, row): a SplitMix64 finaliser.
fn row_hash(array: u32, row: u32) -> f64 {
    let mut z = (u64::from(array) << 32 | u64::from(row)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A sink that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

impl TraceSink for NullSink {
    fn on_phase(&mut self, _: &PhaseEvent) -> io::Result<()> {
        Ok(())
    }
}

/// A sink that keeps every event in memory, in arrival order: for tests and small runs only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VecSink {
    /// Phase events.
    pub phases: Vec<PhaseEvent>,
    /// Device events.
    pub pulses: Vec<PulseEvent>,
    /// Arrays in the order they finished.
    pub arrays_done: Vec<u32>,
}

impl TraceSink for VecSink {
    fn on_phase(&mut self, event: &PhaseEvent) -> io::Result<()> {
        self.phases.push(*event);
        Ok(())
    }
    fn on_pulse(&mut self, event: &PulseEvent) -> io::Result<()> {
        self.pulses.push(*event);
        Ok(())
    }
    fn on_array_done(&mut self, stats: &ArrayStats) -> io::Result<()> {
        self.arrays_done.push(stats.array);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_lists_parse_and_filter() {
        let f = TraceFilter {
            level: TraceLevel::Phase,
            arrays: TraceFilter::parse_arrays("0-3, 10"),
            sample: None,
        };
        assert!(f.wants_array(0) && f.wants_array(3) && f.wants_array(10));
        assert!(!f.wants_array(4) && !f.wants_devices(0));
        assert_eq!(TraceFilter::parse_arrays("3-1"), None);
        assert_eq!(TraceFilter::parse_arrays("x"), None);
        assert!(!TraceFilter::level(TraceLevel::Off).wants_row(0, 0));
    }

    #[test]
    fn sampling_keeps_about_the_asked_fraction_of_rows() {
        let f = TraceFilter {
            level: TraceLevel::Phase,
            arrays: None,
            sample: Some(0.1),
        };
        let kept = (0..100u32)
            .flat_map(|a| (0..256u32).map(move |r| (a, r)))
            .filter(|&(a, r)| f.wants_row(a, r))
            .count();
        // 25,600 rows: 2,560 expected, std 48.
        assert!((2_300..2_820).contains(&kept), "{kept}");
    }
}
