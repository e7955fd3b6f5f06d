//! Pinned figures: a few summary figures of fixed-seed runs, recorded before the programmer's
//! performance work (issue 16) and required to stay exactly equal while the physics does not change.
//! A change here means the simulator's results changed: if that was intended (new physics), re-derive
//! the figures and say so in the commit; if not, the optimisation is wrong.

use uswim::config;
use uswim::map::{LayerWeights, Mapped};
use uswim::nn::zoo;
use uswim::sim::{self, Mask, ProgramOptions};
use uswim::trace::{NullSink, TraceFilter, TraceLevel};

/// What is pinned of one run: cycles, pulses, reads, failures, the longest loop, total energy (its
/// f64 bits) and an FNV-1a hash of the final conductances' f32 bits.
#[derive(Debug, PartialEq, Eq)]
struct Pin {
    cycles: u64,
    pulses: u64,
    verify_reads: u64,
    failed: u64,
    iterations_max: u32,
    energy_bits: u64,
    conductance_hash: u64,
}

fn fnv1a(values: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn pin(preset: &str, mask: &str, level: TraceLevel) -> Pin {
    let hw = config::load(preset, &[]).unwrap();
    let net = zoo::build("lenet").unwrap();
    let mapped = Mapped::new(&LayerWeights::of_network(&net), &hw).unwrap();
    let mask = match mask {
        "all" => Mask::All,
        "none" => Mask::None,
        _ => Mask::random(&mapped, 0.2, 7),
    };
    let options = ProgramOptions {
        seed: 5,
        trace: TraceFilter::level(level),
        keep_conductances: true,
    };
    let r = sim::program(&mapped, &hw, &mask, &options, &mut NullSink).unwrap();
    let s = r.summary;
    Pin {
        cycles: s.total_cycles,
        pulses: s.counts.pulses,
        verify_reads: s.counts.verify_reads,
        failed: s.counts.failed_devices,
        iterations_max: s.counts.iterations_max,
        energy_bits: s.total_energy_pj().to_bits(),
        conductance_hash: fnv1a(r.conductances_us.as_deref().unwrap()),
    }
}

/// (preset, mask, pinned figures).
const PINNED: [(&str, &str, Pin); 12] = [
    (
        "paper_statistical",
        "all",
        Pin {
            cycles: 2093571,
            pulses: 5273892,
            verify_reads: 5273892,
            failed: 0,
            iterations_max: 87,
            energy_bits: 4724746568653859126,
            conductance_hash: 16701313463045445292,
        },
    ),
    (
        "paper_statistical",
        "random",
        Pin {
            cycles: 1224242,
            pulses: 1730154,
            verify_reads: 1052282,
            failed: 0,
            iterations_max: 62,
            energy_bits: 4720108200486481668,
            conductance_hash: 2729139589437959011,
        },
    ),
    (
        "paper_statistical",
        "none",
        Pin {
            cycles: 78518,
            pulses: 847344,
            verify_reads: 0,
            failed: 0,
            iterations_max: 0,
            energy_bits: 4704435553526757105,
            conductance_hash: 5821295750401148925,
        },
    ),
    (
        "rram_1t1r_256",
        "all",
        Pin {
            cycles: 3618295,
            pulses: 9478751,
            verify_reads: 9160598,
            failed: 45,
            iterations_max: 500,
            energy_bits: 4728962182209717890,
            conductance_hash: 3809561811127397574,
        },
    ),
    (
        "rram_1t1r_256",
        "random",
        Pin {
            cycles: 2163810,
            pulses: 2827874,
            verify_reads: 1831849,
            failed: 7,
            iterations_max: 500,
            energy_bits: 4724144929594179643,
            conductance_hash: 16788235162052884977,
        },
    ),
    (
        "rram_1t1r_256",
        "none",
        Pin {
            cycles: 65536,
            pulses: 1165497,
            verify_reads: 0,
            failed: 0,
            iterations_max: 0,
            energy_bits: 4706460201309370932,
            conductance_hash: 13293149930669645678,
        },
    ),
    (
        "fefet_128",
        "all",
        Pin {
            cycles: 2603479,
            pulses: 2522560,
            verify_reads: 2204407,
            failed: 0,
            iterations_max: 47,
            energy_bits: 4726388446563450584,
            conductance_hash: 4040362667509438292,
        },
    ),
    (
        "fefet_128",
        "random",
        Pin {
            cycles: 1603270,
            pulses: 1436526,
            verify_reads: 440501,
            failed: 0,
            iterations_max: 40,
            energy_bits: 4721313920711917818,
            conductance_hash: 16865183179916109332,
        },
    ),
    (
        "fefet_128",
        "none",
        Pin {
            cycles: 337810,
            pulses: 1165497,
            verify_reads: 0,
            failed: 0,
            iterations_max: 0,
            energy_bits: 4715078986987560353,
            conductance_hash: 15456859401966121602,
        },
    ),
    (
        "pcm_256",
        "all",
        Pin {
            cycles: 1320740,
            pulses: 1316191,
            verify_reads: 1316191,
            failed: 0,
            iterations_max: 23,
            energy_bits: 4722808568418277400,
            conductance_hash: 7380462499854223143,
        },
    ),
    (
        "pcm_256",
        "random",
        Pin {
            cycles: 837001,
            pulses: 941157,
            verify_reads: 263285,
            failed: 0,
            iterations_max: 24,
            energy_bits: 4718488388523788974,
            conductance_hash: 8442643017572930866,
        },
    ),
    (
        "pcm_256",
        "none",
        Pin {
            cycles: 207872,
            pulses: 847344,
            verify_reads: 0,
            failed: 0,
            iterations_max: 0,
            energy_bits: 4711216488907140251,
            conductance_hash: 1348895730764526381,
        },
    ),
];

#[test]
fn fixed_seed_summaries_are_the_pinned_figures() {
    for (preset, mask, want) in &PINNED {
        for level in [TraceLevel::Off, TraceLevel::Phase] {
            assert_eq!(&pin(preset, mask, level), want, "{preset} {mask} {level:?}");
        }
    }
}
