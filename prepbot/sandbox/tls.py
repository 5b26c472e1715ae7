"""TLS for the sandbox: a local CA (kept in the state folder) and a server cert for 127.0.0.1."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file with mode 0600, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    """The sandbox CA of this state folder; created (and written as ca.pem + ca.key) on first use.

    Reusing the CA across restarts keeps a client's `ca_bundle` valid for the same state folder.
    """
    cert_path, key_path = state_dir / CA_FILE, state_dir / CA_KEY_FILE
    if cert_path.exists() and key_path.exists():
        return trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
    ca = trustme.CA(organization_name="prepbot sandbox")
    _write_private(key_path, ca.private_key_pem.bytes())
    tmp = cert_path.with_name(cert_path.name + ".tmp")
    tmp.write_bytes(ca.cert_pem.bytes())
    os.replace(tmp, cert_path)
    return ca


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server SSLContext with a fresh leaf cert for IP 127.0.0.1 and "localhost"."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx
