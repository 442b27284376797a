//! TLS for clients, with Redis's settings: `tls-port` (0: none) serves RESP over TLS beside the
//! plain `port`, with the certificate chain of `tls-cert-file` and the key of `tls-key-file`
//! (PEM). `tls-auth-clients` is `yes` by default, as in Redis: a client must present a
//! certificate signed by a CA of `tls-ca-cert-file`; `optional` verifies one only if it is
//! presented, `no` asks for none. rustls (with ring) does the protocol; TLS 1.2 and 1.3.
//!
//! A handshake must finish within [`HANDSHAKE_TIMEOUT`], so a client that connects and sends
//! nothing holds no more than a socket for that long.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{Config, TlsAuthClients};
use crate::stream::ClientStream;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The acceptor for `tls-port`, or `None` when TLS is off; an error names the setting at fault.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, String> {
    if config.tls_port == 0 {
        return Ok(None);
    }
    if config.tls_cert_file.is_empty() || config.tls_key_file.is_empty() {
        return Err("tls-port needs tls-cert-file and tls-key-file".into());
    }
    let certs = read_certs("tls-cert-file", &config.tls_cert_file)?;
    let key = read_key(config)?;
    let provider = Arc::new(provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match config.tls_auth_clients {
        TlsAuthClients::No => builder.with_no_client_auth(),
        auth => {
            if config.tls_ca_cert_file.is_empty() {
                return Err(
                    "tls-auth-clients yes or optional needs tls-ca-cert-file (or set it to no)"
                        .into(),
                );
            }
            let roots = read_roots(config)?;
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = match auth {
                TlsAuthClients::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| e.to_string())?)
        }
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls-cert-file / tls-key-file: {e}"))?;
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// rustls's ring provider: its key exchanges (X25519, P-256, P-384), its TLS 1.2 and 1.3
/// suites. rustls deprecated it for lacking post-quantum key exchange, which only its aws-lc-rs
/// provider has; that one needs cmake and builds a large C library on every clean build, so
/// ring stays until a client asks for post-quantum TLS.
#[allow(deprecated)]
pub fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

impl ClientStream for TlsStream<TcpStream> {
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        // Cancel-safe: rustls keeps what it read from the socket and decrypted until asked.
        self.read_buf(buf).await
    }

    fn fd(&self) -> i64 {
        self.get_ref().0.fd()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.get_ref().0.local_addr().ok()
    }
}

/// `tls-cluster yes`: the cluster bus's two sides. Every bus connection is mutual TLS with the
/// node's own certificate (`tls-cert-file`, `tls-key-file`), both ends checked against
/// `tls-ca-cert-file`, whatever `tls-auth-clients` says: a bus peer can append to the Raft log.
pub struct BusTls {
    pub acceptor: TlsAcceptor,
    pub connector: tokio_rustls::TlsConnector,
}

/// The bus's TLS, or `None` when `tls-cluster` is off.
pub fn bus(config: &Config) -> Result<Option<BusTls>, String> {
    if !config.tls_cluster {
        return Ok(None);
    }
    if config.tls_cert_file.is_empty()
        || config.tls_key_file.is_empty()
        || config.tls_ca_cert_file.is_empty()
    {
        return Err("tls-cluster needs tls-cert-file, tls-key-file and tls-ca-cert-file".into());
    }
    let certs = read_certs("tls-cert-file", &config.tls_cert_file)?;
    let key = read_key(config)?;
    let roots = read_roots(config)?;
    let provider = Arc::new(provider());
    let peers = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(peers)
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(|e| format!("tls-cert-file / tls-key-file: {e}"))?;
    let chain =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| e.to_string())?;
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(chain)))
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("tls-cert-file / tls-key-file: {e}"))?;
    Ok(Some(BusTls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
    }))
}

/// Waits for a TLS handshake on an accepted connection, up to [`HANDSHAKE_TIMEOUT`]; the error
/// says why it failed.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
) -> Result<TlsStream<TcpStream>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("failed: {e}")),
        Err(_) => Err("timed out".to_string()),
    }
}

/// This node's private key (`tls-key-file`).
fn read_key(config: &Config) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(&config.tls_key_file)
        .map_err(|e| format!("tls-key-file {}: {e}", config.tls_key_file))
}

/// The CAs of `tls-ca-cert-file`, that peers' certificates must chain to.
fn read_roots(config: &Config) -> Result<Arc<rustls::RootCertStore>, String> {
    let path = &config.tls_ca_cert_file;
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs("tls-ca-cert-file", path)? {
        roots
            .add(cert)
            .map_err(|e| format!("tls-ca-cert-file {path}: {e}"))?;
    }
    Ok(roots.into())
}

fn read_certs(setting: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("{setting} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{setting} {path}: no certificate"));
    }
    Ok(certs)
}

/// A bus peer's certificate must chain to the CA, but need not name the address the node was
/// given in `cluster create` (Redis Cluster's TLS bus checks the chain only, too): nodes are
/// often known by addresses a certificate does not list, such as a container's.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
