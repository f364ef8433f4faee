//! The AWS connector against moto (a real EC2 API implementation from PyPI, started here): a VPC
//! subnet as a net, an instance on it, token lookups, refresh, deletion, error classes.

use rovim_core::{ItemKind, ItemStatus, NetParams, NetType, VmParams};
use rovim_vim::aws::{AwsConnector, AwsSettings};
use rovim_vim::testing::moto;
use rovim_vim::{Created, VimConnector, VimError, VmRequest};

fn settings(vpc: &str) -> AwsSettings {
    AwsSettings::from_config(&serde_json::json!({"region": "us-east-1", "vpc_id": vpc})).unwrap()
}

/// A VPC and an AMI id, made with the connector's own EC2 client.
async fn fixture(endpoint: &str) -> (String, String) {
    let c = AwsConnector::new(endpoint, "test", "test", settings("vpc-00000000")).unwrap();
    let xml = c
        .ec2()
        .call("CreateVpc", &[("CidrBlock".into(), "10.7.0.0/16".into())])
        .await
        .unwrap();
    let vpc = between(&xml, "<vpcId>", "</vpcId>");
    let xml = c.ec2().call("DescribeImages", &[]).await.unwrap();
    let ami = between(&xml, "<imageId>", "</imageId>");
    (vpc, ami)
}

fn between(xml: &str, open: &str, close: &str) -> String {
    let start = xml.find(open).expect(open) + open.len();
    xml[start..].split(close).next().unwrap().to_owned()
}

