//! The `VimConnector` for AWS EC2.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use async_trait::async_trait;
use rovim_core::{CreatedKind, FindFilter, ItemKind, ItemStatus, NetParams, NetType, Owned, Seen};

use super::ec2::Ec2;
use super::settings::AwsSettings;
use crate::connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, NetReport, TaggedElement, TokenMatch,
    VimConnector, VimNet, VmCreated, VmReport, VmRequest, one_match,
};
use crate::error::VimError;

/// The tag that carries rovim's idempotency token.
pub const TOKEN_TAG: &str = "rovim-token";
/// The tag that carries the id of the rovim installation that made (or adopted) the element.
pub const INSTALLATION_TAG: &str = "rovim-installation";

pub struct AwsConnector {
    ec2: Ec2,
    settings: AwsSettings,
    installation: String,
}

impl AwsConnector {
    pub fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        settings: AwsSettings,
    ) -> Result<Self, VimError> {
        let ec2 = Ec2::new(endpoint, &settings.region, access_key, secret_key)?;
        Ok(AwsConnector {
            ec2,
            settings,
            installation: String::new(),
        })
    }

    /// Marks what this connector creates or adopts with the rovim installation's id.
    pub fn with_installation(mut self, installation: &str) -> AwsConnector {
        self.installation = installation.to_owned();
        self
    }

    /// Every page of a Describe call (`MaxResults` / `NextToken`), as XML documents.
    async fn pages(
        &self,
        action: &str,
        filters: &[(&str, Vec<String>)],
    ) -> Result<Vec<String>, VimError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut params = filter_params(filters);
            params.push(("MaxResults".into(), "1000".into()));
            if let Some(t) = &next {
                params.push(("NextToken".into(), t.clone()));
            }
            let xml = self.ec2.call(action, &params).await?;
            let token = parse(&xml)
                .ok()
                .and_then(|d| text(d.root_element(), "nextToken"));
            out.push(xml);
            match token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// Sets rovim's token and installation tags on `resources`.
    async fn tag(&self, resources: &[String], token: &str) -> Result<(), VimError> {
        let mut p: Vec<(String, String)> = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("ResourceId.{}", i + 1), r.clone()))
            .collect();
        p.extend([
            ("Tag.1.Key".into(), TOKEN_TAG.into()),
            ("Tag.1.Value".into(), token.into()),
            ("Tag.2.Key".into(), INSTALLATION_TAG.into()),
            ("Tag.2.Value".into(), self.installation.clone()),
        ]);
        self.ec2.call("CreateTags", &p).await.map(|_| ())
    }

    pub fn ec2(&self) -> &Ec2 {
        &self.ec2
    }

    async fn subnets(&self, filters: &[(&str, Vec<String>)]) -> Result<Vec<Subnet>, VimError> {
        let mut all = vec![("vpc-id", vec![self.settings.vpc_id.clone()])];
        all.extend(filters.iter().map(|(k, v)| (*k, v.clone())));
        let mut out = Vec::new();
        for xml in self.pages("DescribeSubnets", &all).await? {
            out.extend(parse_subnets(&xml)?);
        }
        Ok(out)
    }

    async fn instances(&self, filters: &[(&str, Vec<String>)]) -> Result<Vec<Instance>, VimError> {
        let mut out = Vec::new();
        for xml in self.pages("DescribeInstances", filters).await? {
            out.extend(parse_instances(&xml)?);
        }
        Ok(out)
    }

    /// A free /24 of the VPC for a net that names no subnet.
    async fn free_cidr(&self) -> Result<String, VimError> {
        let xml = self
            .ec2
            .call(
                "DescribeVpcs",
                &[("VpcId.1".into(), self.settings.vpc_id.clone())],
            )
            .await?;
        let vpc_cidr = first_text(&xml, "cidrBlock")
            .ok_or_else(|| VimError::UnexpectedResponse("DescribeVpcs: no cidrBlock".into()))?;
        let base: Ipv4Addr = vpc_cidr
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| VimError::NotSupported(format!("VPC CIDR '{vpc_cidr}' is not IPv4")))?;
        let used: Vec<String> = self
            .subnets(&[])
            .await?
            .into_iter()
            .map(|s| s.cidr)
            .collect();
        let [a, b, ..] = base.octets();
        (0..=255u8)
            .map(|n| format!("{a}.{b}.{n}.0/24"))
            .find(|c| !used.contains(c))
            .ok_or_else(|| {
                VimError::Conflict(format!("no free /24 left in VPC {}", self.settings.vpc_id))
            })
    }
}

