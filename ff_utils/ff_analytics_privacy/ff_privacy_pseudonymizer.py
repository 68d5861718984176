"""Keyed pseudonyms (HMAC-SHA256) for user and session ids, and the key's life cycle.

Unsalted hashes of user ids can be reversed by hashing candidate ids; an HMAC with a secret key
cannot without the key. The key is looked up in this order:

1. the environment variable named by ``privacy_config.key_env_var`` (hex, or any string >= 16 bytes);
2. the file ``privacy_config.key_file`` (created there on first use when missing);
3. ``<base_path>/keys/pseudonym.key``, generated on first use with mode 0600.

The key never lives under ``<base_path>/analytics`` and is never written into analytics data.
Creation is race-free across processes: the key is written completely to a private temp file and
published with ``os.link`` (fails if the key exists), so concurrent first users agree on one key and
no reader can see a half-written key.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from itertools import islice
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_file_ops import ff_publish_new_file
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

DEFAULT_KEY_ENV_VAR = "FF_ANALYTICS_PSEUDONYM_KEY"
DEFAULT_KEY_RELPATH = Path("keys") / "pseudonym.key"
MIN_KEY_BYTES = 16
HASH_HEX_CHARS = 32  # 128 bits of the HMAC: collision-free at any realistic user count
METHOD = "HMAC-SHA256 keyed pseudonym (key outside the analytics tree)"
_CACHE_MAX = 200_000  # raw id -> pseudonym entries per cache (memory only, never persisted)


def _evict_oldest(cache: dict[str, str]) -> None:
    """Drop the oldest eighth of ``cache`` (insertion order): ids seen since stay cached, unlike a
    clear; a hit does not reorder (no cost on the hot path), so this is FIFO-bounded, not strict LRU."""
    for k in list(islice(cache, max(1, len(cache) // 8))):
        del cache[k]

# Domain separation: a user hash, a session hash and a subject reference of the same id differ.
_USER = b"user\x00"
_SESSION = b"session\x00"
_SUBJECT = b"subject\x00"
_IDENTIFIER = b"identifier\0"


class FFPseudonymKeyError(ValueError):
    """The configured key is unusable (too short, unreadable, inside the analytics tree)."""


def _parse_key_text(raw: bytes, where: str) -> bytes:
    text = raw.strip()
    if not text:
        raise FFPseudonymKeyError(f"{where}: pseudonym key is empty")
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = text
    if len(key) < MIN_KEY_BYTES:
        raise FFPseudonymKeyError(f"{where}: pseudonym key must have at least {MIN_KEY_BYTES} bytes")
    return key


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def ff_resolve_key_path(base_path: str | os.PathLike[str], privacy_config: Any = None) -> Path:
    """Where the key file is (configured ``key_file`` or ``<base>/keys/pseudonym.key``)."""
    base = Path(base_path)
    configured = str(getattr(privacy_config, "key_file", "") or "")
    path = Path(configured) if configured else base / DEFAULT_KEY_RELPATH
    if not path.is_absolute() and configured:
        path = base / path
    if _inside(path, base / "analytics"):
        raise FFPseudonymKeyError(
            f"privacy_config.key_file: {path} is inside the analytics tree; keep the key outside it"
        )
    return path


def ff_load_or_create_key(
    base_path: str | os.PathLike[str], privacy_config: Any = None, *, create: bool = True
) -> tuple[bytes, str]:
    """Return ``(key, source)``; source is ``env:<NAME>`` or ``file:<path>`` (never the key).

    With ``create=False`` a missing key raises ``FFPseudonymKeyError`` (subject access and erasure
    must not invent a new key: it would match nobody).
    """
    env_name = str(getattr(privacy_config, "key_env_var", "") or DEFAULT_KEY_ENV_VAR)
    env_val = os.environ.get(env_name)
    if env_val:
        return _parse_key_text(env_val.encode(), f"environment variable {env_name}"), f"env:{env_name}"
    path = ff_resolve_key_path(base_path, privacy_config)
    if not create and not path.exists():
        raise FFPseudonymKeyError(
            f"privacy_config.key_file: no pseudonym key at {path} and {env_name} is not set; "
            "nothing was recorded with this store's key (wrong --base-path or key location?)"
        )
    return _read_or_create_key_file(path), f"file:{path}"


def _read_key_file(path: Path) -> bytes:
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("pseudonym key %s is readable by group/others (mode %o)", path, st.st_mode & 0o777)
        return _parse_key_text(fh.read(), f"key file {path}")


def _read_or_create_key_file(path: Path) -> bytes:
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    if ff_publish_new_file(path, key.hex().encode() + b"\n"):  # atomic publish; loses a race: read it
        logger.info("generated pseudonym key %s (mode 0600)", path)
        return key
    return _read_key_file(path)


class FFPseudonymizer:
    """HMAC-SHA256 pseudonyms with bounded memo caches (the hot path hashes each id once)."""

    __slots__ = ("_key", "_sessions", "_users", "cached_session_hash", "cached_user_hash", "source")

    def __init__(self, key: bytes, source: str = "") -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
            raise FFPseudonymKeyError(f"key: expected >= {MIN_KEY_BYTES} bytes")
        self._key = bytes(key)
        self._users: dict[str, str] = {}
        self._sessions: dict[str, str] = {}
        self.source = source
        # the memo lookups alone (None on a miss): the hot path tries these before a method call
        self.cached_user_hash = self._users.get
        self.cached_session_hash = self._sessions.get

    def _mac(self, label: bytes, value: str) -> str:
        return hmac.digest(self._key, label + value.encode("utf-8", "surrogatepass"), "sha256").hex()[:HASH_HEX_CHARS]

    def user_hash(self, user_id: str) -> str:
        h = self._users.get(user_id)
        if h is None:
            if len(self._users) >= _CACHE_MAX:
                _evict_oldest(self._users)
            h = self._users[user_id] = self._mac(_USER, user_id)
        return h

    def session_hash(self, session_id: str) -> str:
        h = self._sessions.get(session_id)
        if h is None:
            if len(self._sessions) >= _CACHE_MAX:
                _evict_oldest(self._sessions)
            h = self._sessions[session_id] = self._mac(_SESSION, session_id)
        return h

    def identifier_hash(self, value: str) -> str:
        """The keyed pseudonym of another identifier (a conversation, thread, device or account id)."""
        return self._mac(_IDENTIFIER, value)

    def subject_ref(self, user_id: str) -> str:
        """A reference for compliance records (consent, erasure receipts) unlinkable to ``user_hash``."""
        return self._mac(_SUBJECT, user_id)

    def forget(self, user_id: str) -> None:
        """Drop a user from the memo cache (erasure)."""
        self._users.pop(user_id, None)

    @staticmethod
    def sample_fraction(user_hash: str) -> float:
        """A uniform number in [0, 1) derived from a pseudonym: per-user sampling decision."""
        return int(user_hash[:8], 16) / 4294967296.0
