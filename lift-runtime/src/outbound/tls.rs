//! The Management API client's connector ([`LazyTls`]): the SDK's TLS stack (rustls on
//! aws-lc-rs, the platform's roots) set up at the first HTTPS connection, plus the roots of
//! [`Settings::management_ca_file`](crate::Settings::management_ca_file) for a local endpoint
//! with a certificate authority of its own.

use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;

/// The connector: plain TCP for `http://` endpoints (the emulator, a local stand-in), rustls for
/// `https://` ones, its root certificates loaded on the first HTTPS connection rather than when
/// the client is built (reading the platform's certificates is most of a cold start's CPU when
/// no HTTPS call is ever made).
#[derive(Clone)]
pub(crate) struct LazyTls {
    http: HttpConnector,
    https: Arc<std::sync::OnceLock<hyper_rustls::HttpsConnector<HttpConnector>>>,
    /// Certificates trusted besides the platform's (a local endpoint's own CA).
    extra_roots: Arc<Vec<CertificateDer<'static>>>,
}

impl std::fmt::Debug for LazyTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazyTls")
    }
}

impl LazyTls {
    pub(crate) fn new() -> Self {
        LazyTls {
            http: HttpConnector::new(),
            https: Arc::default(),
            extra_roots: Arc::default(),
        }
    }

    /// Trusting the certificates of the PEM file `file` as well as the platform's: a local
    /// endpoint over HTTPS with a certificate authority of its own. Read now, so a missing or
    /// empty file is an error when the app starts, not at its first send.
    pub(crate) fn trusting(file: &std::path::Path) -> Result<Self, crate::Error> {
        use rustls::pki_types::pem::PemObject;
        let named = |err: &dyn std::fmt::Display| -> crate::Error {
            format!(
                "the CA file {} (LIFT_MANAGEMENT_CA_FILE): {err}",
                file.display()
            )
            .into()
        };
        let certificates = CertificateDer::pem_file_iter(file)
            .map_err(|err| named(&err))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| named(&err))?;
        if certificates.is_empty() {
            return Err(named(&"no PEM certificate in it"));
        }
        tracing::info!(file = %file.display(), certificates = certificates.len(), "trusting a local CA for the Management API");
        Ok(LazyTls {
            extra_roots: Arc::new(certificates),
            ..LazyTls::new()
        })
    }
}

type Stream = hyper_rustls::MaybeHttpsStream<hyper_util::rt::TokioIo<tokio::net::TcpStream>>;

impl tower::Service<http::Uri> for LazyTls {
    type Response = Stream;
    type Error = crate::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Stream, crate::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        if uri.scheme_str() != Some("https") {
            let mut http = self.http.clone();
            return Box::pin(async move {
                let tcp = http.call(uri).await?;
                Ok(hyper_rustls::MaybeHttpsStream::Http(tcp))
            });
        }
        let https = match self.https.get() {
            Some(https) => https.clone(),
            None => match tls_config(&self.extra_roots) {
                Ok(config) => self
                    .https
                    .get_or_init(|| {
                        hyper_rustls::HttpsConnectorBuilder::new()
                            .with_tls_config(config)
                            .https_only()
                            .enable_http1()
                            .build()
                    })
                    .clone(),
                Err(err) => return Box::pin(async move { Err(err) }),
            },
        };
        let mut https = https;
        Box::pin(async move { https.call(uri).await })
    }
}

/// rustls on aws-lc-rs with the platform's root certificates, as the SDK's default client has
/// them, loaded once per process (and `extra` roots, when given). Certificates that do not load
/// are skipped (the SDK does the same); none at all is a warning, and HTTPS requests then fail
/// with the TLS error.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, crate::Error> {
    static CONFIG: std::sync::OnceLock<rustls::ClientConfig> = std::sync::OnceLock::new();
    if extra.is_empty() {
        if let Some(config) = CONFIG.get() {
            return Ok(config.clone());
        }
        let config = load_tls_config(extra)?;
        return Ok(CONFIG.get_or_init(|| config).clone());
    }
    load_tls_config(extra)
}

fn load_tls_config(
    extra: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, crate::Error> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    let (extra_added, _) = roots.add_parsable_certificates(extra.iter().cloned());
    if extra_added < extra.len() {
        return Err(
            "a certificate of the CA file (LIFT_MANAGEMENT_CA_FILE) is not a usable root".into(),
        );
    }
    if added == 0 && extra.is_empty() {
        tracing::warn!(
            errors = ?found.errors,
            "no root certificates found: HTTPS calls to the Management API will fail"
        );
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn certificates_are_loaded_for_the_first_https_connection_only() {
        use tower::Service as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let mut connector = super::LazyTls::new();
        let plain = connector
            .call(format!("http://{addr}/").parse().unwrap())
            .await;
        assert!(matches!(plain, Ok(hyper_rustls::MaybeHttpsStream::Http(_))));
        assert!(connector.https.get().is_none(), "no TLS for plain HTTP");
        let tls = connector
            .call(format!("https://{addr}/").parse().unwrap())
            .await;
        assert!(tls.is_err(), "the peer closed before the TLS handshake");
        assert!(connector.https.get().is_some(), "TLS set up for HTTPS");
    }
}