fn vm(name: &str, ami: &str) -> VmParams {
    serde_json::from_value(
        serde_json::json!({"name": name, "image_id": ami, "flavor_id": "t3.micro",
        "networks": [{"net": {"vim_net_id": "set below"}}]}),
    )
    .unwrap()
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[tokio::test]
async fn a_subnet_and_an_instance_live_and_die_on_moto() {
    let Some(moto) = moto() else { return };
    let (vpc, ami) = fixture(&moto.endpoint).await;
    let aws = AwsConnector::new(&moto.endpoint, "test", "test", settings(&vpc)).unwrap();
    aws.check_connectivity().await.unwrap();
    let wrong =
        AwsConnector::new(&moto.endpoint, "test", "test", settings("vpc-12345678")).unwrap();
    let e = wrong.check_connectivity().await.unwrap_err();
    assert!(
        matches!(e, VimError::BadRequest(_)) && e.to_string().contains("vpc_id"),
        "{e}"
    );

    let net = NetParams {
        name: "mgmt".into(),
        net_type: NetType::Bridge,
        ip_profile: None,
        shared: false,
        vlan: None,
    };
    let Created { vim_id: subnet, .. } = aws.create_net(&net, "tok-net").await.unwrap();
    assert!(subnet.starts_with("subnet-"));
    let by_name = aws
        .list_nets(&rovim_core::FindFilter {
            name: Some("mgmt".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_name.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        vec![subnet.as_str()]
    );
    assert_eq!(
        aws.find_by_token(ItemKind::Net, "tok-net")
            .await
            .unwrap()
            .unwrap()
            .created
            .vim_id,
        subnet
    );
    assert!(
        aws.find_by_token(ItemKind::Net, "tok-other")
            .await
            .unwrap()
            .is_none()
    );
    let second = aws
        .create_net(
            &NetParams {
                name: "data".into(),
                ..net.clone()
            },
            "tok-net2",
        )
        .await
        .unwrap();
    let nets = aws
        .refresh_nets(&[subnet.clone(), second.vim_id.clone(), "subnet-gone".into()])
        .await
        .unwrap();
    assert_eq!(nets.len(), 2, "an unknown id is simply absent");
    assert_eq!(nets[&subnet].status, ItemStatus::Active);

    let mut params = vm("web", &ami);
    params.networks[0].net = rovim_core::NetRef::VimNet(subnet.clone());
    let request = VmRequest {
        params,
        vim_net_ids: vec![subnet.clone()],
    };
    let made = aws.create_vm(&request, "tok-vm").await.unwrap();
    let id = made.created.vim_id.clone();
    assert!(
        id.starts_with("i-") && made.interface_ids.len() == 1,
        "{made:?}"
    );
    let found = aws
        .find_by_token(ItemKind::Vm, "tok-vm")
        .await
        .unwrap()
        .expect("found by its tag");
    assert_eq!(
        (found.created.vim_id.as_str(), found.interface_ids.clone()),
        (id.as_str(), made.interface_ids.clone())
    );
    let mut status = ItemStatus::Build;
    let mut report = None;
    for _ in 0..5 {
        let r = aws.refresh_vms(std::slice::from_ref(&id)).await.unwrap();
        status = r[&id].status;
        report = Some(r[&id].clone());
        if status == ItemStatus::Active {
            break;
        }
    }
    assert_eq!(status, ItemStatus::Active);
    let iface = &report.unwrap().interfaces[0];
    assert_eq!(iface.vim_interface_id, made.interface_ids[0]);
    assert_eq!(iface.vim_net_id.as_deref(), Some(subnet.as_str()));
    assert!(
        iface.mac_address.is_some()
            && iface
                .ip_address
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.7.")),
        "{iface:?}"
    );

    let enis_in_subnet = || async {
        let xml = aws
            .ec2()
            .call(
                "DescribeNetworkInterfaces",
                &[
                    ("Filter.1.Name".into(), "subnet-id".into()),
                    ("Filter.1.Value.1".into(), subnet.clone()),
                ],
            )
            .await
            .unwrap();
        xml.matches("<networkInterfaceId>").count()
    };
    assert_eq!(enis_in_subnet().await, 1, "the instance's interface");
    aws.delete_vm(&made.created.owned()).await.unwrap();
    assert_eq!(
        enis_in_subnet().await,
        0,
        "its interface went with it (DeleteOnTermination)"
    );
    let r = aws.refresh_vms(std::slice::from_ref(&id)).await.unwrap();
    assert!(
        r.get(&id).is_none_or(|v| v.status == ItemStatus::Deleted),
        "{r:?}"
    );
    assert!(
        aws.find_by_token(ItemKind::Vm, "tok-vm")
            .await
            .unwrap()
            .is_none(),
        "a terminated instance is not adopted"
    );
    aws.delete_net(
        &Created {
            vim_id: subnet.clone(),
            created_items: vec![],
        }
        .owned(),
    )
    .await
    .unwrap();
    let e = aws
        .delete_net(
            &Created {
                vim_id: subnet.clone(),
                created_items: vec![],
            }
            .owned(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, VimError::NotFound(_)), "{e}");
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[tokio::test]
async fn refreshing_500_instances_takes_one_describe_call() {
    let Some(moto) = moto() else { return };
    let (vpc, ami) = fixture(&moto.endpoint).await;
    let aws = AwsConnector::new(&moto.endpoint, "test", "test", settings(&vpc)).unwrap();
    // A /22: 500 addresses do not fit in the /24 a net gets by default.
    let net: NetParams = serde_json::from_value(
        serde_json::json!({"name": "bulk", "ip_profile": {"subnet_address": "10.7.4.0/22"}}),
    )
    .unwrap();
    let subnet = aws.create_net(&net, "tok-bulk").await.unwrap().vim_id;
    let params = vec![
        ("ImageId".to_owned(), ami),
        ("InstanceType".to_owned(), "t3.nano".to_owned()),
        ("MinCount".to_owned(), "500".to_owned()),
        ("MaxCount".to_owned(), "500".to_owned()),
        ("SubnetId".to_owned(), subnet),
    ];
    let xml = aws.ec2().call("RunInstances", &params).await.unwrap();
    let ids: Vec<String> = xml
        .split("<instanceId>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 500);
    let before = aws.ec2().calls("DescribeInstances");
    let reports = aws.refresh_vms(&ids).await.unwrap();
    assert_eq!(reports.len(), 500);
    assert_eq!(
        aws.ec2().calls("DescribeInstances") - before,
        1,
        "one call for 500 ids (up to 1,000 per call)"
    );
}

/// Each way the wire can break, between the connector and a real EC2 API: classified as a
/// transient error the engine retries (never as a refusal that would fail the task), and the
/// next call goes through.
#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[tokio::test]
async fn faults_on_the_wire_are_classified_as_retryable() {
    use rovim_vim::testing::{Fault, FaultProxy, Rule};
    let Some(moto) = moto() else { return };
    let (vpc, _) = fixture(&moto.endpoint).await;
    let cases = [
        (Fault::ResetBefore, "connection"),
        (Fault::ResetAfter, "connection"),
        (Fault::Status(503, None), "unexpected_response"),
        (Fault::Status(500, None), "unexpected_response"),
        (Fault::Status(429, Some(1)), "rate_limited"),
        (Fault::Truncate, "unexpected_response"),
    ];
    for (fault, class) in cases {
        let proxy = FaultProxy::start(&moto.endpoint).await;
        proxy.add(Rule::once("Action=", fault.clone()));
        let aws = AwsConnector::new(&proxy.url, "test", "test", settings(&vpc)).unwrap();
        let e = aws.check_connectivity().await.unwrap_err();
        assert_eq!(
            (e.class(), e.is_retryable()),
            (class, true),
            "{fault:?}: {e}"
        );
        aws.check_connectivity()
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: the next call goes through: {e}"));
        assert_eq!(proxy.faults_injected(), 1);
    }
}
