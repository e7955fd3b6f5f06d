//! uswim: an event-driven, cycle-level simulator of programming trained neural networks into
//! non-volatile-memory computing-in-memory crossbars, with sensitivity-driven selective write-verify
//! (U-SWIM, Yan, Hu and Shi, IEEE TCAD 2024).

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
