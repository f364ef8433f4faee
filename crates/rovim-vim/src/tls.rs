//! TLS for the connectors' HTTP clients: rustls with the ring crypto provider, installed once
//! per process before any client is built (reqwest refuses to build one without a provider).

/// Installs the process-wide rustls provider; later calls do nothing.
pub fn init() {
    // Err only when a provider is installed already, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client for talking to VIM APIs (HTTPS with the OS trust store, or plain HTTP).
/// It follows no redirect: a VIM API has no reason to send one, and following it would carry
/// the request's credentials (a Keystone password, a token) to wherever it points.
pub fn client() -> Result<reqwest::Client, crate::VimError> {
    init();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| crate::VimError::Connection(format!("cannot build an HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_can_be_built_twice() {
        super::client().unwrap();
        super::client().unwrap();
    }
}
