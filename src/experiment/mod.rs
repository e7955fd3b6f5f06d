//! Experiments: parameter sweeps over hardware configurations and run settings, and their sharding
//! across a cluster.

pub mod class_select;
pub mod engine;
pub mod point_timeline;
pub mod reproduce;
pub mod reproduce_report;
pub mod selection;
pub mod shard;
pub mod shard_merge;
pub mod shard_reproduce;
pub mod sweep;
pub mod sweep_error;
pub mod sweep_point;
pub mod sweep_spec;
pub mod target;
pub mod time_select;
