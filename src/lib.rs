//! uswim: an event-driven, cycle-level simulator of programming trained neural networks into
//! non-volatile-memory (RRAM, PCM, FeFET) computing-in-memory crossbars, with sensitivity-driven selective
//! write-verify (U-SWIM: Yan, Hu and Shi, IEEE TCAD 2024; SWIM: DAC 2022).
//!
//! It answers three questions an architect asks before taping out a CiM accelerator: how long does it take
//! to program a network into the crossbars, how much energy does that cost, and how much accuracy is kept
//! when only the most sensitive weights are write-verified.
//!
//! # The pipeline
//!
//! ```text
//! model (zoo or safetensors)                      hw config (hw_configs/*.toml)
//!        |                                                  |
//!        v                                                  v
//!  nn: quantize ---> map: weights -> devices on crossbar tiles (bit slices, signs, tiling)
//!        |                     |
//!        v                     v
//!  sensitivity: one fwd+bwd pass -> per-weight H, g  ->  selection: score + budget -> mask
//!                                                             |
//!                                                             v
//!                      sim: event-driven, cycle-level programmer (device physics, DAC/ADC,
//!                           write drivers, pulse scheme, chip scheduler)
//!                             |                        |
//!                             v                        v
//!                programmed conductances      trace: events.csv, arrays.csv, layers.csv, summary.json
//!                             |
//!                             v
//!                eval: read back weights -> Monte-Carlo accuracy on the test set
//!                             |
//!                             v
//!                experiment / sweep: grids of settings -> results CSV -> plots (PNG/SVG)
//! ```
//!
//! # Modules
//!
//! - [`config`]: the hardware TOML schema (`deny_unknown_fields`, a unit in every key), presets, `--set`
//!   overrides and range checks. Every bad value is one [`config::ConfigError`] naming file, key and range.
//! - [`device`]: device models (statistical, pulse-level) and the single-device write-verify kernel.
//! - [`calibrate`]: fits the pulse-level device to measured pulse-response ramps (`uswim device fit`).
//! - [`variation`]: per-device sigma maps (uniform, band, level_poly, spatial, lognormal, outliers).
//! - [`pulse`]: pulse schemes (fixed, ISPP, adaptive, NeuroSim open-loop).
//! - [`periph`]: DAC, ADC, write driver and controller clock: durations, cycles and energies.
//! - [`map`]: weights to devices (quantisation, bit slices, signs, tiling) and back.
//! - [`sim`]: the event queue, the per-array programmer state machine and the chip scheduler.
//! - [`trace`]: trace sinks and CSV/JSON writers.
//! - [`nn`]: the embedded neural-network engine: layers, model zoo, training, safetensors, datasets.
//! - [`sensitivity`]: gradients and diagonal second derivatives, scores and selection masks.
//! - [`eval`]: Monte-Carlo accuracy of programmed networks.
//! - [`experiment`]: the U-SWIM experiment, parameter sweeps and sharding.
//! - [`plot`]: PNG/SVG charts from results.
//! - [`rng`]: seeded random streams derived from identities.
//!
//! # Invariants
//!
//! - **Invariant:** every random draw comes from [`rng::stream`] keyed by (seed, purpose, array or run id),
//!   never from thread order: results are bit-identical for any thread count.
//! - **Invariant:** `map` draws no random numbers of its own and does no I/O.
//! - **Invariant:** `device` never sees the event queue; the event queue knows nothing about physics.
//! - **Invariant:** result files are written through [`trace::atomic::AtomicFile`] (temporary file, then
//!   rename): a failed run leaves no partial file under a final name.

pub mod calibrate;
pub mod config;
pub mod device;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod map;
pub mod nn;
pub mod periph;
pub mod plot;
pub mod pulse;
pub mod rng;
pub mod sensitivity;
pub mod sim;
pub mod trace;
pub mod variation;
