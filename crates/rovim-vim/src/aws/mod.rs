//! AWS EC2 as a VIM (`type: aws`): a net is a subnet of a configured VPC, a VM an instance with
//! one network interface per requested interface. Requests are EC2 Query API calls signed with
//! SigV4 (the official smithy-rs signer); answers are read as XML trees. Every created subnet and
//! instance carries rovim's token as the `rovim-token` tag, and RunInstances also gets it as
//! `ClientToken`: the tag is what recovery looks up (moto, for one, ignores ClientToken).

mod connector;
mod ec2;
mod settings;

pub use connector::{AwsConnector, TOKEN_TAG};
pub use ec2::{Ec2, Ec2Error};
pub use settings::AwsSettings;
