fn main() {}
mod calibrate;
mod cli;
mod config;
mod device;
mod eval;
mod fuzz;
mod map;
mod nn;
mod onnx;
mod plot;
mod readme;
mod reliability;
mod reproduce;
mod sensitivity;
mod sim;
mod sweep;
mod trace;