#[async_trait]
impl VimConnector for AwsConnector {
    fn refresh_batch_size(&self) -> usize {
        self.settings.refresh_batch_size
    }

    async fn check_connectivity(&self) -> Result<(), VimError> {
        let xml = self
            .ec2
            .call(
                "DescribeVpcs",
                &[("VpcId.1".into(), self.settings.vpc_id.clone())],
            )
            .await
            .map_err(|e| match e {
                VimError::NotFound(m) => VimError::BadRequest(format!("config.vpc_id: {m}")),
                other => other,
            })?;
        first_text(&xml, "vpcId").map(|_| ()).ok_or_else(|| {
            VimError::BadRequest(format!("config.vpc_id: {} not found", self.settings.vpc_id))
        })
    }

    async fn create_net(&self, params: &NetParams, token: &str) -> Result<Created, CreateFailure> {
        let cidr = match params
            .ip_profile
            .as_ref()
            .and_then(|p| p.subnet_address.clone())
        {
            Some(c) => c,
            None => self.free_cidr().await?,
        };
        let mut p = vec![
            ("VpcId".to_owned(), self.settings.vpc_id.clone()),
            ("CidrBlock".to_owned(), cidr),
        ];
        p.extend(tags(1, "subnet", &params.name, token, &self.installation));
        let xml = self
            .ec2
            .call("CreateSubnet", &p)
            .await
            .map_err(|e| match e {
                // Another create took the same free block meanwhile: worth another try.
                VimError::Conflict(m) if m.starts_with("InvalidSubnet.Conflict") => {
                    VimError::UnexpectedResponse(m)
                }
                other => other,
            })?;
        let id = first_text(&xml, "subnetId")
            .ok_or_else(|| VimError::UnexpectedResponse("CreateSubnet: no subnetId".into()))?;
        Ok(Created {
            vim_id: id,
            created_items: Vec::new(),
        })
    }

    async fn list_nets(&self, filter: &FindFilter) -> Result<Vec<VimNet>, VimError> {
        let mut filters = Vec::new();
        if let Some(n) = &filter.name {
            filters.push(("tag:Name", vec![n.clone()]));
        }
        if let Some(i) = &filter.id {
            filters.push(("subnet-id", vec![i.clone()]));
        }
        Ok(self
            .subnets(&filters)
            .await?
            .into_iter()
            .map(Subnet::into_vim_net)
            .collect())
    }

    async fn get_net(&self, vim_id: &str) -> Result<VimNet, VimError> {
        self.subnets(&[("subnet-id", vec![vim_id.to_owned()])])
            .await?
            .into_iter()
            .next()
            .map(Subnet::into_vim_net)
            .ok_or_else(|| VimError::NotFound(format!("subnet {vim_id}")))
    }

    async fn delete_net(&self, owned: &Owned) -> Result<(), VimError> {
        let Some(id) = &owned.vim_id else {
            return Ok(());
        };
        self.ec2
            .call("DeleteSubnet", &[("SubnetId".into(), id.clone())])
            .await
            .map(|_| ())
    }

    async fn refresh_nets(&self, ids: &[String]) -> Result<HashMap<String, NetReport>, VimError> {
        let subnets = self.subnets(&[("subnet-id", ids.to_vec())]).await?;
        Ok(subnets
            .into_iter()
            .map(|s| {
                let status = if s.state == "available" {
                    ItemStatus::Active
                } else {
                    ItemStatus::Build
                };
                let info = format!("{{\"cidr\": \"{}\", \"state\": \"{}\"}}", s.cidr, s.state);
                (
                    s.id,
                    NetReport {
                        status,
                        error_msg: None,
                        vim_info: Some(info),
                        // A subnet has no type or VLAN to compare.
                        seen: Seen::default(),
                    },
                )
            })
            .collect())
    }

