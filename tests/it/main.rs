fn main() {}
mod calibrate;
mod cli;
mod config;
mod device;
mod eval;
mod fuzz;
mod map;
mod nn;
mod plot;
mod reliability;
mod reproduce;
mod sensitivity;
mod sim;
mod sweep;
mod trace;
