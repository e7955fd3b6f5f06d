fn main() {}

/// `--set` overrides that turn the default RRAM preset into a moderate, fast-converging chip for tests of
/// a mechanism rather than of the preset's calibrated physics: the nominal ISPP ramp as open-loop write,
/// a 1-2 V ISPP of 50 mV steps starting at the 1 V of the shipped CrossSim ramps, 100 iterations, and
/// moderate spreads (eta 20%, c2c 10%, no RESET-state spread).
const MODERATE_RRAM: [&str; 9] = [
    "program.open_loop={kind=\"ramp\"}",
    "program.max_iterations=100",
    "program.scheme.set_start_v=1.0",
    "program.scheme.reset_start_v=1.0",
    "program.scheme.v_step_v=0.05",
    "program.scheme.v_max_v=2.0",
    "device.model.eta_d2d=0.2",
    "device.model.c2c=0.1",
    "device.model.hrs_spread=0.0",
];
mod calibrate;
mod classes;
mod cli;
mod config;
mod device;
mod eval;
mod fuzz;
mod fuzz_nn;
mod map;
mod nn;
mod onnx;
mod periph;
mod pinned;
mod plot;
mod readme;
mod reliability;
mod reproduce;
mod sensitivity;
mod sim;
mod sweep;
mod trace;
