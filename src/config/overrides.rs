//! `--set key.path=value` overrides applied to the TOML tree before it is deserialised.

use super::ConfigError;

/// One override: a dotted key path and a TOML value.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key path, such as `program.tolerance` or `device.variation.maps.0.multiplier`.
    pub path: Vec<String>,
    /// The value; a bare word that is not valid TOML is taken as a string.
    pub value: toml::Value,
}

/// Parses `key.path=value`.
pub fn parse_override(text: &str) -> Result<Override, ConfigError> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        ConfigError::at(
            text,
            "an override must read key.path=value (for example program.tolerance=0.05)",
        )
    })?;
    let key = key.trim();
    let path: Vec<String> = key.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::at(key, "empty component in key path"));
    }
    let value = parse_value(value.trim());
    Ok(Override { path, value })
}

/// A TOML value from its text; a bare word that is not a TOML value becomes a string.
pub fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Sets the value at the override's path, creating missing tables; array elements are addressed by index.
pub fn apply_override(table: &mut toml::Table, o: &Override) -> Result<(), ConfigError> {
    let mut root = toml::Value::Table(std::mem::take(table));
    let result = set_at(&mut root, o);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    result
}

fn set_at(root: &mut toml::Value, o: &Override) -> Result<(), ConfigError> {
    let key = o.path.join(".");
    let (last, parents) = o.path.split_last().expect("parse_override rejects empty paths");
    let mut node = root;
    for (depth, part) in parents.iter().enumerate() {
        let here = o.path[..=depth].join(".");
        node = match node {
            toml::Value::Table(t) => t
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            toml::Value::Array(items) => {
                let len = items.len();
                let index: usize =
                    part.parse().ok().filter(|&i| i < len).ok_or_else(|| {
                        ConfigError::out_of_range(&here, part, &format!("an index 0..{len}"))
                    })?;
                &mut items[index]
            }
            _ => {
                return Err(ConfigError::at(
                    &here,
                    "is a value, not a table; cannot set a key inside it",
                ));
            }
        };
    }
    match node {
        toml::Value::Table(t) => {
            t.insert(last.clone(), o.value.clone());
            Ok(())
        }
        toml::Value::Array(items) => {
            let len = items.len();
            let index: usize = last
                .parse()
                .ok()
                .filter(|&i| i < len)
                .ok_or_else(|| ConfigError::out_of_range(&key, last, &format!("an index 0..{len}")))?;
            items[index] = o.value.clone();
            Ok(())
        }
        _ => Err(ConfigError::at(&key, "its parent is a value, not a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_set_nested_keys_array_elements_and_strings() {
        let mut t: toml::Table = "[a]\nb = 1\n[[a.list]]\nx = 1\n".parse().unwrap();
        apply_override(&mut t, &parse_override("a.b=2.5").unwrap()).unwrap();
        apply_override(&mut t, &parse_override("a.list.0.x=7").unwrap()).unwrap();
        apply_override(&mut t, &parse_override("c.kind=ispp").unwrap()).unwrap();
        assert_eq!(t["a"]["b"].as_float(), Some(2.5));
        assert_eq!(t["a"]["list"][0]["x"].as_integer(), Some(7));
        assert_eq!(t["c"]["kind"].as_str(), Some("ispp"));
        let err = apply_override(&mut t, &parse_override("a.list.3.x=1").unwrap()).unwrap_err();
        assert!(err.to_string().contains("a.list.3"), "{err}");
        assert!(parse_override("novalue").is_err());
        assert!(parse_override("a..b=1").is_err());
    }
}
