//! The domain a VM create defines: its flavor, its image (a kernel with the user data on its
//! command line, or a disk), its interfaces with their MACs and passthrough slots.

use base64::Engine as _;
use rovim_core::InterfaceType;

use super::connector::LibvirtConnector;
use super::names::{libvirt_name, slot_device};
use super::xml::{self, Boot, DomainInfo, DomainSpec, Marks, NicSpec};
use crate::connector::VmRequest;
use crate::error::VimError;

/// The kernel's command line holds 2,048 bytes on x86.
const MAX_CMDLINE: usize = 2048;

impl LibvirtConnector {
    pub(super) fn boot(&self, request: &VmRequest) -> Result<(Boot, u32, u32), VimError> {
        let p = &request.params;
        let known = |names: Vec<&String>| {
            names
                .into_iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let flavor = self.settings.flavors.get(&p.flavor_id).ok_or_else(|| {
            VimError::BadRequest(format!(
                "flavor_id: '{}' is not in the account's config.flavors ({})",
                p.flavor_id,
                known(self.settings.flavors.keys().collect())
            ))
        })?;
        let image = self.settings.images.get(&p.image_id).ok_or_else(|| {
            VimError::BadRequest(format!(
                "image_id: '{}' is not in the account's config.images ({})",
                p.image_id,
                known(self.settings.images.keys().collect())
            ))
        })?;
        let user_data = user_data(p.cloud_config.as_ref())?;
        let boot = match (&image.kernel, &image.disk) {
            (Some(kernel), _) => {
                let mut cmdline = image.cmdline.clone().unwrap_or_default();
                if let Some(data) = user_data {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
                    cmdline = format!("{cmdline} rovim.user_data={encoded}")
                        .trim()
                        .to_owned();
                }
                if cmdline.len() > MAX_CMDLINE {
                    return Err(VimError::BadRequest(format!(
                        "cloud_config: the user data makes a kernel command line of {} bytes, \
                         more than the {MAX_CMDLINE} a kernel takes",
                        cmdline.len()
                    )));
                }
                Boot::Kernel {
                    kernel: kernel.clone(),
                    initrd: image.initrd.clone(),
                    cmdline,
                }
            }
            (None, Some(disk)) if user_data.is_none() => Boot::Disk(disk.clone()),
            (None, _) => {
                return Err(VimError::BadRequest(format!(
                    "cloud_config: user data goes on the kernel command line, and image '{}' \
                     boots from a disk",
                    p.image_id
                )));
            }
        };
        Ok((boot, flavor.vcpus, flavor.memory_mb))
    }

    /// Defines the domain (picking passthrough slots under the allocation lock) and returns
    /// it as libvirt describes it; a domain of the same name is the one an earlier try made.
    pub(super) async fn define_domain(
        &self,
        request: &VmRequest,
        token: &str,
        boot: Boot,
        (vcpus, memory_mb): (u32, u32),
    ) -> Result<DomainInfo, VimError> {
        let p = &request.params;
        let mut nets = Vec::with_capacity(request.vim_net_ids.len());
        for (i, id) in request.vim_net_ids.iter().enumerate() {
            let net = self.network(id).await.map_err(|e| match e {
                VimError::NotFound(m) => VimError::BadRequest(format!("networks[{i}].net: {m}")),
                e => e,
            })?;
            nets.push(net);
        }
        let _allocating = self.allocation.lock().await;
        let passthrough = p.networks.iter().filter(|n| n.iface_type.is_passthrough());
        let mut slots = if passthrough.count() > 0 {
            self.free_slots().await?.into_iter()
        } else {
            Vec::new().into_iter()
        };
        let mut nics = Vec::with_capacity(nets.len());
        for (i, (iface, net)) in p.networks.iter().zip(&nets).enumerate() {
            let target = if iface.iface_type.is_passthrough() {
                if net.vlan.is_none() {
                    return Err(VimError::BadRequest(format!(
                        "networks[{i}].type: a {} interface needs a data or ptp net, and '{}' is not one",
                        type_name(iface.iface_type),
                        net.display_name()
                    )));
                }
                let slot = slots.next().ok_or_else(|| {
                    VimError::BadRequest(format!(
                        "networks[{i}].type: no passthrough slot is free (config.passthrough_slots has {})",
                        self.settings.passthrough_slots.len()
                    ))
                })?;
                Some(slot_device(&slot))
            } else {
                None
            };
            nics.push(NicSpec {
                network: net.name.clone(),
                mac: iface
                    .mac_address
                    .clone()
                    .unwrap_or_else(random_mac)
                    .to_ascii_lowercase(),
                model: iface.model.clone().unwrap_or_else(|| "virtio".into()),
                target,
            });
        }
        let name = libvirt_name(&p.name, token);
        let spec = DomainSpec {
            domain_type: self.settings.domain_type.clone(),
            console_file: self
                .settings
                .console_dir
                .as_ref()
                .map(|d| format!("{}/{name}.log", d.trim_end_matches('/'))),
            name,
            title: p.name.clone(),
            marks: Marks {
                start: p.start,
                ..self.marks(token)
            },
            vcpus,
            memory_mb,
            boot,
            nics,
        };
        match self
            .virsh
            .run(&["define", "/dev/stdin"], Some(&xml::domain_xml(&spec)))
            .await
        {
            Ok(_) | Err(VimError::Conflict(_)) => self.domain(&spec.name).await,
            Err(e) => Err(e),
        }
    }
}

fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("52:54:00:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

fn type_name(t: InterfaceType) -> &'static str {
    match t {
        InterfaceType::Virtual => "virtual",
        InterfaceType::PF => "PF",
        InterfaceType::VF => "VF",
        InterfaceType::VFnotShared => "VFnotShared",
    }
}

/// The user data of a VM's `cloud_config`: a string as it is, or `{user-data: text or [lines]}`.
pub(super) fn user_data(
    cloud_config: Option<&serde_json::Value>,
) -> Result<Option<String>, VimError> {
    use serde_json::Value;
    let bad = || {
        VimError::BadRequest(
            "cloud_config: give the user data as a string, or as {\"user-data\": text or [text]}"
                .into(),
        )
    };
    match cloud_config {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Object(o)) => match o.get("user-data") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(parts)) => parts
                .iter()
                .map(|p| p.as_str().map(str::to_owned).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(|p| Some(p.join("\n"))),
            None if o.is_empty() => Ok(None),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    pub(super) fn user_data_is_a_string_or_a_user_data_key() {
        assert_eq!(user_data(None).unwrap(), None);
        assert_eq!(
            user_data(Some(&json!("echo hi"))).unwrap().as_deref(),
            Some("echo hi")
        );
        assert_eq!(
            user_data(Some(&json!({"user-data": ["a", "b"]})))
                .unwrap()
                .as_deref(),
            Some("a\nb")
        );
        for bad in [json!(3), json!({"users": []}), json!({"user-data": [1]})] {
            let e = user_data(Some(&bad)).unwrap_err();
            assert!(e.to_string().contains("cloud_config"), "{e}");
        }
    }
}
