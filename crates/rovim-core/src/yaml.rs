//! The one door for YAML in rovim (config files, action bodies, CLI output). serde_yaml is
//! archived upstream: swapping it for another crate changes this file only.
//!
//! Input is bounded before parsing: a size limit here, and the parser's own limits on nesting
//! depth and alias expansion (so an alias bomb is an error, not a memory blow-up).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest YAML document rovim parses.
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("YAML document larger than {MAX_YAML_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Invalid(String),
}

/// Parses a YAML document into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    if text.len() > MAX_YAML_BYTES {
        return Err(YamlError::TooLarge);
    }
    serde_yaml::from_str(text).map_err(|e| YamlError::Invalid(e.to_string()))
}

/// Parses YAML into a JSON value (for callers that validate JSON-shaped input).
pub fn to_json_value(text: &str) -> Result<serde_json::Value, YamlError> {
    from_str(text)
}

pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|e| YamlError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_and_bad_ones_are_errors() {
        let v: serde_json::Value = from_str("a: 1\nb: [x, y]\n").unwrap();
        assert_eq!(v, serde_json::json!({"a": 1, "b": ["x", "y"]}));
        assert_eq!(
            from_str::<serde_json::Value>(&to_string(&v).unwrap()).unwrap(),
            v
        );
        assert!(matches!(
            from_str::<serde_json::Value>("a: [1, 2"),
            Err(YamlError::Invalid(_))
        ));
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for name in 'b'..='k' {
            bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
            prev = name;
        }
        assert!(
            from_str::<serde_json::Value>(&bomb).is_err(),
            "a billion laughs must not expand"
        );
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(from_str::<serde_json::Value>(&deep).is_err());
        let huge = "a".repeat(MAX_YAML_BYTES + 1);
        assert!(matches!(
            from_str::<serde_json::Value>(&huge),
            Err(YamlError::TooLarge)
        ));
    }
}
