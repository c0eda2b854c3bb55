"""The key folder: CURVE key pairs of this host's stages, and the client keys its binders accept.

Strategy: plain files in ZeroMQ's own certificate format (``zmq.auth``), so an
operator copies a public key between hosts with scp and reads it with cat::

    $SCADA_KEYS_DIR/                 (default $SCADA_DATA_DIR/keys, mode 0700)
        buffer.key                   a public key: safe to copy to other hosts
        buffer.key_secret            its key pair (mode 0600): never leaves this host
        gateway.key, gateway.key_secret, writer.key, ...
        allowed/poller_edge1.key     client keys the buffer and gateway accept

A binder serves with its stage's pair (``buffer``, ``gateway``); a
connecting process presents ``ZMQ_KEY_NAME``'s pair (default: its stage's
own) and checks the binder against ``buffer.key`` or ``gateway.key``.
No function here returns or prints a secret key except ``key_pair``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ALLOWED = "allowed"


def _auth() -> ModuleType:
    """pyzmq's certificate files, imported where keys are used: a process on ipc:// never needs them."""
    import zmq.auth

    return zmq.auth


class KeyFolderError(RuntimeError):
    """A key the configuration needs is missing or unreadable; the message says which and how to make it."""


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes = field(repr=False)  # never in a log line or a traceback's locals dump


@dataclass(frozen=True)
class KeyInfo:
    name: str
    public: str  # Z85 text
    has_secret: bool
    allowed: bool


def ensure_folder(folder: Path) -> Path:
    """The folder and its ``allowed/``, both only the service user may open."""
    for path in (folder, folder / ALLOWED):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.chmod(0o700)
    return folder


def create_pair(folder: Path, name: str) -> tuple[Path, Path]:
    """Make ``name.key`` and ``name.key_secret``; refuses to overwrite a pair (its clients would be cut off)."""
    if not name or "/" in name or name.startswith(".") or name == ALLOWED:
        raise KeyFolderError(f"not a key name: {name!r}")
    ensure_folder(folder)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if public.exists() or secret.exists():
        raise KeyFolderError(f"{name} already has keys in {folder}; remove them first to make new ones")
    old = os.umask(0o077)  # the secret file is never readable by others, not even for a moment
    try:
        made_public, made_secret = _auth().create_certificates(folder, name)
    finally:
        os.umask(old)
    Path(made_secret).chmod(0o600)
    Path(made_public).chmod(0o644)
    return Path(made_public), Path(made_secret)


def allow(folder: Path, public_file: Path, name: str | None = None) -> Path:
    """Copy a client's public key into ``allowed/`` (as ``name.key``); refuses a file holding a secret."""
    try:
        _public, secret = _auth().load_certificate(public_file)
    except (OSError, ValueError) as error:
        raise KeyFolderError(f"{public_file}: not a ZeroMQ public key file ({error})") from None
    if secret is not None:
        raise KeyFolderError(f"{public_file} holds a secret key: give the public .key file, the secret stays "
                             "on its host")
    ensure_folder(folder)
    stem = name or public_file.name.removesuffix(".key")
    target = folder / ALLOWED / f"{stem}.key"
    target.write_bytes(public_file.read_bytes())  # not shutil: it brings bz2 and lzma into every poller
    target.chmod(0o644)
    return target


def list_keys(folder: Path) -> list[KeyInfo]:
    """This host's keys and the allowed client keys, by name; public halves only."""
    found: list[KeyInfo] = []
    for sub, allowed in ((folder, False), (folder / ALLOWED, True)):
        for path in sorted(sub.glob("*.key")) if sub.is_dir() else []:
            try:
                public, _ = _auth().load_certificate(path)
            except (OSError, ValueError):
                continue
            has_secret = not allowed and path.with_name(path.name + "_secret").exists()
            found.append(KeyInfo(path.name.removesuffix(".key"), public.decode(), has_secret, allowed))
    return found


def key_pair(folder: Path, name: str) -> KeyPair:
    path = folder / f"{name}.key_secret"
    try:
        public, secret = _auth().load_certificate(path)
    except (OSError, ValueError):
        raise KeyFolderError(f"no key pair {path} (make it with: scada keys create {name})") from None
    if secret is None:
        raise KeyFolderError(f"{path} holds no secret key (make it with: scada keys create {name})")
    return KeyPair(public, secret)


def public_key(folder: Path, name: str) -> bytes:
    path = folder / f"{name}.key"
    try:
        public, _ = _auth().load_certificate(path)
    except (OSError, ValueError):
        raise KeyFolderError(f"no public key {path} (copy {name}.key from the host that runs the {name})") from None
    return public


def allowed_keys(folder: Path) -> set[bytes]:
    """The public keys (Z85) in ``allowed/``, read now."""
    return set(_auth().load_certificates(folder / ALLOWED)) if (folder / ALLOWED).is_dir() else set()
