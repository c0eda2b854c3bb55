"""``scada keys``: the CURVE keys of this host's stages, and the client keys its binders accept.

    scada keys create buffer            a stage's key pair (buffer, gateway, writer, poller, tap, or any name)
    scada keys list                     names and public keys (never a secret)
    scada keys allow edge1.key          accept this client at the buffer and the gateway

The folder is SCADA_KEYS_DIR (default $SCADA_DATA_DIR/keys); see common/zmq_keys.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import zmq_keys
from common.settings import Settings
from common.zmq_keys import KeyFolderError


def keys_command(settings: Settings, args: argparse.Namespace) -> int:
    folder = settings.keys_dir
    try:
        if args.keys_command == "create":
            public, secret = zmq_keys.create_pair(folder, args.name)
            print(f"made {public} (public: copy it to the hosts that talk to this one) and {secret} "
                  "(secret, mode 0600: it stays here)")
            if args.allow:
                print(f"allowed: {zmq_keys.allow(folder, public)}")
        elif args.keys_command == "allow":
            print(f"allowed: {zmq_keys.allow(folder, Path(args.file), args.name)} (binders read it within a "
                  "connection attempt, no restart)")
        else:
            _list(folder)
    except KeyFolderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _list(folder: Path) -> None:
    print(f"key folder {folder}")
    for key in zmq_keys.list_keys(folder):
        kind = "allowed client" if key.allowed else ("key pair" if key.has_secret else "public key")
        print(f"  {kind:<15} {key.name:<20} {key.public}")


def add_parser(sub: Any, handler: Callable[[Settings, argparse.Namespace], int]) -> None:
    keys = sub.add_parser("keys", help="CURVE keys for tcp:// endpoints").add_subparsers(dest="keys_command",
                                                                                          required=True)
    p = keys.add_parser("create", help="make a stage's key pair in the key folder")
    p.add_argument("name", help="buffer or gateway for a binder; poller, writer, tap or a host's name for a client")
    p.add_argument("--allow", action="store_true", help="also accept it as a client here")
    p.set_defaults(func=handler)
    p = keys.add_parser("list", help="the keys in the key folder (public halves only)")
    p.set_defaults(func=handler)
    p = keys.add_parser("allow", help="accept a client's public key at this host's buffer and gateway")
    p.add_argument("file", help="the client's NAME.key (public)")
    p.add_argument("--name", help="store it as NAME.key (default: the file's name)")
    p.set_defaults(func=handler)
