//! Keystone catalog edits for tests sharing one Keystone: the Nova mock registers itself as
//! the `compute` service and takes itself out again, so other tests (and later runs) never meet
//! a compute endpoint that nothing answers.

use reqwest::Method;

use crate::openstack::OpenStackConnector;

/// Removes every `compute` service (and its endpoints) from the catalog.
pub async fn forget_compute(admin: &OpenStackConnector) {
    let Ok((_, services)) = admin
        .keystone()
        .call("identity", Method::GET, "/services?type=compute", None)
        .await
    else {
        return;
    };
    for s in services["services"].as_array().into_iter().flatten() {
        let Some(id) = s["id"].as_str() else { continue };
        let path = format!("/endpoints?service_id={id}");
        if let Ok((_, eps)) = admin
            .keystone()
            .call("identity", Method::GET, &path, None)
            .await
        {
            for e in eps["endpoints"].as_array().into_iter().flatten() {
                let Some(eid) = e["id"].as_str() else {
                    continue;
                };
                let _ = admin
                    .keystone()
                    .call(
                        "identity",
                        Method::DELETE,
                        &format!("/endpoints/{eid}"),
                        None,
                    )
                    .await;
            }
        }
        let _ = admin
            .keystone()
            .call("identity", Method::DELETE, &format!("/services/{id}"), None)
            .await;
    }
}
