//! An AWS account's settings, from the VIM account: `url` is the EC2 endpoint, `user` the access
//! key id, the password the secret key, and `config` holds `region` and `vpc_id`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSettings {
    pub region: String,
    /// The VPC whose subnets are rovim's nets.
    pub vpc_id: String,
    /// Instances per DescribeInstances call (EC2 allows up to 1,000 ids).
    #[serde(default = "default_batch")]
    pub refresh_batch_size: usize,
}

fn default_batch() -> usize {
    1000
}

impl AwsSettings {
    pub fn from_config(config: &serde_json::Value) -> Result<Self, String> {
        let s: AwsSettings =
            serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?;
        if s.region.trim().is_empty() {
            return Err("config.region: must not be empty".into());
        }
        if !s.vpc_id.starts_with("vpc-") {
            return Err(format!(
                "config.vpc_id: '{}' is not a VPC id (vpc-…)",
                s.vpc_id
            ));
        }
        if !(1..=1000).contains(&s.refresh_batch_size) {
            return Err("config.refresh_batch_size: must be within 1..=1000".into());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_and_vpc_are_required_and_checked() {
        let s = AwsSettings::from_config(
            &serde_json::json!({"region": "us-east-1", "vpc_id": "vpc-1"}),
        )
        .unwrap();
        assert_eq!(s.refresh_batch_size, 1000);
        assert!(
            AwsSettings::from_config(&serde_json::json!({"region": "us-east-1"}))
                .unwrap_err()
                .contains("vpc_id")
        );
        assert!(
            AwsSettings::from_config(&serde_json::json!({"region": "r", "vpc_id": "subnet-1"}))
                .unwrap_err()
                .contains("vpc_id")
        );
        assert!(
            AwsSettings::from_config(
                &serde_json::json!({"region": "r", "vpc_id": "vpc-1", "x": 1})
            )
            .unwrap_err()
            .contains("x")
        );
    }
}
