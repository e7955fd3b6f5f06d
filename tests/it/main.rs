fn main() {}
mod calibrate;
mod cli;
mod config;
mod device;
mod eval;
mod map;
mod nn;
mod plot;
mod reproduce;
mod sensitivity;
mod sim;
mod sweep;
mod trace;
