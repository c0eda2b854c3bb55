"""The types a setting can have, and how a raw value becomes one.

Strategy: one converter a type, each taking either a string from the environment
or ``.env`` or a Python value (a keyword argument, a default) and returning the
typed value or raising ValueError with pydantic's wording. :func:`converter_for`
picks the converter for a field's type hint once, when a settings class is
defined (:mod:`common.settings_loader`), and refuses a type it cannot read.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class SecretStr:
    """A password or token: printed as stars, read with :meth:`get_secret_value`."""

    __slots__ = ("_secret",)

    def __init__(self, value: str) -> None:
        self._secret = value

    def get_secret_value(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __str__(self) -> str:
        return "**********" if self._secret else ""

    def __len__(self) -> int:
        return len(self._secret)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(self._secret)


# -- converters: raw value (string from the environment, or a Python value) -> typed value -------------------
def _to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError("Input should be a valid integer, unable to parse string as an integer")


def _to_float(value: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError("Input should be a valid number, unable to parse string as a number")
    if not math.isfinite(number):
        raise ValueError("Input should be a finite number")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("Input should be a valid boolean, unable to interpret input (true/false, 1/0, yes/no, on/off)")


def _to_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value.strip():
        return Path(value.strip())
    raise ValueError("Input should be a path, not empty" if isinstance(value, str) else "Input should be a valid path")


def _to_secret(value: Any) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return SecretStr(value)
    raise ValueError("Input should be a valid string")


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {str: _to_str, int: _to_int, float: _to_float, bool: _to_bool,
                                               Path: _to_path, SecretStr: _to_secret}


def _literal(choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        for choice in choices:
            if value == choice or (isinstance(value, str) and value.strip() == str(choice)):
                return choice
        raise ValueError("Input should be " + " or ".join(repr(c) for c in choices))
    return convert


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def maybe(value: Any) -> Any:
        return None if value is None or (isinstance(value, str) and not value.strip()) else convert(value)
    return maybe


def converter_for(owner: str, name: str, hint: Any) -> Callable[[Any], Any]:
    """The converter for a field's type hint; TypeError for a type the loader does not read."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        return _optional(converter_for(owner, name, inner))
    if origin is typing.Literal:
        return _literal(args)
    if hint in _CONVERTERS:
        return _CONVERTERS[hint]
    raise TypeError(f"{owner}.{name}: type {hint!r} is not one the settings loader reads "
                    "(str, int, float, bool, Path, SecretStr, Literal, X | None); see common/settings_loader.py")
