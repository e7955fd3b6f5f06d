//! Axis labels in words with units: a column name such as `total_time_ns` becomes "total time (ms)",
//! its values scaled from ns to the unit that keeps the largest below 1000 (ns, µs, ms, s; pJ to J),
//! `_us` (microsiemens) is written µS and `_pct` %.

/// What a column's unit suffix says its values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Time in ns (`_ns`).
    TimeNs,
    /// Energy in pJ (`_pj`).
    EnergyPj,
    /// Conductance in microsiemens (`_us`).
    ConductanceUs,
    /// Percent (`_pct`).
    Percent,
    /// Voltage in V (`_v`).
    Volts,
    /// Power in mW (`_mw`).
    PowerMw,
    /// Frequency in MHz (`_mhz`).
    FrequencyMhz,
    /// Area in um^2 (`_um2`).
    AreaUm2,
}

impl Quantity {
    /// The quantity of a column name's unit suffix, and the name without it.
    pub fn of(column: &str) -> (Option<Self>, &str) {
        const SUFFIXES: [(&str, Quantity); 8] = [
            ("_ns", Quantity::TimeNs),
            ("_pj", Quantity::EnergyPj),
            ("_us", Quantity::ConductanceUs),
            ("_pct", Quantity::Percent),
            ("_mw", Quantity::PowerMw),
            ("_mhz", Quantity::FrequencyMhz),
            ("_um2", Quantity::AreaUm2),
            ("_v", Quantity::Volts),
        ];
        for (suffix, q) in SUFFIXES {
            if let Some(stem) = column.strip_suffix(suffix) {
                return (Some(q), stem);
            }
        }
        (None, column)
    }

    /// The unit to show values up to `max_abs` in, and the factor to multiply them by.
    pub fn scale(self, max_abs: f64) -> Scale {
        let prefixed = |base: &'static [(&'static str, f64)]| {
            let chosen = base
                .iter()
                .rev()
                .find(|(_, factor)| max_abs / factor >= 1.0)
                .unwrap_or(&base[0]);
            Scale {
                unit: chosen.0,
                factor: 1.0 / chosen.1,
            }
        };
        match self {
            Quantity::TimeNs => prefixed(&[("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]),
            Quantity::EnergyPj => {
                prefixed(&[("pJ", 1.0), ("nJ", 1e3), ("µJ", 1e6), ("mJ", 1e9), ("J", 1e12)])
            }
            Quantity::ConductanceUs => Scale::fixed("µS"),
            Quantity::Percent => Scale::fixed("%"),
            Quantity::Volts => Scale::fixed("V"),
            Quantity::PowerMw => prefixed(&[("mW", 1.0), ("W", 1e3)]),
            Quantity::FrequencyMhz => Scale::fixed("MHz"),
            Quantity::AreaUm2 => prefixed(&[("µm²", 1.0), ("mm²", 1e6)]),
        }
    }
}

/// A unit and the factor converting a column's values into it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The unit's symbol.
    pub unit: &'static str,
    /// Multiply the column's values by this.
    pub factor: f64,
}

impl Scale {
    fn fixed(unit: &'static str) -> Self {
        Self { unit, factor: 1.0 }
    }
}

/// Configuration sections whose name adds nothing to a key's words (`program.write_drivers_per_array` is
/// "write drivers per array").
const GENERIC_SECTIONS: [&str; 4] = ["program", "controller", "mapping", "device"];

/// A column name in words: a configuration key drops a generic section ([`GENERIC_SECTIONS`]) and a
/// section its field repeats (`adc.adcs_per_array` -> "ADCs per array"); `_` and `.` become spaces and
/// ADC and DAC are written in capitals (`array.rows` -> "array rows", `adc.bits` -> "ADC bits",
/// `energy_adc` -> "energy ADC").
pub fn words(stem: &str) -> String {
    let mut parts: Vec<&str> = stem.split('.').collect();
    while parts.len() > 1 && GENERIC_SECTIONS.contains(&parts[0]) {
        parts.remove(0);
    }
    if let [.., section, field] = parts[..]
        && field.starts_with(section)
    {
        parts.remove(parts.len() - 2);
    }
    parts
        .iter()
        .flat_map(|p| p.split('_'))
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "adc" => "ADC",
            "adcs" => "ADCs",
            "dac" => "DAC",
            "dacs" => "DACs",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The axis label and value scale of a column whose values reach `max_abs`: "total time (ms)" and
/// 1e-6 for `total_time_ns` up to 5.8e6.
pub fn label(column: &str, max_abs: f64) -> (String, f64) {
    match Quantity::of(column) {
        (Some(q), stem) => {
            let scale = q.scale(max_abs);
            (format!("{} ({})", words(stem), scale.unit), scale.factor)
        }
        (None, stem) => (words(stem), 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_words_with_scaled_units() {
        assert_eq!(
            label("total_time_ns", 5.8e6),
            ("total time (ms)".to_string(), 1e-6)
        );
        assert_eq!(label("total_time_ns", 999.0).0, "total time (ns)");
        assert_eq!(label("end_ns", 2.0e3).0, "end (µs)");
        assert_eq!(label("energy_adc_pj", 6.7e7).0, "energy ADC (µJ)");
        assert_eq!(words("adc.adcs_per_array"), "ADCs per array");
        assert_eq!(
            words("program.write_drivers_per_array"),
            "write drivers per array"
        );
        assert_eq!(words("adc.bits"), "ADC bits");
        assert_eq!(label("program.scheme.v_step_v", 0.1).0, "scheme v step (V)");
        assert_eq!(words("controller.parallel_arrays"), "parallel arrays");
        assert_eq!(words("method"), "method");
        assert_eq!(label("target_us", 40.0), ("target (µS)".to_string(), 1.0));
        assert_eq!(label("accuracy_mean_pct", 98.0).0, "accuracy mean (%)");
        assert_eq!(label("array.rows", 256.0), ("array rows".to_string(), 1.0));
        assert_eq!(label("pulses", 1e6).0, "pulses");
    }
}
