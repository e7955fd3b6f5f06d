//! Seeded random streams.
//!
//! Every random draw in uswim comes from a [`Stream`] derived from a user seed and a stream identity
//! (what the stream is for, and which array, run or shard it serves). Deriving streams from identities,
//! never from the order in which threads happen to ask for them, is what makes results identical for any
//! thread count.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The random generator used everywhere: xoshiro256++ (fast, 256-bit state, passes BigCrush).
pub type Stream = Xoshiro256PlusPlus;

/// What a random stream is used for; part of its identity so that, for example, the stream that draws
/// array 3's device variation never coincides with the one that programs array 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// Device-to-device parameters (variation maps, per-device constants).
    Variation = 1,
    /// Programming an array: write errors, cycle-to-cycle noise, read noise.
    Program = 2,
    /// A Monte-Carlo evaluation run.
    MonteCarlo = 3,
    /// Random selection masks and the `random` score.
    Selection = 4,
    /// Network initialisation and data shuffling in training.
    Training = 5,
    /// Device reports and calibration fits.
    Device = 6,
    /// Characterising a chip before selection: the per-device sigma estimate's sampling error.
    Characterise = 7,
    /// The read of every device after the open-loop write that the `measured` selection scores from.
    Measure = 8,
}

/// SplitMix64 finaliser: a bijective mixer with full avalanche, used to turn identities into seeds.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stream for `(seed, purpose, id)`, where `id` names the array, run, level or shard served.
pub fn stream(seed: u64, purpose: Purpose, id: u64) -> Stream {
    let a = mix64(seed);
    let b = mix64(a ^ (purpose as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let c = mix64(b ^ id);
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&mix64(c.wrapping_add(i as u64)).to_le_bytes());
    }
    Stream::from_seed(bytes)
}

/// The stream for `(seed, purpose, id, sub)`: a second level of identity, such as (run, array).
pub fn substream(seed: u64, purpose: Purpose, id: u64, sub: u64) -> Stream {
    stream(mix64(seed ^ mix64(id)), purpose, sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_identity_same_numbers_other_identity_other_numbers() {
        let draw = |s: &mut Stream| (0..4).map(|_| s.random::<u64>()).collect::<Vec<_>>();
        let a = draw(&mut stream(7, Purpose::Program, 3));
        assert_eq!(a, draw(&mut stream(7, Purpose::Program, 3)));
        assert_ne!(a, draw(&mut stream(8, Purpose::Program, 3)));
        assert_ne!(a, draw(&mut stream(7, Purpose::Variation, 3)));
        assert_ne!(a, draw(&mut stream(7, Purpose::Program, 4)));
        assert_ne!(a, draw(&mut substream(7, Purpose::Program, 3, 0)));
    }
}
