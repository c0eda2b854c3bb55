"""A settings loader with nothing but the standard library in it.

Strategy: :class:`EnvSettings` reads the type hints of a subclass's fields,
declared the pydantic-settings way::

    buffer_max_size: int = Field(default=100_000, gt=0, description="...")

and fills each from, highest first: a keyword argument, the environment
(``BUFFER_MAX_SIZE``, any case), a ``.env`` file, the default. Every value,
defaults included, is converted to the field's type and checked against its
bounds; every problem is collected, and :class:`SettingsError` names each
variable, the value given (never a secret's) and where it came from. The
decorators ``field_validator`` and ``model_validator`` work as pydantic's do
(``mode="before"`` sees the raw value; a model validator runs once every field
is good). pydantic and pydantic-settings cost a process ~20 MB and half its
start; only the gateway, which needs them for FastAPI, pays that.

Types: ``str``, ``int``, ``float`` (finite), ``bool`` (true/false, 1/0,
yes/no, on/off), ``Path``, :class:`SecretStr`, ``Literal[...]`` and any of
them ``| None`` (an empty value is then None). Anything else is refused when
the class is defined, so a new field of an unsupported type fails at once.
The types and their converters are in :mod:`common.settings_types`.
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from common.settings_types import SecretStr, converter_for

_UNSET: Any = object()


class FieldInfo:
    """What ``Field(...)`` declares: the default and the bounds of one field."""

    __slots__ = ("default", "default_factory", "description", "ge", "gt", "le", "lt", "max_length", "min_length")

    def __init__(self, default: Any = _UNSET, *, default_factory: Callable[[], Any] | None = None,
                 description: str = "", ge: float | None = None, gt: float | None = None,
                 le: float | None = None, lt: float | None = None, min_length: int | None = None,
                 max_length: int | None = None) -> None:
        self.default, self.default_factory, self.description = default, default_factory, description
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt
        self.min_length, self.max_length = min_length, max_length

    def check(self, value: Any) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            for bound, holds, words in ((self.gt, value > (self.gt or 0), "greater than"),
                                        (self.ge, value >= (self.ge or 0), "greater than or equal to"),
                                        (self.lt, value < (self.lt or 0), "less than"),
                                        (self.le, value <= (self.le or 0), "less than or equal to")):
                if bound is not None and not holds:
                    return f"Input should be {words} {bound}"
        if isinstance(value, str | SecretStr):
            if self.min_length is not None and len(value) < self.min_length:
                return f"String should have at least {self.min_length} characters"
            if self.max_length is not None and len(value) > self.max_length:
                return f"String should have at most {self.max_length} characters"
        return None


def Field(default: Any = _UNSET, **constraints: Any) -> Any:  # pydantic's spelling, kept
    """A field's default and bounds (``ge gt le lt min_length max_length description default_factory``)."""
    return FieldInfo(default, **constraints)


def SettingsConfigDict(**config: Any) -> dict[str, Any]:  # pydantic-settings' spelling, kept
    """The class's ``model_config``: ``env_file`` and ``env_file_encoding`` are read; the rest is ignored."""
    return config


class _Validator:
    __slots__ = ("fields", "function", "mode")

    def __init__(self, function: Any, fields: tuple[str, ...], mode: str) -> None:
        if mode not in ("before", "after"):
            raise TypeError(f"validator mode {mode!r}: 'before' or 'after'")
        if fields and not isinstance(function, classmethod | staticmethod):
            function = classmethod(function)  # pydantic makes a field validator a classmethod too
        self.function, self.fields, self.mode = function, fields, mode


def field_validator(*fields: str, mode: str = "after") -> Callable[[Any], Any]:
    """``@field_validator("a", "b") @classmethod def f(cls, value)``: returns the value, or raises ValueError."""
    return lambda function: _Validator(function, fields, mode)


def model_validator(*, mode: str = "after") -> Callable[[Any], Any]:
    """``@model_validator(mode="after") def f(self) -> Self``: runs once every field is good."""
    if mode != "after":
        raise TypeError("only model_validator(mode='after') is supported")
    return lambda function: _Validator(function, (), mode)


class Problem(typing.NamedTuple):
    variable: str  # the environment name, e.g. DATA_QUEUE_SIZE; "" for the settings as a whole
    given: str  # repr of the value given, "" for a secret or none
    reason: str
    origin: str  # "" (argument, environment or default) or ".env path"


