"""PayPal's webhook signatures: SHA256withRSA over `transmission_id|time|webhook_id|crc32(body)`
with a certificate at PAYPAL-CERT-URL, and the loopback-only delivery of a local simulator."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from simulators.base import Response
from simulators.paypal.answers import invalid, json_answer, now, public, transaction_id

CERT_ID = "CERT-360caa42-fca2a594-sim0001"
AUTH_ALGO = "SHA256withRSA"


def signed_event(
    key: rsa.RSAPrivateKey,
    cert_url: str,
    event_type: str,
    resource: dict[str, Any],
    webhook_id: str,
) -> tuple[bytes, dict[str, str]]:
    """The webhook PayPal sends about `resource` to `webhook_id`: (body, headers)."""
    kind = event_type.split(".")[1].lower() if event_type.count(".") >= 2 else "payment"
    if event_type.endswith(".REFUNDED"):
        kind = "refund"
    event = {
        "id": "WH-" + transaction_id() + "-" + transaction_id(),
        "event_version": "1.0",
        "create_time": now(),
        "resource_type": kind,
        "event_type": event_type,
        "summary": f"{kind.capitalize()} event {event_type}",
        "resource": public(resource),
        "links": [],
    }
    body = serialise(event)
    transmission_id = str(uuid.uuid1())
    transmission_time = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}"
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers = {
        "Content-Type": "application/json",
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": AUTH_ALGO,
    }
    return body, headers


def verification(key: rsa.RSAPrivateKey, cert_url: str, body: dict[str, Any]) -> Response:
    """PayPal's answer to verify-webhook-signature: SUCCESS when `key` signed that event."""
    required = (
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
    )
    for name in required:
        if not isinstance(body.get(name), str) or not body[name]:
            return invalid(name, "This field required.")
    if not isinstance(body.get("webhook_event"), dict):
        return invalid("webhook_event", "This field required.")
    status = "FAILURE"
    if body["cert_url"] == cert_url and body["auth_algo"] == AUTH_ALGO:
        crc = zlib.crc32(serialise(body["webhook_event"]))
        message = (
            f"{body['transmission_id']}|{body['transmission_time']}|{body['webhook_id']}|{crc}"
        )
        try:
            signature = base64.b64decode(body["transmission_sig"], validate=True)
            key.public_key().verify(
                signature, message.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            status = "SUCCESS"
        except (binascii.Error, InvalidSignature):
            pass
    return json_answer(200, {"verification_status": status})


def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST one webhook; its HTTP status, or 0 when it did not arrive.

    One attempt: PayPal retries failed deliveries for days, which a demo does not need. A local
    simulator only ever calls this machine.
    """
    status = 0
    if is_loopback(url):
        with contextlib.suppress(requests.RequestException):
            status = requests.post(url, data=body, headers=headers, timeout=10).status_code
    return status


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def serialise(event: dict[str, Any]) -> bytes:
    # PayPal checks the CRC32 of the event as it re-serialises it: compact, in key order.
    return json.dumps(event, separators=(",", ":")).encode()


def self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sim")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
