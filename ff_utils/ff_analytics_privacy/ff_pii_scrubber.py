"""PII scrubbing for user event properties.

- Free-text keys (``message``, ``content``, ``text``, ``prompt``, ``query``, ``body`` and similar, also
  as suffixes such as ``search_query``) are dropped; only ``<key>_length`` is kept.
- Identifier keys (``email``, ``phone``, ``ip``, ``user_id``, ``password``, ``token`` ...) are dropped.
- Remaining strings are scrubbed of secrets/tokens (JWTs, bearer tokens, AWS keys, provider API keys,
  ``key=value`` credentials, long high-entropy hex/base64), emails, IPv6/IPv4 addresses, Luhn-valid
  card numbers and phone numbers, each replaced by a ``[KIND]`` marker; request paths and URLs keep
  their shape only (``ff_path_shape``: id-like segments ``[ID]``, query ``?[QUERY]``). Version
  strings, timestamps and Luhn-invalid order numbers survive.
- A user agent is reduced to ``"<family>/<platform>"`` (e.g. ``Chrome/Windows``).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from typing import Any

from ff_utils.ff_analytics_privacy.ff_identifier_guard import PSEUDONYMIZED_KEYS
from ff_utils.ff_analytics_privacy.ff_path_shape import ff_path_shape

FREE_TEXT_KEYS = frozenset(
    {
        "message", "messages_text", "content", "text", "prompt", "query", "body", "comment", "comments",
        "description", "note", "notes", "title", "subject", "input", "output", "response", "completion",
        "transcript", "feedback", "question", "answer", "reply", "summary", "search", "search_term",
        "q", "chat", "conversation", "document", "html", "markdown", "raw",
    }
)
FREE_TEXT_SUFFIXES = ("_message", "_text", "_content", "_prompt", "_query", "_body", "_comment", "_feedback")
IDENTIFIER_KEYS = frozenset(
    {
        "user_id", "userid", "user", "username", "user_name", "login", "email", "e_mail", "mail",
        "phone", "phone_number", "mobile", "tel", "telephone", "ip", "ip_address", "ipaddress",
        "remote_addr", "client_ip", "name", "first_name", "last_name", "full_name", "address",
        "street", "ssn", "password", "passwd", "pwd", "token", "access_token", "refresh_token",
        "api_key", "apikey", "secret", "authorization", "auth", "cookie", "cookies", "session_token",
        "card", "card_number", "credit_card", "cc", "iban", "session_id", "device_id", "dob",
        "birthdate", "date_of_birth",
    }
)
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")
MAX_DEPTH = 4
MAX_ITEMS = 64
MAX_STRING = 2048
_CACHE_MAX = 8192

_SECRET_RES = [
    re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),  # JWT
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]{8,}=*"),
    re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/]{12,}=*"),
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),
    re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}\b"),
    re.compile(
        r"(?i)\b(?:api[_-]?key|secret|token|password|passwd|pwd|access[_-]?key|auth)\s*[:=]\s*[^\s,;&]+"
    ),
    re.compile(r"(?i)(?<![\w])-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
]
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_HEX_RE = re.compile(r"\b[0-9a-fA-F]{32,}\b")
_B64_RE = re.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}")
_IPV6_RE = re.compile(r"(?<![\w:.])[0-9A-Fa-f:.]*::?[0-9A-Fa-f:.]*(?:%[A-Za-z0-9]+)?")
_IPV4_RE = re.compile(
    r"(?<![A-Za-z]/)(?<![vV])(?<![\d.])(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(?![\d])(?!\.\d)"
)
_CARD_RE = re.compile(r"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)")
_PHONE_RES = [
    # international: +<country> then 6..14 more digits in groups
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.\-]?\(?\d{1,4}\)?){2,6}(?![\w])"),
    # North American style: (555) 123-4567, 555-123-4567, 555.123.4567
    re.compile(r"(?<![\w\-.])(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}(?![\w\-]|\.\d)"),
    # European style groups with a leading 0: 030 1234 5678, 0151-2345-6789
    re.compile(r"(?<![\w\-.])0\d{2,4}[\s/\-]\d{3,4}[\s\-]?\d{3,5}(?![\w\-]|\.\d)"),
]
# digits after a phone keyword: "call 5551234567", "tel: 030123456", "call me at 5551234567"
_PHONE_KW_RE = re.compile(
    r"(?i)(\b(?:tel|phone|call|mobile|cell|fax|whatsapp)(?:[\s:.#]+(?:me\s+)?(?:at|on)?)?[\s:.#]*)"
    r"(\+?\d[\d\s.\-]{5,16}\d)(?![\w])"
)


class FFNotJSONError(TypeError):
    """An event property value that is not a JSON value; ``path`` locates it (``['a'][0]``)."""

    def __init__(self, type_name: str, path: str = "") -> None:
        self.type_name = type_name
        self.path = path
        super().__init__(
            f"event_data{path}: expected a JSON value (str, number, bool, None, dict or list), got {type_name}"
        )


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string (13..19 digits are card lengths)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _looks_like_compact_timestamp(digits: str) -> bool:
    if len(digits) < 14 or digits[:2] not in ("19", "20"):
        return False
    month, day = int(digits[4:6]), int(digits[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31 and int(digits[8:10]) < 24


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _b64_sub(m: re.Match[str]) -> str:
    tok = m.group(0)
    has_digit = any(c.isdigit() for c in tok)
    has_alpha = any(c.isalpha() for c in tok)
    if has_digit and has_alpha and _entropy(tok) >= 4.0 and tok.count("/") < 3:
        return "[SECRET]"
    return tok


def _ipv6_sub(m: re.Match[str]) -> str:
    tok = m.group(0)
    if tok.count(":") < 2:
        return tok
    core = tok.split("%", 1)[0].rstrip(".")
    try:
        ipaddress.IPv6Address(core)
    except ValueError:
        return tok
    if not any(c.isalnum() for c in core):
        return tok  # a bare "::" in prose or code
    return "[IP]" + tok[len(core):] if tok.startswith(core) else "[IP]"


_VERSION_CTX = re.compile(r"(?i)(?:version|build|release|ver|rev|firmware|fw)\s*[:=#]?\s*$")


def _ipv4_sub(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 12) : m.start()]
    return m.group(0) if _VERSION_CTX.search(before) else "[IP]"


def _card_sub(m: re.Match[str]) -> str:
    tok = m.group(0)
    digits = tok.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and luhn_valid(digits) and not _looks_like_compact_timestamp(digits):
        return "[CARD]"
    return tok


def _phone_sub(m: re.Match[str]) -> str:
    tok = m.group(0)
    n = sum(c.isdigit() for c in tok)
    return "[PHONE]" if 7 <= n <= 15 else tok


def _phone_kw_sub(m: re.Match[str]) -> str:
    n = sum(c.isdigit() for c in m.group(2))
    return m.group(1) + "[PHONE]" if 7 <= n <= 15 else m.group(0)


def scrub_text(s: str) -> str:
    """Replace PII and secrets in ``s`` with ``[KIND]`` markers (idempotent)."""
    if len(s) > MAX_STRING:
        s = s[:MAX_STRING]
    s = ff_path_shape(s)  # first: a URL's credentials and query go whole, before the patterns look inside
    for rx in _SECRET_RES:
        s = rx.sub("[SECRET]", s)
    s = _EMAIL_RE.sub("[EMAIL]", s)
    if ":" in s:
        s = _IPV6_RE.sub(_ipv6_sub, s)
    s = _IPV4_RE.sub(_ipv4_sub, s)
    s = _CARD_RE.sub(_card_sub, s)
    for rx in _PHONE_RES:
        s = rx.sub(_phone_sub, s)
    s = _PHONE_KW_RE.sub(_phone_kw_sub, s)
    s = _HEX_RE.sub("[SECRET]", s)
    s = _B64_RE.sub(_b64_sub, s)
    return s


_FAMILIES = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"), ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"), ("YaBrowser/", "Yandex"), ("Vivaldi/", "Vivaldi"),
    ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"), ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("MSIE ", "Internet Explorer"),
    ("Trident/", "Internet Explorer"), ("curl/", "curl"), ("Wget/", "Wget"),
    ("python-requests/", "python-requests"), ("aiohttp/", "aiohttp"), ("httpx/", "httpx"),
    ("okhttp/", "okhttp"), ("PostmanRuntime/", "Postman"),
)
_PLATFORMS = (
    ("Windows", "Windows"), ("iPhone", "iOS"), ("iPad", "iOS"), ("iOS", "iOS"), ("Android", "Android"),
    ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"),
)
_BOT_RE = re.compile(r"(?i)bot|crawler|spider|slurp")


def reduce_user_agent(ua: str) -> tuple[str, str]:
    """``(family, platform)`` of a user-agent string; ``("Other", "Other")`` when unknown."""
    if not ua:
        return "", ""
    family = "Bot" if _BOT_RE.search(ua) else ""
    if not family:
        for token, name in _FAMILIES:
            if token in ua:
                family = name
                break
    platform = ""
    for token, name in _PLATFORMS:
        if token in ua:
            platform = name
            break
    return family or "Other", platform or "Other"


def is_free_text_key(key: str) -> bool:
    k = key.lower()
    return k in FREE_TEXT_KEYS or k.endswith(FREE_TEXT_SUFFIXES)


class FFPIIScrubber:
    """Scrubs event properties; memoizes short strings (user agents, platforms repeat a lot)."""

    __slots__ = ("_cache", "_ua_cache", "_key_class", "scrubbed_values", "dropped_keys")

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}
        self._ua_cache: dict[str, str] = {}
        self._key_class: dict[Any, int] = {}
        self.scrubbed_values = 0
        self.dropped_keys = 0

    def text(self, s: str) -> str:
        """Scrubbed ``s`` (cached for strings up to 256 characters)."""
        if len(s) < 6 and "/" not in s:
            return s
        r = self._cache.get(s)
        if r is None:
            r = scrub_text(s)
            if r != s:
                self.scrubbed_values += 1
            if len(s) <= 256:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[s] = r
        return r

    def user_agent(self, ua: str) -> str:
        r = self._ua_cache.get(ua)
        if r is None:
            family, platform = reduce_user_agent(ua)
            r = f"{family}/{platform}" if family else ""
            if len(self._ua_cache) >= _CACHE_MAX:
                self._ua_cache.clear()
            self._ua_cache[ua] = r
        return r

    def key_ok(self, key: Any) -> bool:
        return isinstance(key, str) and bool(_SAFE_KEY.fullmatch(key)) and self.text(key) == key

    def value(self, v: Any, depth: int = 0) -> Any:
        """A scrubbed copy of a JSON-like value (nested containers bounded in depth and size)."""
        if isinstance(v, str):
            return self.text(v)
        if v is None or isinstance(v, (bool, float)):
            return v
        if isinstance(v, int):
            if v >= 10**12 or v <= -(10**12):
                s = str(abs(v))
                if 13 <= len(s) <= 19 and luhn_valid(s) and not _looks_like_compact_timestamp(s):
                    self.scrubbed_values += 1
                    return "[CARD]"
            return v
        if depth >= MAX_DEPTH:
            self.dropped_keys += 1
            return None
        if isinstance(v, dict):
            return self.properties(v, depth + 1)
        if isinstance(v, (list, tuple, set, frozenset)):
            items = list(v)[:MAX_ITEMS]
            try:
                return [self.value(x, depth + 1) for x in items]
            except FFNotJSONError:
                for i, x in enumerate(items):  # failure path only: find the index for the message
                    try:
                        self.value(x, depth + 1)
                    except FFNotJSONError as exc:
                        raise FFNotJSONError(exc.type_name, f"[{i}]{exc.path}") from None
                raise
        raise FFNotJSONError(type(v).__name__)

    def _classify(self, key: Any) -> int:
        """0 drop (unsafe or identifier key), 1 free text (keep length), 2 user agent, 3 scrub value,
        4 pseudonymized identifier (kept only as a pseudonym: ``ff_identifier_guard`` ran first)."""
        c = self._key_class.get(key) if isinstance(key, str) else 0
        if c is None:
            if not self.key_ok(key):
                c = 0
            else:
                lk = key.lower()
                if lk in PSEUDONYMIZED_KEYS:
                    c = 4
                elif lk in IDENTIFIER_KEYS:
                    c = 0
                elif is_free_text_key(lk):
                    c = 1
                elif lk == "user_agent":
                    c = 2
                else:
                    c = 3
            if len(self._key_class) >= _CACHE_MAX:
                self._key_class.clear()
            self._key_class[key] = c
        return c

    def properties(self, data: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """Scrub a property dict: drop identifier keys, keep free-text lengths, scrub the rest.

        At most ``MAX_ITEMS`` entries (``<key>_length`` entries included); a ``<key>_length`` entry
        wins over a caller key of the same name. A value that is not a JSON value raises
        ``FFNotJSONError`` (a ``TypeError``) naming its path, e.g. ``event_data['a'][0]``.
        """
        out: dict[str, Any] = {}
        derived: set[str] | None = None
        try:
            for k, v in data.items():
                if len(out) >= MAX_ITEMS:
                    self.dropped_keys += 1
                    break
                c = self._classify(k)
                if c == 3:
                    if derived is not None and k in derived:
                        self.dropped_keys += 1
                        continue
                    out[k] = self.text(v) if type(v) is str else self.value(v, depth)
                elif c == 0:
                    self.dropped_keys += 1
                elif c == 4:
                    if type(v) is str and _PSEUDONYM.fullmatch(v):
                        out[k] = v
                    else:  # a raw value under an identifier key: never stored
                        self.dropped_keys += 1
                elif c == 1:
                    self.dropped_keys += 1
                    if isinstance(v, str):
                        name = f"{k}_length"
                        out[name] = len(v)
                        if derived is None:
                            derived = set()
                        derived.add(name)
                else:
                    out[k] = self.user_agent(v) if isinstance(v, str) else self.value(v, depth)
        except FFNotJSONError as exc:
            raise FFNotJSONError(exc.type_name, f"[{k!r}]{exc.path}") from None
        return out
