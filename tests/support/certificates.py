"""Throwaway certificates for the TLS tests, made with trustme: a test CA and a
server certificate for 127.0.0.1 and localhost, as PEM files in a temp dir."""
import ssl
from pathlib import Path
from typing import NamedTuple, Optional

import trustme

from support.clients import LineClient


class TestPki(NamedTuple):
    ca: trustme.CA
    ca_file: str  # the CA's certificate: what a client trusts
    cert_file: str  # the server's certificate chain
    key_file: str  # the server's private key


def make_pki(folder: Path, prefix: str = "") -> TestPki:
    """A new CA and a server certificate signed by it, written into `folder`."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = (str(folder / f"{prefix}{name}")
                                    for name in ("testca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(ca_file)
    server.private_key_pem.write_to_path(key_file)
    server.cert_chain_pems[0].write_to_path(cert_file)
    for blob in server.cert_chain_pems[1:]:
        blob.write_to_path(cert_file, append=True)
    return TestPki(ca, ca_file, cert_file, key_file)


def tls_line_client(port: int, ca_file: str, name: Optional[str] = None) -> LineClient:
    """A `LineClient` over TLS to 127.0.0.1:`port`, trusting `ca_file`; with a
    name, joined (its welcome read)."""
    client = LineClient(("127.0.0.1", port))
    context = ssl.create_default_context(cafile=ca_file)
    client.sock = context.wrap_socket(client.sock, server_hostname="localhost")
    if name is not None:
        client.expect("*** Hello! Please enter your name.")
        client.send(name)
        client.expect_prefix(f"*** Welcome, {name}!")
    return client
