"""A throwaway certificate authority for the local stack, so everything local speaks HTTPS.

The drop bucket's policy denies requests without TLS and the functions fetch results over https only, as on
AWS. Locally the AWS emulator and the AKOOL emulator present a certificate for 127.0.0.1/localhost signed by a
CA made here; the functions trust it through the standard CA-bundle variables (AWS_CA_BUNDLE,
REQUESTS_CA_BUNDLE, SSL_CERT_FILE), the way a machine trusts a corporate CA. Nothing here is a secret worth
keeping: the key lives in the stack's state folder and is never used outside 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# What the leaf certificate names: the loopback addresses the servers bind, and the names clients may use.
_DNS_NAMES = ("localhost",)
_IP_NAMES = ("127.0.0.1", "::1")
_VALID_DAYS = 30


@dataclass(frozen=True)
class LocalTls:
    ca_cert: Path  # the CA alone
    server_cert: Path  # leaf + CA chain, what a server presents
    server_key: Path
    bundle: Path  # public roots + the local CA: what clients trust

    @property
    def client_env(self) -> dict[str, str]:
        """Environment that makes boto3, requests and the ssl module trust the local CA."""
        return {var: str(self.bundle) for var in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}


def ensure_local_tls(folder: Path) -> LocalTls:
    """The CA and server certificate in `folder`, made on first use and remade when close to expiry."""
    folder.mkdir(parents=True, exist_ok=True)
    tls = LocalTls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem", folder / "bundle.pem")
    if all(p.exists() for p in (tls.ca_cert, tls.server_cert, tls.server_key, tls.bundle)) and _fresh(
        tls.server_cert
    ):
        return tls
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dropswap local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in _DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in _IP_NAMES]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dropswap local stack")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    tls.ca_cert.write_bytes(ca_pem)
    tls.server_cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca_pem)
    tls.server_key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    tls.server_key.chmod(0o600)
    tls.bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca_pem)
    return tls


def _fresh(cert: Path) -> bool:
    leaf = x509.load_pem_x509_certificates(cert.read_bytes())[0]
    return leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=1)