    async fn create_vm(
        &self,
        request: &VmRequest,
        token: &str,
    ) -> Result<VmCreated, CreateFailure> {
        let p = &request.params;
        let mut params = vec![
            ("ImageId".to_owned(), p.image_id.clone()),
            ("InstanceType".to_owned(), p.flavor_id.clone()),
            ("MinCount".to_owned(), "1".to_owned()),
            ("MaxCount".to_owned(), "1".to_owned()),
            // Honoured by AWS (not by moto): the tag lookup is what recovery relies on.
            ("ClientToken".to_owned(), token.to_owned()),
        ];
        for (i, subnet) in request.vim_net_ids.iter().enumerate() {
            params.push((
                format!("NetworkInterface.{}.DeviceIndex", i + 1),
                i.to_string(),
            ));
            params.push((
                format!("NetworkInterface.{}.SubnetId", i + 1),
                subnet.clone(),
            ));
            // Gone with the instance: a leftover interface would hold its subnet (a later
            // DeleteSubnet meets DependencyViolation) and its address.
            params.push((
                format!("NetworkInterface.{}.DeleteOnTermination", i + 1),
                "true".into(),
            ));
        }
        if let Some(az) = &p.availability_zone {
            params.push(("Placement.AvailabilityZone".into(), az.clone()));
        }
        params.extend(tags(1, "instance", &p.name, token, &self.installation));
        // The interfaces too, so a listing by installation finds one its instance left behind.
        params.extend(tags(
            2,
            "network-interface",
            &p.name,
            token,
            &self.installation,
        ));
        let xml = self.ec2.call("RunInstances", &params).await?;
        let instance = parse_instance_list(&xml)?
            .into_iter()
            .next()
            .ok_or_else(|| VimError::UnexpectedResponse("RunInstances: no instance".into()))?;
        let interface_ids = instance
            .ordered_interfaces()
            .into_iter()
            .map(|i| i.vim_interface_id)
            .collect();
        Ok(VmCreated {
            created: Created {
                vim_id: instance.id,
                created_items: Vec::new(),
            },
            interface_ids,
        })
    }

    async fn delete_vm(&self, owned: &Owned) -> Result<(), VimError> {
        let Some(id) = &owned.vim_id else {
            // Interfaces without their instance: what an orphan sweep finds left alone. Those
            // of an instance go with it (RunInstances made them DeleteOnTermination).
            for port in owned
                .created_items
                .iter()
                .filter(|c| c.kind == CreatedKind::Port)
            {
                let p = [("NetworkInterfaceId".to_owned(), port.id.clone())];
                match self.ec2.call("DeleteNetworkInterface", &p).await {
                    Ok(_) | Err(VimError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        };
        self.ec2
            .call("TerminateInstances", &[("InstanceId.1".into(), id.clone())])
            .await
            .map(|_| ())
    }

    async fn refresh_vms(&self, ids: &[String]) -> Result<HashMap<String, VmReport>, VimError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            for i in self.instances(&[("instance-id", chunk.to_vec())]).await? {
                let report = VmReport {
                    status: state_status(&i.state),
                    error_msg: i
                        .reason
                        .clone()
                        .filter(|_| i.state == "terminated" || i.state == "stopped"),
                    vim_info: Some(format!(
                        "{{\"state\": \"{}\", \"type\": \"{}\"}}",
                        i.state, i.instance_type
                    )),
                    interfaces: i.ordered_interfaces(),
                    seen: Seen {
                        flavor: Some(i.instance_type.clone()),
                        image: i.image.clone(),
                        ..Seen::default()
                    },
                };
                out.insert(i.id, report);
            }
        }
        Ok(out)
    }

    async fn list_tagged(&self) -> Result<Vec<TaggedElement>, VimError> {
        let tag = format!("tag:{INSTALLATION_TAG}");
        let mine = [(tag.as_str(), vec![self.installation.clone()])];
        let mut out: Vec<TaggedElement> = self
            .subnets(&mine)
            .await?
            .into_iter()
            .map(|s| TaggedElement {
                kind: ElementKind::Net,
                vim_id: s.id,
                name: s.name,
                token: s.token,
                created_at: None,
            })
            .collect();
        let alive = [(
            "instance-state-name",
            ["pending", "running", "stopping", "stopped"]
                .map(String::from)
                .to_vec(),
        )];
        let filters = [mine[0].clone(), alive[0].clone()];
        for i in self.instances(&filters).await? {
            // An instance's interfaces are its own, tagged or not (moto does not apply a
            // RunInstances tag specification to them; AWS does).
            for iface in i.ordered_interfaces() {
                out.push(TaggedElement {
                    kind: ElementKind::Port,
                    vim_id: iface.vim_interface_id,
                    name: i.name.clone(),
                    token: i.token.clone(),
                    created_at: i.launched,
                });
            }
            out.push(TaggedElement {
                kind: ElementKind::Vm,
                vim_id: i.id,
                name: i.name,
                token: i.token,
                created_at: i.launched,
            });
        }
        let seen: std::collections::HashSet<String> =
            out.iter().map(|e| e.vim_id.clone()).collect();
        for xml in self.pages("DescribeNetworkInterfaces", &mine).await? {
            let left = parse_network_interfaces(&xml)?;
            out.extend(left.into_iter().filter(|e| !seen.contains(&e.vim_id)));
        }
        Ok(out)
    }

    async fn adopt(
        &self,
        kind: ItemKind,
        filter: &FindFilter,
        token: &str,
    ) -> Result<TokenMatch, VimError> {
        let id = match kind {
            ItemKind::Net => {
                let ids = self.list_nets(filter).await?.into_iter().map(|n| n.id);
                one_match(kind, filter, ids.collect())?
            }
            ItemKind::Vm => {
                let mut filters = Vec::new();
                if let Some(n) = &filter.name {
                    filters.push(("tag:Name", vec![n.clone()]));
                }
                if let Some(i) = &filter.id {
                    filters.push(("instance-id", vec![i.clone()]));
                }
                let alive = ["pending", "running", "stopping", "stopped"].map(String::from);
                filters.push(("instance-state-name", alive.to_vec()));
                let found = self.instances(&filters).await?;
                let id = one_match(kind, filter, found.iter().map(|i| i.id.clone()).collect())?;
                let mut resources = vec![id.clone()];
                for i in found.iter().filter(|i| i.id == id) {
                    resources.extend(i.interfaces.iter().map(|(_, r)| r.vim_interface_id.clone()));
                }
                self.tag(&resources, token).await?;
                return self
                    .find_by_token(kind, token)
                    .await?
                    .ok_or_else(|| VimError::NotFound(format!("instance {id} after tagging")));
            }
        };
        self.tag(std::slice::from_ref(&id), token).await?;
        Ok(TokenMatch {
            created: Created {
                vim_id: id,
                created_items: Vec::new(),
            },
            interface_ids: Vec::new(),
        })
    }

    async fn find_by_token(
        &self,
        kind: ItemKind,
        token: &str,
    ) -> Result<Option<TokenMatch>, VimError> {
        let tag = format!("tag:{TOKEN_TAG}");
        match kind {
            ItemKind::Net => Ok(self
                .subnets(&[(tag.as_str(), vec![token.to_owned()])])
                .await?
                .into_iter()
                .next()
                .map(|s| TokenMatch {
                    created: Created {
                        vim_id: s.id,
                        created_items: Vec::new(),
                    },
                    interface_ids: Vec::new(),
                })),
            ItemKind::Vm => {
                let alive = ["pending", "running", "stopping", "stopped"]
                    .map(String::from)
                    .to_vec();
                let found = self
                    .instances(&[
                        (tag.as_str(), vec![token.to_owned()]),
                        ("instance-state-name", alive),
                    ])
                    .await?;
                Ok(found.into_iter().next().map(|i| TokenMatch {
                    interface_ids: i
                        .ordered_interfaces()
                        .into_iter()
                        .map(|x| x.vim_interface_id)
                        .collect(),
                    created: Created {
                        vim_id: i.id,
                        created_items: Vec::new(),
                    },
                }))
            }
        }
    }
}

/// TagSpecification number `n`: the name, rovim's token and the installation's id.
fn tags(
    n: u32,
    resource: &str,
    name: &str,
    token: &str,
    installation: &str,
) -> Vec<(String, String)> {
    let spec = format!("TagSpecification.{n}");
    [
        ("Name", name),
        (TOKEN_TAG, token),
        (INSTALLATION_TAG, installation),
    ]
    .iter()
    .enumerate()
    .flat_map(|(i, (k, v))| {
        [
            (format!("{spec}.Tag.{}.Key", i + 1), (*k).to_owned()),
            (format!("{spec}.Tag.{}.Value", i + 1), (*v).to_owned()),
        ]
    })
    .chain([(format!("{spec}.ResourceType"), resource.to_owned())])
    .collect()
}

fn filter_params(filters: &[(&str, Vec<String>)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, (name, values)) in filters.iter().enumerate() {
        out.push((format!("Filter.{}.Name", i + 1), (*name).to_owned()));
        for (j, v) in values.iter().enumerate() {
            out.push((format!("Filter.{}.Value.{}", i + 1, j + 1), v.clone()));
        }
    }
    out
}

/// EC2 instance states (spec: pending→BUILD, running→ACTIVE, stopping/stopped→INACTIVE,
/// shutting-down/terminated→DELETED); anything else is OTHER.
fn state_status(state: &str) -> ItemStatus {
    match state {
        "pending" => ItemStatus::Build,
        "running" => ItemStatus::Active,
        "stopping" | "stopped" => ItemStatus::Inactive,
        "shutting-down" | "terminated" => ItemStatus::Deleted,
        _ => ItemStatus::Other,
    }
}

#[derive(Debug)]
struct Subnet {
    id: String,
    name: String,
    cidr: String,
    state: String,
    token: Option<String>,
}

impl Subnet {
    fn into_vim_net(self) -> VimNet {
        VimNet {
            id: self.id,
            name: self.name,
            status: if self.state == "available" {
                ItemStatus::Active
            } else {
                ItemStatus::Build
            },
            net_type: NetType::Bridge,
            encapsulation: None,
            segmentation_id: None,
            shared: false,
            error_msg: None,
        }
    }
}

#[derive(Debug)]
struct Instance {
    id: String,
    name: String,
    token: Option<String>,
    launched: Option<chrono::DateTime<chrono::Utc>>,
    image: Option<String>,
    state: String,
    instance_type: String,
    reason: Option<String>,
    interfaces: Vec<(u32, InterfaceReport)>,
}

impl Instance {
    fn ordered_interfaces(&self) -> Vec<InterfaceReport> {
        let mut v = self.interfaces.clone();
        v.sort_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, r)| r).collect()
    }
}

fn parse(xml: &str) -> Result<roxmltree::Document<'_>, VimError> {
    roxmltree::Document::parse(xml)
        .map_err(|e| VimError::UnexpectedResponse(format!("EC2 answered bad XML: {e}")))
}

fn first_text(xml: &str, tag: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
        .map(str::to_owned)
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(tag))
}

fn text(node: roxmltree::Node<'_, '_>, tag: &str) -> Option<String> {
    child(node, tag).and_then(|c| c.text()).map(str::to_owned)
}

fn items<'a, 'i>(node: roxmltree::Node<'a, 'i>, set: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    child(node, set).map_or_else(Vec::new, |s| {
        s.children().filter(|c| c.has_tag_name("item")).collect()
    })
}

fn tag_value(node: roxmltree::Node<'_, '_>, key: &str) -> Option<String> {
    items(node, "tagSet")
        .into_iter()
        .find(|t| text(*t, "key").as_deref() == Some(key))
        .and_then(|t| text(t, "value"))
}

fn parse_subnets(xml: &str) -> Result<Vec<Subnet>, VimError> {
    let doc = parse(xml)?;
    let Some(set) = doc.descendants().find(|n| n.has_tag_name("subnetSet")) else {
        return Ok(Vec::new());
    };
    Ok(set
        .children()
        .filter(|c| c.has_tag_name("item"))
        .filter_map(|s| {
            Some(Subnet {
                id: text(s, "subnetId")?,
                name: tag_value(s, "Name").unwrap_or_default(),
                cidr: text(s, "cidrBlock").unwrap_or_default(),
                state: text(s, "state").unwrap_or_default(),
                token: tag_value(s, TOKEN_TAG),
            })
        })
        .collect())
}

fn instance_of(node: roxmltree::Node<'_, '_>) -> Option<Instance> {
    let interfaces = items(node, "networkInterfaceSet")
        .into_iter()
        .filter_map(|n| {
            let index = child(n, "attachment")
                .and_then(|a| text(a, "deviceIndex"))
                .and_then(|i| i.parse().ok())
                .unwrap_or(0);
            let report = InterfaceReport {
                vim_interface_id: text(n, "networkInterfaceId")?,
                vim_net_id: text(n, "subnetId"),
                mac_address: text(n, "macAddress"),
                ip_address: text(n, "privateIpAddress"),
                ..InterfaceReport::default()
            };
            Some((index, report))
        })
        .collect();
    Some(Instance {
        id: text(node, "instanceId")?,
        name: tag_value(node, "Name").unwrap_or_default(),
        token: tag_value(node, TOKEN_TAG),
        image: text(node, "imageId"),
        launched: text(node, "launchTime")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.to_utc()),
        state: child(node, "instanceState")
            .and_then(|s| text(s, "name"))
            .unwrap_or_default(),
        instance_type: text(node, "instanceType").unwrap_or_default(),
        reason: text(node, "reason").filter(|r| !r.is_empty()),
        interfaces,
    })
}

