//! Hardware configuration: the TOML schema, presets, `--set` overrides and validation.
//!
//! A configuration is resolved in a fixed order: a preset or a file, then `--set key=value` overrides,
//! then deserialisation with unknown keys rejected, then range and cross-section checks. Every failure is
//! one [`ConfigError`] naming the file, the dotted key path and the allowed range.

pub mod area;
pub mod check;
mod device;
mod error;
mod hw;
mod overrides;
mod presets;
mod pulse;
mod variation;

pub use device::{
    DeviceConfig, DeviceModelConfig, HEADROOM_FLOOR, PulseDeviceConfig, StatisticalConfig, StatisticalOutcome,
};
pub use error::ConfigError;
pub use hw::{
    AdcConfig, ArrayConfig, ArrayCount, ColumnBinding, ControllerConfig, DacConfig, HwConfig, MappingConfig,
    OpenLoopConfig, ProgramConfig, SignedMapping,
};
pub use overrides::{Override, apply_override, parse_override};
pub use presets::{DEFAULT_PRESET, preset_names, preset_text};
pub use pulse::PulseSchemeConfig;
pub use variation::{VariationConfig, VariationMapConfig};

use std::path::Path;

/// Parses and checks a configuration from TOML text; `file` names it in errors.
pub fn from_toml_str(text: &str, file: &str, overrides: &[Override]) -> Result<HwConfig, ConfigError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| syntax_error(&e, text, file))?;
    for o in overrides {
        apply_override(&mut table, o).map_err(|e| e.in_file(file))?;
    }
    from_table(table, file)
}

/// Deserialises and checks an already parsed TOML table.
pub fn from_table(table: toml::Table, file: &str) -> Result<HwConfig, ConfigError> {
    let config: HwConfig = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        ConfigError::at(key, e.into_inner().message().trim().to_string()).in_file(file)
    })?;
    config.validate().map_err(|e| e.in_file(file))?;
    Ok(config)
}

/// Loads `spec`: a preset name (see [`preset_names`]) or the path of a TOML file, then applies overrides.
pub fn load(spec: &str, overrides: &[Override]) -> Result<HwConfig, ConfigError> {
    let (text, file) = read_source(spec)?;
    from_toml_str(&text, &file, overrides)
}

/// The TOML text of `spec` (a preset name or a file path) and the name to use for it in errors.
pub fn read_source(spec: &str) -> Result<(String, String), ConfigError> {
    let path = Path::new(spec);
    if !path.exists() {
        let name = spec.strip_suffix(".toml").unwrap_or(spec);
        let name = name.rsplit('/').next().unwrap_or(name);
        if let Some(text) = preset_text(name) {
            return Ok((text.to_string(), format!("preset {name}")));
        }
        return Err(ConfigError::at(
            "",
            format!(
                "no such file, and not a preset; presets: {}",
                preset_names().join(", ")
            ),
        )
        .in_file(spec));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::at("", format!("cannot read: {e}")).in_file(spec))?;
    Ok((text, spec.to_string()))
}

/// The configuration printed back as TOML, with every default filled in.
pub fn to_toml_string(config: &HwConfig) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
}

fn syntax_error(e: &toml::de::Error, text: &str, file: &str) -> ConfigError {
    let location = e.span().map(|span| {
        let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
        format!("line {line}: ")
    });
    ConfigError::at("", format!("{}{}", location.unwrap_or_default(), e.message())).in_file(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_validates_and_round_trips() {
        for name in preset_names() {
            let config = load(name, &[]).unwrap_or_else(|e| panic!("{e}"));
            let printed = to_toml_string(&config);
            let again = from_toml_str(&printed, name, &[]).unwrap_or_else(|e| panic!("{e}\n{printed}"));
            assert_eq!(config, again, "{name}");
        }
    }

    #[test]
    fn default_preset_is_listed() {
        assert!(preset_names().contains(&DEFAULT_PRESET));
    }
}
