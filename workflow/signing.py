"""Ed25519 keys in the C2SP signed-note formats, and signed notes (https://c2sp.org/signed-note).

One text line is a whole key, so it fits an environment variable, a mounted secret or a witness's file:

- signer key (secret): ``PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 || 32-byte seed)>``
- verifier key (public): ``<name>+<key id>+<base64(0x01 || 32-byte public key)>``

with key id = the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key). These are the formats of Go's
``golang.org/x/mod/sumdb/note`` (used by Certificate Transparency's and Sigstore's witnesses), so an outsider's
tools read them. The writer's key signs the hash chain (workflow.chain) and checkpoints; it lives outside the
database: ``JEJAK_SIGNING_KEY`` or the file ``JEJAK_SIGNING_KEY_FILE`` names, never a table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from functools import cached_property

from typing import TYPE_CHECKING

from workflow.errors import InvalidField

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
# cryptography itself is imported when a key is used: a command run without one does not load OpenSSL's bindings

SIGNING_KEY_VARIABLE = "JEJAK_SIGNING_KEY"
SIGNING_KEY_FILE_VARIABLE = "JEJAK_SIGNING_KEY_FILE"
_ED25519 = b"\x01"
_SIGNER_FORMAT = "PRIVATE+KEY+NAME+KEYID+BASE64, as written by `jejak keygen`"
_VERIFIER_FORMAT = "NAME+KEYID+BASE64, as written by `jejak keygen` (the .pub file)"
_DASH = "\u2014 "  # a signature line begins with an em dash and a space


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _check_name(name: str, what: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise InvalidField(what, f"bad key name {name!r}", allowed="printable text without spaces or '+'")
    return name


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str, what: str = "verifier key") -> VerifierKey:
        parts = text.strip().split("+", 2)  # base64 has '+' of its own
        try:
            name, key_hex, encoded = parts
            raw = base64.b64decode(encoded, validate=True)
            key_id = bytes.fromhex(key_hex)
        except (ValueError, binascii.Error):
            raise InvalidField(what, f"cannot read {text.strip()[:60]!r}", allowed=_VERIFIER_FORMAT) from None
        if len(raw) != 33 or raw[:1] != _ED25519 or _key_id(_check_name(name, what), raw[1:]) != key_id:
            raise InvalidField(what, f"{name!r} is not an Ed25519 key with its own key id", allowed=_VERIFIER_FORMAT)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        return cls(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))

    def verify(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature

        try:
            self.public.verify(signature, message)
            return True
        except InvalidSignature:
            return False

    def __str__(self) -> str:
        raw = self.public.public_bytes_raw()
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(_ED25519 + raw).decode()}"


@dataclass(frozen=True)
class SignerKey:
    name: str
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(_check_name(name, "--name"), Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str, what: str = SIGNING_KEY_VARIABLE) -> SignerKey:
        parts = text.strip().split("+", 4)
        try:
            private, key, name, key_hex, encoded = parts
            raw = base64.b64decode(encoded, validate=True)
            key_id = bytes.fromhex(key_hex)
        except (ValueError, binascii.Error):
            raise InvalidField(what, "cannot read the key", allowed=_SIGNER_FORMAT) from None
        if (private, key) != ("PRIVATE", "KEY") or len(raw) != 33 or raw[:1] != _ED25519:
            raise InvalidField(what, "not an Ed25519 signer key", allowed=_SIGNER_FORMAT)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        signer = cls(_check_name(name, what), Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id != key_id:
            raise InvalidField(what, f"key id {key_hex} does not belong to this key", allowed=_SIGNER_FORMAT)
        return signer

    @cached_property  # deriving the public key is an Ed25519 scalar multiplication: once per key, not per write
    def verifier(self) -> VerifierKey:
        public = self.private.public_key()
        return VerifierKey(self.name, _key_id(self.name, public.public_bytes_raw()), public)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    def __str__(self) -> str:
        seed = self.private.private_bytes_raw()
        return (f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+"
                f"{base64.b64encode(_ED25519 + seed).decode()}")


def read_key_file(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not text"
        raise InvalidField(what, f"cannot read {path!r} ({reason})") from None
    if not text:
        raise InvalidField(what, f"{path!r} is empty")
    return text


def configured_signer(environ=os.environ) -> SignerKey | None:
    """The writer's key: ``JEJAK_SIGNING_KEY``, or the file ``JEJAK_SIGNING_KEY_FILE`` names; None without one
    (the chain is then kept unsigned, and verify says so)."""
    value, path = environ.get(SIGNING_KEY_VARIABLE), environ.get(SIGNING_KEY_FILE_VARIABLE)
    if value and path:
        raise InvalidField(SIGNING_KEY_FILE_VARIABLE, f"both it and {SIGNING_KEY_VARIABLE} are set",
                           allowed="one of the two")
    if path:
        return SignerKey.parse(read_key_file(path, SIGNING_KEY_FILE_VARIABLE), SIGNING_KEY_FILE_VARIABLE)
    return SignerKey.parse(value) if value else None


# --- signed notes ---------------------------------------------------------------------------------------------

def sign_note(text: str, signer: SignerKey) -> str:
    """A note: the text (ending in a newline), a blank line, one signature line."""
    if not text.endswith("\n"):
        raise ValueError("a note's text ends with a newline")
    return text + "\n" + signature_line(text, signer)


def signature_line(text: str, signer: SignerKey) -> str:
    signature = signer.verifier.key_id + signer.sign(text.encode())
    return f"{_DASH}{signer.name} {base64.b64encode(signature).decode()}\n"


def split_note(note: str, what: str = "note") -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """The note's text and its signature lines as (name, key id, signature)."""
    text, separator, block = note.rpartition("\n\n")
    if not separator or not block.endswith("\n"):
        raise InvalidField(what, "not a signed note", allowed="text, a blank line, then '\u2014 NAME SIGNATURE' lines")
    signatures = []
    for line in block[:-1].split("\n"):
        name, _, encoded = line.removeprefix(_DASH).partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raw = b""
        if not line.startswith(_DASH) or len(raw) < 5:
            raise InvalidField(what, f"cannot read the signature line {line[:60]!r}")
        signatures.append((name, raw[:4], raw[4:]))
    return text + "\n", signatures


def verified_signers(note: str, keys: list[VerifierKey], what: str = "note") -> tuple[str, list[str]]:
    """The note's text and the names of the given keys whose signature on it is valid (a signature by an
    unknown key, or a forged one, counts for nothing)."""
    text, signatures = split_note(note, what)
    valid = []
    for name, key_id, signature in signatures:
        for key in keys:
            if key.name == name and key.key_id == key_id and key.verify(signature, text.encode()):
                if name not in valid:
                    valid.append(name)
    return text, valid