/// RunInstances: `<instancesSet><item>…`.
fn parse_instance_list(xml: &str) -> Result<Vec<Instance>, VimError> {
    let doc = parse(xml)?;
    let Some(set) = doc.descendants().find(|n| n.has_tag_name("instancesSet")) else {
        return Ok(Vec::new());
    };
    Ok(set
        .children()
        .filter(|c| c.has_tag_name("item"))
        .filter_map(instance_of)
        .collect())
}

/// DescribeInstances: reservations of instances.
fn parse_instances(xml: &str) -> Result<Vec<Instance>, VimError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    let mut out = Vec::new();
    for r in items(root, "reservationSet") {
        out.extend(items(r, "instancesSet").into_iter().filter_map(instance_of));
    }
    Ok(out)
}

/// DescribeNetworkInterfaces, as tagged elements.
fn parse_network_interfaces(xml: &str) -> Result<Vec<TaggedElement>, VimError> {
    let doc = parse(xml)?;
    Ok(items(doc.root_element(), "networkInterfaceSet")
        .into_iter()
        .filter_map(|n| {
            Some(TaggedElement {
                kind: ElementKind::Port,
                vim_id: text(n, "networkInterfaceId")?,
                name: tag_value(n, "Name").unwrap_or_default(),
                token: tag_value(n, TOKEN_TAG),
                created_at: None,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_instances_is_read_with_interfaces_in_device_order() {
        let xml = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
          <reservationSet><item><instancesSet><item>
            <instanceId>i-1</instanceId><instanceType>t3.micro</instanceType>
            <instanceState><code>16</code><name>running</name></instanceState>
            <networkInterfaceSet>
              <item><networkInterfaceId>eni-b</networkInterfaceId><subnetId>subnet-2</subnetId>
                <macAddress>0e:00:00:00:00:02</macAddress><privateIpAddress>10.0.2.9</privateIpAddress>
                <attachment><deviceIndex>1</deviceIndex></attachment></item>
              <item><networkInterfaceId>eni-a</networkInterfaceId><subnetId>subnet-1</subnetId>
                <macAddress>0e:00:00:00:00:01</macAddress><privateIpAddress>10.0.1.9</privateIpAddress>
                <attachment><deviceIndex>0</deviceIndex></attachment></item>
            </networkInterfaceSet>
            <tagSet><item><key>rovim-token</key><value>t</value></item></tagSet>
          </item></instancesSet></item></reservationSet>
          <nextToken>page2</nextToken></DescribeInstancesResponse>"#;
        let list = parse_instances(xml).unwrap();
        let i = &list[0];
        assert_eq!(i.token.as_deref(), Some("t"));
        assert_eq!(
            (i.id.as_str(), state_status(&i.state)),
            ("i-1", ItemStatus::Active)
        );
        let ifaces = i.ordered_interfaces();
        assert_eq!(ifaces[0].vim_interface_id, "eni-a");
        assert_eq!(ifaces[1].ip_address.as_deref(), Some("10.0.2.9"));
        assert_eq!(state_status("shutting-down"), ItemStatus::Deleted);
        assert_eq!(state_status("weird"), ItemStatus::Other);
    }

    #[test]
    fn filters_and_tags_are_numbered_as_ec2_wants() {
        let p = filter_params(&[
            ("vpc-id", vec!["vpc-1".into()]),
            ("instance-id", vec!["i-1".into(), "i-2".into()]),
        ]);
        assert!(p.contains(&("Filter.2.Value.2".into(), "i-2".into())));
        let t = tags(2, "subnet", "n", "tok", "inst");
        assert!(t.contains(&("TagSpecification.2.Tag.2.Value".into(), "tok".into())));
        assert!(t.contains(&(
            "TagSpecification.2.Tag.3.Key".into(),
            INSTALLATION_TAG.into()
        )));
        assert!(t.contains(&("TagSpecification.2.Tag.3.Value".into(), "inst".into())));
        assert!(t.contains(&("TagSpecification.2.ResourceType".into(), "subnet".into())));
    }
}
