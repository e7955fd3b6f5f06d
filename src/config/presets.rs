//! The hardware presets shipped in `hw_configs/`, embedded in the binary so they work by name anywhere.

/// The preset used when no `--hw` is given.
pub const DEFAULT_PRESET: &str = "rram_1t1r_256";

const PRESETS: &[(&str, &str)] = &[
    (
        "rram_1t1r_256",
        include_str!("../../hw_configs/rram_1t1r_256.toml"),
    ),
    (
        "rram_1t1r_256_3bit",
        include_str!("../../hw_configs/rram_1t1r_256_3bit.toml"),
    ),
    ("pcm_256", include_str!("../../hw_configs/pcm_256.toml")),
    ("fefet_128", include_str!("../../hw_configs/fefet_128.toml")),
    (
        "paper_statistical",
        include_str!("../../hw_configs/paper_statistical.toml"),
    ),
    (
        "neurosim_v21_openloop",
        include_str!("../../hw_configs/neurosim_v21_openloop.toml"),
    ),
];

/// The names of all presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(name, _)| *name).collect()
}

/// The TOML text of the preset `name`, if there is one.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}
