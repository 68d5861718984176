"""Request paths and URLs in event strings keep their shape, never their ids or query.

Guarantee, for every path-like token of a string the scrubber sees (a token that starts with ``/``
followed by a character other than ``/`` or white space, or with ``scheme://``; it starts the
string or follows white space or one of ``( [ { < " ' = ,``):

- the query and the fragment are replaced by ``?[QUERY]`` / ``#[FRAGMENT]`` (search terms, tokens
  and redirect targets live there);
- each path segment that looks like an identifier becomes ``[ID]``: a number, date or version
  (``12345``, ``2026-11-22``, ``1.2``), a hex id of 8+ characters with a digit (uuids, hashes), a
  mixed letter-digit token of 16+ characters, or any segment with ``@``, ``%`` or ``~``;
- other segments (``users``, ``settings``, ``python3.11``, ``v2``) and the scheme and host stay;
  credentials before the host (``user:pass@``) become ``[ID]@``.

So ``/users/12345/messages/9f1c2e7a?q=my+secret`` is stored as
``/users/[ID]/messages/[ID]?[QUERY]``. Idempotent. Known gap: a short alphabetic segment cannot be
told from a route word (``/u/alice`` stays); the call's own ids are pseudonymized before this
(``ff_identifier_guard``) wherever they occur.
"""

from __future__ import annotations

import re

__all__ = ["ff_path_shape"]

_PATH_RE = re.compile(
    r"(?<![^\s(\[{<\"'=,])"  # a token start
    r"(?:(?P<origin>[A-Za-z][A-Za-z0-9+.-]{0,15}://[^\s/?#]*)|(?=/[^\s/]))"
    r"(?P<path>/(?:\[[A-Z]+\]|[^\s?#()\[\]{}<>\"'])*)?"  # up to white space or a closing mark;
    r"(?P<rest>[?#](?:\[[A-Z]+\]|[^\s()\[\]{}<>\"'])*)?"  # [KIND] markers are part of it
)
_ID_SEGMENT = re.compile(
    r"[0-9][0-9._:,-]*"  # numbers, numeric ids, dates, versions
    r"|(?=[0-9a-fA-F-]*[0-9])[0-9a-fA-F-]{8,}"  # hex ids and uuids (with a digit)
    r"|(?=[^/]*[0-9])(?=[^/]*[A-Za-z])[A-Za-z0-9_-]{16,}"  # long mixed tokens
    r"|[^/]*[@%~][^/]*"
)


def _segment(seg: str) -> str:
    return "[ID]" if seg and _ID_SEGMENT.fullmatch(seg) else seg


def _sub(m: re.Match[str]) -> str:
    path = m.group("path") or ""
    if path:
        path = "/".join(map(_segment, path.split("/")))
    rest = m.group("rest")
    if rest:
        rest = "?[QUERY]" if rest[0] == "?" else "#[FRAGMENT]"
    origin = m.group("origin") or ""
    if "@" in origin:  # user:password@host: the credentials go
        scheme, _, host = origin.partition("://")
        origin = f"{scheme}://[ID]@{host.rpartition('@')[2]}"
    return origin + path + (rest or "")


def ff_path_shape(s: str) -> str:
    """``s`` with every path-like token reduced to its shape (see the module docstring)."""
    if "/" not in s:
        return s
    return _PATH_RE.sub(_sub, s)
