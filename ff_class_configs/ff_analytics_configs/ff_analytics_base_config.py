"""Shared machinery of the ``FF*ConfigDTO`` dataclasses: typed fields, validation, dict round trip."""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import math
import os
import typing
from enum import Enum
from typing import Any

__all__ = ["FFConfigError", "FFConfigBase", "FFFieldCheck", "field_kinds"]

# While set, a config's __post_init__ does not validate (load_config / from_dict assemble the nested
# DTOs first and validate once, at the end, so that unknown keys and bad values of every section are
# reported together in one error naming each field path).
DEFER_VALIDATION: contextvars.ContextVar[bool] = contextvars.ContextVar("ff_defer_validation", default=False)


class FFConfigError(ValueError):
    """One error for a whole configuration: ``errors`` lists every bad field as ``"path: why"``."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        n = len(self.errors)
        super().__init__(f"{n} invalid configuration field{'s' if n != 1 else ''}: " + "; ".join(self.errors))

    def __reduce__(self) -> tuple[Any, ...]:  # keep .errors intact across pickling (multiprocessing)
        return (type(self), (self.errors,))


_KIND_CACHE: dict[type, dict[str, Any]] = {}


def _kind_of(hint: Any) -> Any:
    """``"bool" | "int" | "float" | "str" | "list[str]" | "float?" | <nested config class>``."""
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float:
        return "float"
    if hint is str:
        return "str"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is list and args == (str,):
        return "list[str]"
    if args and type(None) in args and len(args) == 2:
        inner = next(a for a in args if a is not type(None))
        if inner is float:
            return "float?"
        if inner is int:
            return "int?"
    if isinstance(hint, type) and issubclass(hint, FFConfigBase):
        return hint
    raise TypeError(f"unsupported config field type {hint!r}")


def field_kinds(cls: type) -> dict[str, Any]:
    """Field name -> kind for a config dataclass (cached)."""
    kinds = _KIND_CACHE.get(cls)
    if kinds is None:
        hints = typing.get_type_hints(cls)
        kinds = {f.name: _kind_of(hints[f.name]) for f in dataclasses.fields(cls)}
        _KIND_CACHE[cls] = kinds
    return kinds


_KIND_WORDS = {
    "bool": "a boolean (true/false)",
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "list[str]": "a list of strings",
    "float?": "a number or null",
    "int?": "an integer or null",
}


def _type_ok(kind: Any, v: Any) -> bool:
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if kind == "str":
        return isinstance(v, str)
    if kind == "list[str]":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if kind == "float?":
        return v is None or _type_ok("float", v)
    if kind == "int?":
        return v is None or _type_ok("int", v)
    return isinstance(v, kind)


def _describe(v: Any) -> str:
    text = repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(v).__name__} {text}"


class FFFieldCheck:
    """Collects ``"<prefix><field>: why"`` messages; rules skip fields whose type is already wrong."""

    def __init__(self, obj: Any, prefix: str, errors: list[str], bad: set[str]) -> None:
        self.obj = obj
        self.prefix = prefix
        self.errors = errors
        self.bad = bad

    def ok(self, *names: str) -> bool:
        return not any(n in self.bad for n in names)

    def get(self, name: str) -> Any:
        return getattr(self.obj, name)

    def err(self, name: str, why: str) -> None:
        self.errors.append(f"{self.prefix}{name}: {why}")
        self.bad.add(name)

    def at_least(self, name: str, lo: float) -> None:
        v = self.get(name)
        if self.ok(name) and v is not None and v < lo:
            self.err(name, f"must be >= {lo}, got {v!r}")

    def positive(self, name: str) -> None:
        v = self.get(name)
        if self.ok(name) and v is not None and not v > 0:
            self.err(name, f"must be > 0, got {v!r}")

    def between(self, name: str, lo: float, hi: float, *, lo_open: bool = False) -> None:
        v = self.get(name)
        if not self.ok(name) or v is None:
            return
        if (v <= lo if lo_open else v < lo) or v > hi:
            left = "(" if lo_open else "["
            self.err(name, f"must be in {left}{lo}, {hi}], got {v!r}")

    def choice(self, name: str, allowed: typing.Iterable[str]) -> None:
        v = self.get(name)
        allowed = list(allowed)
        if self.ok(name) and v not in allowed:
            self.err(name, f"unknown value {v!r}; expected one of {', '.join(allowed)}")

    def each_choice(self, name: str, allowed: typing.Iterable[str], *, unique: bool = True) -> None:
        if not self.ok(name):
            return
        allowed = list(allowed)
        items = self.get(name)
        for i, v in enumerate(items):
            if v not in allowed:
                self.err(f"{name}[{i}]", f"unknown value {v!r}; expected one of {', '.join(allowed)}")
        if unique and len(set(items)) != len(items):
            self.err(name, f"duplicate entries in {items!r}")


class FFConfigBase:
    """Mixin for config dataclasses: ``validate``, ``raise_if_invalid``, ``to_dict``, ``from_dict``."""

    def _normalize(self) -> None:
        """Enum members -> their values, ``os.PathLike`` -> ``str``, tuples -> lists (called in __post_init__)."""
        for name in field_kinds(type(self)):
            v = getattr(self, name)
            if isinstance(v, Enum):
                object.__setattr__(self, name, v.value)
            elif isinstance(v, os.PathLike):
                object.__setattr__(self, name, os.fspath(v))
            elif isinstance(v, tuple):
                object.__setattr__(self, name, [x.value if isinstance(x, Enum) else x for x in v])
            elif isinstance(v, list) and any(isinstance(x, Enum) for x in v):
                object.__setattr__(self, name, [x.value if isinstance(x, Enum) else x for x in v])

    def __post_init__(self) -> None:
        self._finish_construction([])

    def _finish_construction(self, errors: list[str]) -> None:
        """Normalize, then raise one :class:`FFConfigError` listing ``errors`` and every problem of
        :meth:`validate` (nested sections included); a config cannot be constructed invalid.

        Skipped while ``DEFER_VALIDATION`` is set: ``_build`` (``from_dict``, ``load_config``) validates
        the assembled whole once, at the end.
        """
        self._normalize()
        if DEFER_VALIDATION.get():
            if errors:  # pragma: no cover - _build collects these itself when deferring
                raise FFConfigError(errors)
            return
        errors = [*errors, *self.validate()]
        if errors:
            raise FFConfigError(errors)

    # -- validation -------------------------------------------------------------------------------
    def validate(self, prefix: str = "") -> list[str]:
        """Every problem as ``"field.path: why"`` (empty list = valid); ``prefix`` is prepended to paths.

        Construction already validates; this is for objects mutated after construction.
        """
        errors: list[str] = []
        bad: set[str] = set()
        for name, kind in field_kinds(type(self)).items():
            v = getattr(self, name)
            if isinstance(kind, type):
                if isinstance(v, kind):
                    errors.extend(v.validate(f"{prefix}{name}."))
                else:
                    errors.append(f"{prefix}{name}: expected {kind.__name__} (or a dict), got {_describe(v)}")
                    bad.add(name)
            elif not _type_ok(kind, v):
                errors.append(f"{prefix}{name}: expected {_KIND_WORDS[kind]}, got {_describe(v)}")
                bad.add(name)
        self._check(FFFieldCheck(self, prefix, errors, bad))
        return errors

    def _check(self, c: FFFieldCheck) -> None:
        """Value rules of the subclass (types are already checked)."""

    def raise_if_invalid(self) -> None:
        """Raise one :class:`FFConfigError` listing every invalid field."""
        errors = self.validate()
        if errors:
            raise FFConfigError(errors)

    # -- dict round trip ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (nested configs as dicts, lists copied)."""
        out: dict[str, Any] = {}
        for name, kind in field_kinds(type(self)).items():
            v = getattr(self, name)
            if isinstance(kind, type) and isinstance(v, FFConfigBase):
                out[name] = v.to_dict()
            elif isinstance(v, list):
                out[name] = list(v)
            else:
                out[name] = v
        return out

    @classmethod
    def _build(cls, data: Any, path: str, errors: list[str]) -> Any:
        """Instance from ``data``, appending unknown-key / shape problems to ``errors`` (no validation)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            errors.append(f"{path.rstrip('.') or cls.__name__}: expected an object (dict), got {_describe(data)}")
            return cls()
        kinds = field_kinds(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in kinds:
                close = difflib.get_close_matches(str(key), list(kinds), n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"not a field of {cls.__name__}"
                errors.append(f"{path}{key}: unknown key ({hint})")
                continue
            kind = kinds[key]
            if isinstance(kind, type):
                kwargs[key] = kind._build(value, f"{path}{key}.", errors)
            elif kind in ("float", "float?") and isinstance(value, int) and not isinstance(value, bool):
                kwargs[key] = float(value)  # JSON writes 1.0 as 1 in some tools; keep the field a float
            elif isinstance(value, list):
                kwargs[key] = list(value)
            else:
                kwargs[key] = value
        token = DEFER_VALIDATION.set(True)
        try:
            return cls(**kwargs)
        finally:
            DEFER_VALIDATION.reset(token)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; unknown keys, non-dict sections and invalid values raise one
        :class:`FFConfigError` listing them all (the whole is validated once, after assembly).

        Missing keys keep their defaults.
        """
        errors: list[str] = []
        obj = cls._build(data, "", errors)
        errors.extend(obj.validate())
        if errors:
            raise FFConfigError(errors)
        return obj