class SettingsError(ValueError):
    """Every bad value at once: ``  DATA_QUEUE_SIZE='0': Input should be greater than 0``, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = ["settings (environment or .env) refused:"]
        for p in self.problems:
            given = f"={p.given}" if p.given else ""
            origin = f" (in {p.origin})" if p.origin else ""
            lines.append(f"  {p.variable or 'settings'}{given}: {p.reason}{origin}")
        return "\n".join(lines)


# -- .env -----------------------------------------------------------------------------------------------------
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_EXPAND = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def read_dotenv(path: Path, encoding: str = "utf-8") -> dict[str, str]:
    """``KEY=value`` lines the way python-dotenv reads them: ``export``, quotes, ``# comments``, ``${VAR}``.

    Keys are lower-cased (names are not case-sensitive). A missing file is an empty dict; an unreadable one
    raises :class:`SettingsError` naming it.
    """
    try:
        text = path.read_text(encoding=encoding)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError([Problem("", "", f"cannot read {path}: {error}", "")]) from None
    found: dict[str, str] = {}
    for key, value in _dotenv_pairs(text):
        found[key.lower()] = _EXPAND.sub(
            lambda m: os.environ.get(m.group(1), found.get(m.group(1).lower(), m.group(2) or "")), value
        ) if value is not None else ""
    return found


def _dotenv_pairs(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue  # a blank line, a comment, or a line without '=' (python-dotenv skips it too)
        key, value = match.group(1), match.group(2)
        if value[:1] in ("'", '"') and len(value) >= 2 and value[0] in value[1:]:
            quote = value[0]
            value = value[1:value.index(quote, 1)]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip() if not value.startswith("#") else ""
        yield key, value


# -- the base class -------------------------------------------------------------------------------------------
class _Spec(typing.NamedTuple):
    convert: Callable[[Any], Any]
    info: FieldInfo
    secret: bool


class EnvSettings:
    """Subclass it and declare fields; ``Cls()`` reads them, ``Cls(name=value)`` overrides one.

    ``Cls(_env_file=None)`` reads no ``.env``; ``Cls(_env_file=path)`` reads that file instead.
    Raises :class:`SettingsError` listing every bad value; an unknown keyword is a ``TypeError``.
    """

    model_config: ClassVar[dict[str, Any]] = {}
    _fields: ClassVar[dict[str, _Spec]] = {}
    _before: ClassVar[dict[str, list[Any]]] = {}
    _after: ClassVar[dict[str, list[Any]]] = {}
    _model_checks: ClassVar[list[Any]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, _Spec] = {}
        for name, hint in typing.get_type_hints(cls).items():
            if typing.get_origin(hint) is ClassVar or name.startswith("_"):
                continue
            declared = cls.__dict__.get(name, _UNSET)
            if declared is _UNSET:
                declared = next((base._fields[name].info for base in cls.__mro__[1:]
                                 if issubclass(base, EnvSettings) and name in base._fields), FieldInfo())
            info = declared if isinstance(declared, FieldInfo) else FieldInfo(declared)
            secret = "password" in name or "token" in name or SecretStr in (hint, *typing.get_args(hint))
            fields[name] = _Spec(converter_for(cls.__name__, name, hint), info, secret)
            if name in cls.__dict__:
                delattr(cls, name)  # the instance's value, never the class's FieldInfo, answers `obj.name`
        before: dict[str, list[Any]] = {}
        after: dict[str, list[Any]] = {}
        checks: list[Any] = []
        for klass in reversed(cls.__mro__):
            for attribute in list(vars(klass).values()):
                if not isinstance(attribute, _Validator):
                    continue
                if not attribute.fields:
                    checks.append(attribute.function)
                for field in attribute.fields:
                    if field not in fields:
                        raise TypeError(f"{cls.__name__}: a validator names {field!r}, which is not a field")
                    (before if attribute.mode == "before" else after).setdefault(field, []).append(attribute.function)
        cls._fields, cls._before, cls._after, cls._model_checks = fields, before, after, checks

    def __init__(self, _env_file: str | Path | None = _UNSET, **values: Any) -> None:
        unknown = sorted(set(values) - set(self._fields))
        if unknown:
            raise TypeError(f"{type(self).__name__}() has no setting {', '.join(unknown)}")
        if _env_file is _UNSET:
            _env_file = self.model_config.get("env_file")
        dotenv_path = Path(_env_file) if _env_file is not None else None
        dotenv = read_dotenv(dotenv_path, self.model_config.get("env_file_encoding", "utf-8")) if dotenv_path else {}
        environ = {key.lower(): value for key, value in os.environ.items()}
        problems: list[Problem] = []
        for name, spec in self._fields.items():
            origin = ""
            if name in values:
                raw = values[name]
            elif name in environ:
                raw = environ[name]
            elif name in dotenv:
                raw, origin = dotenv[name], str(dotenv_path)
            elif spec.info.default_factory is not None:
                raw = spec.info.default_factory()
            elif spec.info.default is not _UNSET:
                raw = spec.info.default
            else:
                problems.append(Problem(name.upper(), "", "Field required", ""))
                continue
            given = "" if spec.secret else repr(raw)
            try:
                setattr(self, name, self._read(name, spec, raw))
            except ValueError as error:
                problems.append(Problem(name.upper(), given, str(error), origin))
        if problems:
            raise SettingsError(problems)
        for check in self._model_checks:
            try:
                check(self)
            except ValueError as error:
                problems.append(Problem("", "", str(error), ""))
        if problems:
            raise SettingsError(problems)

    def _read(self, name: str, spec: _Spec, raw: Any) -> Any:
        cls = type(self)
        for validator in self._before.get(name, ()):
            raw = validator.__get__(None, cls)(raw)
        value = spec.convert(raw)
        reason = spec.info.check(value)
        if reason is not None:
            raise ValueError(reason)
        for validator in self._after.get(name, ()):
            value = validator.__get__(None, cls)(value)
        return value

    def model_dump(self) -> dict[str, Any]:
        """Every field and its value (secrets as :class:`SecretStr`)."""
        return {name: getattr(self, name) for name in self._fields}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.model_dump().items())})"
