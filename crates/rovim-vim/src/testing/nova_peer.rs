//! The real Nova that `.ci/nova.sh` starts (in Keystone's catalog as `compute`): what the tests
//! boot servers with.

/// A flavor and an image the test Nova boots, and the ways to make it refuse or fail.
#[derive(Debug, Clone)]
pub struct NovaPeer {
    /// 1 vCPU, 64 MB: fits the fake compute host many times.
    pub flavor: String,
    /// More vCPUs than the compute host has: the scheduler finds no host.
    pub huge_flavor: String,
    pub image: String,
    /// A project the test user administers whose quota allows no server.
    pub quota_project: String,
}

/// The test Nova, from `eval "$(bash .ci/nova.sh)"`; `None` (with a message) when it is not
/// running, except under `CI=true`, where that is a failure.
pub fn nova_peer() -> Option<NovaPeer> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let peer = (|| {
        var("ROVIM_TEST_NOVA_URL")?;
        Some(NovaPeer {
            flavor: var("ROVIM_TEST_NOVA_FLAVOR")?,
            huge_flavor: var("ROVIM_TEST_NOVA_HUGE_FLAVOR")?,
            image: var("ROVIM_TEST_NOVA_IMAGE")?,
            quota_project: var("ROVIM_TEST_NOVA_QUOTA_PROJECT")?,
        })
    })();
    if peer.is_none() {
        rovim_core::test_peers::absent(
            "ROVIM_TEST_NOVA_* are not set: run `eval \"$(bash .ci/nova.sh)\"` after .ci/openstack.sh",
        );
    }
    peer
}
