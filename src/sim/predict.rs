//! Predicted costs of chip operations that the programmer does not itself run, from the configuration's
//! timing ([`Timing`]) and the mapping's layout.
//!
//! [`read_all`]: one read of every device of the chip, as the `measured` selection needs after the
//! open-loop write: per array, row group by row group (`rows_in_parallel` rows at a time), a row setup,
//! a read settle, then the conversions of the busiest ADC (columns bound to ADCs as
//! [`Timing::adc_of`] binds them); arrays are list-scheduled in array order on `parallel_arrays`
//! channels, as the chip scheduler starts them. Energy: V_read^2 G t_read per device at its target
//! conductance, one ADC conversion per device, one row setup per row group.

use super::Timing;
use crate::config::HwConfig;
use crate::map::{Mapped, MappedDevice};
use crate::periph::Clock;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The cost of one chip operation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// Wall time on the chip, in ns.
    pub time_ns: f64,
    /// The same in controller cycles.
    pub cycles: u64,
    /// Energy, in pJ.
    pub energy_pj: f64,
}

/// The predicted cost of reading every device of `mapped` on `hw` once (see the module docs).
pub fn read_all(mapped: &Mapped, hw: &HwConfig) -> Cost {
    let timing = Timing::new(hw);
    let clock = Clock::new(&hw.controller);
    let read_pj_per_us = hw.program.read_voltage_v.powi(2) * hw.program.read_pulse_ns * 1e-3;
    let mut devices: Vec<MappedDevice> = Vec::new();
    let mut array_cycles = Vec::with_capacity(mapped.num_arrays() as usize);
    let mut energy_pj = 0.0;
    let group_rows = timing.rows_in_parallel.max(1);
    let adcs = timing.adcs.max(1) as usize;
    for a in 0..mapped.num_arrays() {
        mapped.array_devices(a, &mut devices);
        let groups = hw.array.rows.div_ceil(group_rows) as usize;
        // Conversions per (row group, ADC).
        let mut conversions = vec![0u32; groups * adcs];
        for d in &devices {
            let g = (d.row / group_rows) as usize;
            conversions[g * adcs + timing.adc_of(d.col) as usize] += 1;
            energy_pj += read_pj_per_us * f64::from(d.target_us) + timing.adc_pj;
        }
        let mut cycles = 0u64;
        for group in conversions.chunks(adcs) {
            let busiest = group.iter().copied().max().unwrap_or(0);
            if busiest > 0 {
                cycles += timing.setup.get() + timing.read_cycles(busiest).get();
                energy_pj += timing.setup_pj;
            }
        }
        array_cycles.push(cycles);
    }
    let makespan = list_schedule(&array_cycles, hw.controller.parallel_arrays);
    let time_ns = clock.ns(makespan);
    Cost {
        time_ns,
        cycles: makespan,
        energy_pj: energy_pj + clock.static_energy_pj(time_ns),
    }
}

/// The finish time of jobs of `durations` started in order, each on the first free of `channels`.
fn list_schedule(durations: &[u64], channels: u32) -> u64 {
    let mut free: BinaryHeap<Reverse<u64>> = (0..channels.max(1)).map(|_| Reverse(0)).collect();
    let mut end = 0;
    for &d in durations {
        let Reverse(start) = free.pop().expect("at least one channel");
        end = end.max(start + d);
        free.push(Reverse(start + d));
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::map::LayerWeights;

    #[test]
    fn list_scheduling_fills_the_earliest_free_channel() {
        assert_eq!(list_schedule(&[3, 3, 3], 1), 9);
        assert_eq!(list_schedule(&[3, 3, 3], 2), 6);
        assert_eq!(list_schedule(&[5, 1, 1, 1], 2), 5);
        assert_eq!(list_schedule(&[], 4), 0);
    }

    #[test]
    fn reading_one_full_array_costs_its_rows_settles_and_conversions() {
        let hw = config::load("rram_1t1r_256", &[]).unwrap();
        let rows = hw.array.rows as usize;
        let cols = hw.array.cols as usize;
        let spec = crate::map::SliceSpec::new(&hw.mapping, &hw.device);
        let per_weight = spec.devices_per_weight() as usize;
        // One layer whose devices fill exactly the columns of `rows` rows of one array.
        let outputs = cols / per_weight;
        let layers = [LayerWeights {
            name: "fc.weight".into(),
            shape: vec![outputs, rows],
            values: (0..outputs * rows)
                .map(|i| ((i % 7) as f32 - 3.0) * 0.1)
                .collect(),
        }];
        let m = Mapped::new(&layers, &hw).unwrap();
        assert_eq!(m.num_arrays(), 1);
        let t = Timing::new(&hw);
        let clock = Clock::new(&hw.controller);
        let used_per_row = (outputs * per_weight) as u32;
        assert_eq!(used_per_row, hw.array.cols, "every column used");
        let groups = rows.div_ceil(t.rows_in_parallel as usize) as u64;
        // Every ADC serves cols / adcs columns of each of the group's rows.
        let per_adc = used_per_row.div_ceil(t.adcs) * t.rows_in_parallel;
        let want = groups * (t.setup.get() + t.read_cycles(per_adc).get());
        let cost = read_all(&m, &hw);
        assert_eq!(cost.time_ns, clock.ns(want));
        assert!(cost.energy_pj > m.num_devices() as f64 * t.adc_pj);
    }
}
