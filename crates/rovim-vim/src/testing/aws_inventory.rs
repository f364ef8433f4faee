//! What an EC2 endpoint holds in one VPC (subnets, instances that are not terminated, network
//! interfaces), with the rovim token each carries: the invariant checker's view of an AWS VIM.

use roxmltree::{Document, Node};

use crate::SimElement;
use crate::aws::{AwsConnector, TOKEN_TAG};

fn child<'a, 'i>(n: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

fn text(n: Node<'_, '_>, tag: &str) -> Option<String> {
    child(n, tag).and_then(|c| c.text()).map(str::to_owned)
}

fn token(n: Node<'_, '_>) -> Option<String> {
    child(n, "tagSet")?
        .children()
        .filter(|t| t.has_tag_name("item"))
        .find(|t| text(*t, "key").as_deref() == Some(TOKEN_TAG))
        .and_then(|t| text(t, "value"))
}

/// Every subnet, live instance and network interface of the connector's VPC. An interface
/// carries its instance's token, none when it is attached to no live instance (a leak).
pub async fn aws_inventory(aws: &AwsConnector, vpc: &str) -> Vec<SimElement> {
    let vpc_filter = || {
        vec![
            ("Filter.1.Name".to_owned(), "vpc-id".to_owned()),
            ("Filter.1.Value.1".to_owned(), vpc.to_owned()),
        ]
    };
    let call = |action: &'static str, params: Vec<(String, String)>| async move {
        aws.ec2()
            .call(action, &params)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    };
    let mut out = Vec::new();
    let xml = call("DescribeSubnets", vpc_filter()).await;
    let doc = Document::parse(&xml).expect("DescribeSubnets XML");
    for item in doc
        .descendants()
        .filter(|n| child(*n, "subnetId").is_some() && n.has_tag_name("item"))
    {
        out.push(SimElement {
            kind: "net".into(),
            vim_id: text(item, "subnetId").unwrap_or_default(),
            token: token(item),
        });
    }
    let mut instance_tokens = std::collections::HashMap::new();
    let xml = call("DescribeInstances", vpc_filter()).await;
    let doc = Document::parse(&xml).expect("DescribeInstances XML");
    for item in doc
        .descendants()
        .filter(|n| n.has_tag_name("item") && child(*n, "instanceState").is_some())
    {
        let state = child(item, "instanceState").and_then(|s| text(s, "name"));
        if matches!(state.as_deref(), Some("terminated" | "shutting-down")) {
            continue;
        }
        let id = text(item, "instanceId").unwrap_or_default();
        let tok = token(item);
        instance_tokens.insert(id.clone(), tok.clone());
        out.push(SimElement {
            kind: "vm".into(),
            vim_id: id,
            token: tok,
        });
    }
    let xml = call("DescribeNetworkInterfaces", vpc_filter()).await;
    let doc = Document::parse(&xml).expect("DescribeNetworkInterfaces XML");
    for item in doc
        .descendants()
        .filter(|n| n.has_tag_name("item") && child(*n, "networkInterfaceId").is_some())
    {
        let instance = child(item, "attachment").and_then(|a| text(a, "instanceId"));
        let tok = instance.and_then(|i| instance_tokens.get(&i).cloned().flatten());
        out.push(SimElement {
            kind: "port".into(),
            vim_id: text(item, "networkInterfaceId").unwrap_or_default(),
            token: tok,
        });
    }
    out
}
