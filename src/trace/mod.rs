//! Trace sinks and output writers: the only module that writes result files.

pub mod atomic;
