"""Component names for HTTP requests: a route template or a host's mapper, never the raw path.

Guarantee: a component name is built only from the HTTP method and either the framework's route
template (Starlette/FastAPI set ``scope["route"]`` with ``.path`` such as ``/users/{user_id}``) or
a name the host's mapper returns that already matches ``^[a-z0-9_]{1,64}$``; otherwise the request
counts in one bucket per method (``http_get``). ``scope["path"]`` is never read, so an id in a
path can never become a metric name, a label or a file name. The number of distinct names is
bounded (``max_components``); past it, new templates count in the method bucket.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

__all__ = ["DEFAULT_MAX_COMPONENTS", "FFComponentNamer", "ff_component_from_template", "ff_method_bucket"]

logger = get_logger(__name__)

DEFAULT_MAX_COMPONENTS = 256
_NON_NAME = re.compile(r"[^a-z0-9]+")
_METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options", "trace", "connect"})

ComponentMapper = Callable[[Mapping[str, Any]], "str | None"]


def ff_method_bucket(method: str, prefix: str = "http") -> str:
    """``http_get`` for GET, ``http_ws`` for a websocket; an unknown method counts as ``http_other``."""
    m = method.lower() if isinstance(method, str) else ""
    if m == "websocket":
        return f"{prefix}_ws"
    return f"{prefix}_{m if m in _METHODS else 'other'}"


def ff_component_from_template(method: str, template: str, prefix: str = "http") -> str:
    """``GET /users/{user_id}/sessions/{sid}`` -> ``http_get_users_user_id_sessions_sid`` (<= 64 chars).

    A name longer than 64 characters keeps its first 55 and appends 8 hex digits of a BLAKE2b digest
    of the whole template, so two long templates never share a name by truncation.
    """
    body = _NON_NAME.sub("_", template.lower()).strip("_") or "root"
    name = f"{ff_method_bucket(method, prefix)}_{body}"
    if len(name) > 64:
        digest = hashlib.blake2b(f"{method} {template}".encode(), digest_size=4).hexdigest()
        name = f"{name[:55].rstrip('_')}_{digest}"
    return name


class FFComponentNamer:
    """Maps an ASGI scope to a component name (see the module docstring); cached per template."""

    def __init__(self, mapper: ComponentMapper | None = None, *, prefix: str = "http",
                 max_components: int = DEFAULT_MAX_COMPONENTS) -> None:
        ff_validate_name(prefix, "prefix")
        if not isinstance(max_components, int) or isinstance(max_components, bool) or max_components < 1:
            raise ValueError(f"max_components: expected an int >= 1, got {max_components!r}")
        if mapper is not None and not callable(mapper):
            raise TypeError(f"component_mapper: expected a callable(scope) -> str | None, got {type(mapper).__name__}")
        self.mapper = mapper
        self.prefix = prefix
        self.max_components = max_components
        self._cache: dict[tuple[str, str], str] = {}
        self._bad_mapper_names = 0

    def component(self, scope: Mapping[str, Any]) -> str:
        method = scope.get("method", "GET") if scope.get("type") == "http" else "websocket"
        route = scope.get("route")
        template = getattr(route, "path", None) if route is not None else None
        if isinstance(template, str) and template:
            return self._named(method, template)
        if self.mapper is not None:
            try:
                name = self.mapper(scope)
            except Exception:  # a host's mapper bug must not fail the request
                logger.exception("component_mapper raised; counting the request in the method bucket")
                name = None
            if name is not None:
                try:
                    return ff_validate_name(name, "component_mapper result")
                except (TypeError, ValueError):
                    self._bad_mapper_names += 1
                    if self._bad_mapper_names == 1:
                        logger.warning("component_mapper returned an unsafe name; using the method bucket "
                                       "(names must match ^[a-z0-9_]{1,64}$)")
        return self._bucket(method)

    def _bucket(self, method: str) -> str:
        return ff_method_bucket(method, self.prefix)

    def _named(self, method: str, template: str) -> str:
        key = (method, template)
        name = self._cache.get(key)
        if name is None:
            if len(self._cache) >= self.max_components:
                return self._bucket(method)
            name = ff_component_from_template(method, template, self.prefix)
            self._cache[key] = name
        return name

    @property
    def bad_mapper_names(self) -> int:
        """How many mapper results were refused as unsafe names."""
        return self._bad_mapper_names
