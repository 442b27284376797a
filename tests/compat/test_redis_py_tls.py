"""TLS clients against the server under test, with Redis's settings (--tls-port,
--tls-cert-file, --tls-key-file, --tls-ca-cert-file; tls-auth-clients defaults to yes) and
certificates made here with the openssl command: redis-py (RESP2 and RESP3, pipelines,
pub/sub) and redis-cli --tls are served when they present a certificate of the CA, and a
client with none is refused. The same file passes against redis-server built with TLS."""

import os
import shutil
import subprocess
import tempfile

import pytest
import redis

from servers import Server, free_port, server_under_test_cmd

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d):
    """A CA, a server certificate for localhost / 127.0.0.1 and a client certificate."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=Redraft test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, extensions in [
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "subjectAltName=DNS:client\nextendedKeyUsage=clientAuth\n"),
    ]:
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(extensions)
        openssl("req", "-new", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
                "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="redraft-tls-")
    make_certificates(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def server(certs):
    tls_port = free_port()
    srv = Server(server_under_test_cmd(), name="sut-tls", extra_args=[
        "--tls-port", str(tls_port),
        "--tls-cert-file", os.path.join(certs, "server.crt"),
        "--tls-key-file", os.path.join(certs, "server.key"),
        "--tls-ca-cert-file", os.path.join(certs, "ca.crt")])
    srv.start()
    srv.tls_port = tls_port
    yield srv
    srv.stop()


def tls_client(server, certs, protocol=2, with_certificate=True):
    extra = {}
    if with_certificate:
        extra = {"ssl_certfile": os.path.join(certs, "client.crt"),
                 "ssl_keyfile": os.path.join(certs, "client.key")}
    return redis.Redis(host="127.0.0.1", port=server.tls_port, ssl=True,
                       ssl_ca_certs=os.path.join(certs, "ca.crt"), protocol=protocol,
                       decode_responses=True, socket_timeout=10, **extra)


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_a_client_with_a_certificate_is_served(server, certs, protocol):
    r = tls_client(server, certs, protocol)
    assert r.set("tls:key", "value")
    assert r.get("tls:key") == "value"
    plain = redis.Redis(port=server.port, decode_responses=True)
    assert plain.get("tls:key") == "value"
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.rpush("tls:list", i)
    assert pipe.execute()[-1] >= 1000
    assert r.hset("tls:hash", mapping={"a": "1", "b": "2"}) >= 0
    assert r.hgetall("tls:hash") == {"a": "1", "b": "2"}
    with r.pipeline() as tx:
        tx.incr("tls:n").incr("tls:n")
        assert tx.execute()[-1] >= 2


def test_pub_sub_over_tls(server, certs):
    r = tls_client(server, certs)
    p = r.pubsub()
    p.subscribe("tls:channel")
    assert p.get_message(timeout=5)["type"] == "subscribe"
    assert redis.Redis(port=server.port).publish("tls:channel", "hello") == 1
    message = p.get_message(timeout=5)
    assert message["type"] == "message" and message["data"] == "hello"
    p.close()


def test_a_client_without_a_certificate_is_refused(server, certs):
    r = tls_client(server, certs, with_certificate=False)
    with pytest.raises(redis.ConnectionError):
        r.ping()


def test_redis_cli_over_tls(server, certs):
    cli = ["redis-cli", "--tls", "-p", str(server.tls_port),
           "--cacert", os.path.join(certs, "ca.crt"),
           "--cert", os.path.join(certs, "client.crt"),
           "--key", os.path.join(certs, "client.key")]
    out = subprocess.run(cli + ["set", "tls:cli", "42"], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "OK", out
    out = subprocess.run(cli + ["get", "tls:cli"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "42", out
