//! Outgoing HTTP clients (webhooks, the shop's order API, an OpenAI-compatible
//! model server, the benchmarks): every one is built here, so that every one has
//! TLS from rustls with the `ring` provider, the one sqlx and lettre already
//! use. (reqwest's own default, aws-lc, is a C library that would add minutes to
//! every cold build and a second copy of the same primitives.)

/// A client builder with the process's TLS provider in place.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// A client with reqwest's defaults.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("an HTTP client with default settings always builds")
}

/// Makes `ring` the process's rustls provider; a no-op once one is set.
pub fn install_tls_provider() {
    // Err only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_with_rings_tls_in_place() {
        // Without a provider reqwest refuses to build a TLS client (it panics).
        let _client = client();
        let provider =
            rustls::crypto::CryptoProvider::get_default().expect("a provider is in place");
        assert!(
            provider
                .cipher_suites
                .iter()
                .any(|s| s.version() == &rustls::version::TLS13),
            "TLS 1.3 suites offered"
        );
    }
}
