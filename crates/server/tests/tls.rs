//! TLS clients (`--tls-port`), with certificates made for the test (rcgen): a client whose
//! certificate chains to the configured CA is served; one with no certificate, one signed by
//! another CA, and a plain-text client on the TLS port are not, unless `tls-auth-clients` is
//! `optional` or `no`; a TLS setup that cannot work stops the server at startup with a reason.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{TempDir, TestServer};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A certificate for `names`, signed by this CA, for a server or a client.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![purpose];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert, key)
    }
}

/// The server's files in a temp dir, and the CAs and client certificates the tests use.
struct Setup {
    dir: TempDir,
    ca: Ca,
    other_ca: Ca,
}

impl Setup {
    fn new() -> Setup {
        let dir = TempDir::new();
        let ca = Ca::new("Redraft test CA");
        let (server, server_key) = ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        std::fs::write(dir.0.join("server.crt"), server.pem()).unwrap();
        std::fs::write(dir.0.join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.0.join("ca.crt"), ca.cert.pem()).unwrap();
        Setup {
            dir,
            ca,
            other_ca: Ca::new("Another CA"),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }

    /// Starts a server with TLS on a free port; returns it and that port.
    fn start(&self, auth: &str) -> (TestServer, u16) {
        let tls_port = free_port();
        let server = TestServer::start_with(&[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &self.path("server.crt"),
            "--tls-key-file",
            &self.path("server.key"),
            "--tls-ca-cert-file",
            &self.path("ca.crt"),
            "--tls-auth-clients",
            auth,
        ]);
        (server, tls_port)
    }

    /// A TLS client that trusts the test CA, presenting a certificate from `issuer` if given.
    fn connector(&self, issuer: Option<&Ca>) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.cert.der().clone()).unwrap();
        let provider = Arc::new(server::tls::provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match issuer {
            Some(ca) => {
                let (cert, key) = ca.issue(&["client"], ExtendedKeyUsagePurpose::ClientAuth);
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
                builder
                    .with_client_auth_cert(vec![CertificateDer::from(cert.der().to_vec())], key)
                    .unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends `request` over TLS and returns what comes back before the server stops sending
/// (a reply is read until it ends in CRLF), or the error that ended the exchange.
async fn exchange(
    connector: &tokio_rustls::TlsConnector,
    port: u16,
    request: &[u8],
    reply_lines: usize,
) -> Result<String, std::io::Error> {
    let socket = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, socket).await?;
    stream.write_all(request).await?;
    let mut reply = Vec::new();
    let mut lines = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while lines < reply_lines {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::other("no reply within 10 s"))??;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // A CRLF may straddle two reads.
        let from = reply.len().saturating_sub(1);
        reply.extend_from_slice(&chunk[..n]);
        lines += reply[from..].windows(2).filter(|w| w == b"\r\n").count();
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

const SET_AND_GET: &[u8] =
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\ntls\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";

#[tokio::test]
async fn a_client_with_a_certificate_of_the_ca_is_served_and_others_are_refused() {
    let setup = Setup::new();
    let (server, tls_port) = setup.start("yes");

    let trusted = setup.connector(Some(&setup.ca));
    let reply = exchange(&trusted, tls_port, SET_AND_GET, 3).await.unwrap();
    assert_eq!(reply, "+OK\r\n$3\r\ntls\r\n");
    // The same keyspace as the plain port.
    let mut plain = server.client();
    let value: String = redis::cmd("GET").arg("k").query(&mut plain).unwrap();
    assert_eq!(value, "tls");

    for (what, connector) in [
        ("no certificate", setup.connector(None)),
        (
            "a certificate of another CA",
            setup.connector(Some(&setup.other_ca)),
        ),
    ] {
        let refused = exchange(&connector, tls_port, b"*1\r\n$4\r\nPING\r\n", 1).await;
        assert!(refused.is_err(), "a client with {what} got {refused:?}");
    }

    // Plain text on the TLS port is no TLS handshake: the server closes the connection.
    let mut raw = TcpStream::connect(("127.0.0.1", tls_port)).await.unwrap();
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok() && !String::from_utf8_lossy(&buf).contains("PONG"),
        "{read:?} {buf:?}"
    );

    // Many requests on one connection, pipelined, come back in order.
    let mut many = Vec::new();
    for _ in 0..500 {
        many.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
    }
    let reply = exchange(&trusted, tls_port, &many, 500).await.unwrap();
    let expected: String = (1..=500).map(|i| format!(":{i}\r\n")).collect();
    assert_eq!(reply, expected);
}

/// A reply larger than the socket's buffers is written in parts as the client reads; its last
/// part must not stay in the TLS session's buffer when the socket would block.
#[tokio::test]
async fn a_reply_larger_than_the_socket_buffers_arrives_whole() {
    let setup = Setup::new();
    let (server, tls_port) = setup.start("yes");
    let big = "x".repeat(16 << 20);
    let mut plain = server.client();
    let () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut plain)
        .unwrap();
    let trusted = setup.connector(Some(&setup.ca));
    let reply = exchange(&trusted, tls_port, b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n", 2)
        .await
        .unwrap();
    assert_eq!(reply.len(), big.len() + "$16777216\r\n\r\n".len());
    assert!(reply.starts_with("$16777216\r\nxxx") && reply.ends_with("xxx\r\n"));
}

#[tokio::test]
async fn tls_auth_clients_optional_and_no_serve_clients_without_a_certificate() {
    let setup = Setup::new();
    for auth in ["optional", "no"] {
        let (_server, tls_port) = setup.start(auth);
        let anonymous = setup.connector(None);
        let reply = exchange(&anonymous, tls_port, SET_AND_GET, 3)
            .await
            .unwrap();
        assert_eq!(reply, "+OK\r\n$3\r\ntls\r\n", "tls-auth-clients {auth}");
    }
    // `optional` still refuses a certificate it cannot verify.
    let (_server, tls_port) = setup.start("optional");
    let stranger = setup.connector(Some(&setup.other_ca));
    let refused = exchange(&stranger, tls_port, b"*1\r\n$4\r\nPING\r\n", 1).await;
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn a_tls_setup_that_cannot_work_stops_the_server_with_a_reason() {
    let setup = Setup::new();
    let port = free_port().to_string();
    let tls_port = free_port().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--tls-port", &tls_port], "tls-cert-file"),
        (&["--tls-cluster", "yes"], "tls-cluster needs"),
        (
            &[
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                &setup.path("server.crt"),
                "--tls-key-file",
                &setup.path("server.key"),
            ],
            "tls-ca-cert-file",
        ),
        (
            &[
                "--tls-port",
                &tls_port,
                "--tls-cert-file",
                &setup.path("missing.crt"),
                "--tls-key-file",
                &setup.path("server.key"),
                "--tls-auth-clients",
                "no",
            ],
            "missing.crt",
        ),
    ];
    for (flags, reason) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_redraft"))
            .args(["--port", &port, "--dir"])
            .arg(setup.dir.0.join("data"))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} started");
        assert!(stderr.contains(reason), "{flags:?}: {stderr}");
    }
}
