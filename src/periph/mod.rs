//! Peripherals of the programming path: the controller clock (durations to cycles, static power), the DAC
//! that sets word-line and pulse amplitudes, the ADC that digitises verify reads, and the energy of the
//! analog events (write pulses, verify reads) and of the write drivers.
//!
//! Units: time in ns, energy in pJ, conductance in uS, voltage in V. A pulse of V volts on a device of
//! G uS for t ns dissipates V^2 * G * t * 1e-3 pJ (1 V^2 * 1 uS * 1 ns = 1e-15 J = 1e-3 pJ).
//!
//! **Invariant:** nothing here draws random numbers or knows about the event queue.

mod adc;
mod clock;
mod dac;
mod energy;

pub use adc::Adc;
pub use clock::Clock;
pub use dac::Dac;
pub use energy::{WriteDriver, pulse_energy_pj, read_energy_pj};
