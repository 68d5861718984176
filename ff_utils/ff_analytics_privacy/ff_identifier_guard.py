"""The call's own identifiers never reach a file, whatever property name the host uses.

Guarantee, for the ``event_data`` of every ``record_user_analytics`` call (keys and values, nested
dicts and lists included, before any other processing):

- a string equal to the call's raw ``user_id`` or ``session_id`` becomes its pseudonym (the
  record's ``user_hash`` / session hash); a string or key *containing* one has each occurrence
  replaced by the pseudonym (ids of at least ``MIN_CONTAINED_ID`` characters; a shorter id is
  replaced only where it is the whole value or key);
- the value of an identifier-like key (:data:`PSEUDONYMIZED_KEYS`: ``session``, ``user_id``,
  ``uid``, ``conversation_id``, ``thread_id``, ``device_id``, ``account``, ...; case-insensitive) is
  pseudonymized: user-like keys with the user pseudonym, session-like keys with the session
  pseudonym, the others with a keyed identifier pseudonym; a container or other non-scalar under
  such a key is dropped.

The pseudonyms are keyed HMAC-SHA256 (:class:`FFPseudonymizer`), so equal ids give equal pseudonyms
and BI can still count distinct values. Not applied when the store is configured to keep raw
identifiers (``store_raw_identifiers`` with hashing and anonymization off).
"""

from __future__ import annotations

from typing import Any

from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import FFPseudonymizer

__all__ = ["MIN_CONTAINED_ID", "PSEUDONYMIZED_KEYS", "SESSION_KEYS", "USER_KEYS", "FFIdentifierGuard"]

MIN_CONTAINED_ID = 3
USER_KEYS = frozenset({"user", "user_id", "userid", "uid", "user_key", "member_id", "customer_id", "visitor_id",
                       "anonymous_id", "account", "account_id", "profile_id"})
SESSION_KEYS = frozenset({"session", "session_id", "sessionid", "sid", "session_key"})
OTHER_ID_KEYS = frozenset({"conversation_id", "conversation", "thread_id", "thread", "chat_id", "device_id",
                           "device", "client_id", "installation_id", "message_id", "panel_id", "persona_id"})
PSEUDONYMIZED_KEYS = USER_KEYS | SESSION_KEYS | OTHER_ID_KEYS
MAX_DEPTH = 8
_KEY_CACHE_MAX = 4096


class FFIdentifierGuard:
    """Applies the module's guarantee to one call's ``event_data`` (see the module docstring)."""

    __slots__ = ("_id_key", "pseudonymizer", "replaced")

    def __init__(self, pseudonymizer: FFPseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer
        self.replaced = 0  # values and keys rewritten (a counter for stats and tests)
        self._id_key: dict[str, bool] = {}  # key -> is identifier-like (case-insensitive); bounded

    def protect(self, data: dict[str, Any], user_id: str, session_id: str, user_hash: str,
                session_hash: str) -> dict[str, Any]:
        """``data`` itself when nothing needs protecting (the common case), else a protected copy.

        The scan is conservative: any identifier-like key, any key or string (a list's strings
        included) containing either id, any nested container sends the call to the full copy."""
        id_key = self._id_key.get
        for k, v in data.items():
            f = id_key(k) if type(k) is str else True
            if f is None:
                f = self._classify_key(k)
            if f or user_id in k or (session_id and session_id in k):
                break
            t = type(v)
            if t is str:
                if user_id in v or (session_id and session_id in v):
                    break
            elif t is list or t is tuple:
                for x in v:
                    if type(x) is not str or user_id in x or (session_id and session_id in x):
                        break
                else:
                    continue
                break
            elif t is dict:
                break
        else:
            return data
        return self._dict(data, user_id, session_id, user_hash, session_hash, 0)

    def _classify_key(self, k: str) -> bool:
        f = k.lower() in PSEUDONYMIZED_KEYS
        if len(self._id_key) >= _KEY_CACHE_MAX:
            self._id_key.clear()
        self._id_key[k] = f
        return f

    def _dict(self, data: dict[Any, Any], uid: str, sid: str, uh: str, sh: str, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for k, v in data.items():
            if type(k) is str:
                lk = k.lower()
                k2 = self._text(k, uid, sid, uh, sh)
                if lk in PSEUDONYMIZED_KEYS:
                    pv = self._pseudonym(lk, v, uid, sid, uh, sh)
                    if pv is not None:
                        out[k2] = pv
                    else:
                        self.replaced += 1
                    continue
                out[k2] = self._value(v, uid, sid, uh, sh, depth)
            else:
                out[k] = self._value(v, uid, sid, uh, sh, depth)
        return out

    def _value(self, v: Any, uid: str, sid: str, uh: str, sh: str, depth: int) -> Any:
        t = type(v)
        if t is str:
            return self._text(v, uid, sid, uh, sh)
        if depth >= MAX_DEPTH:
            return v  # the scrubber refuses deeper nesting itself
        if t is dict:
            return self._dict(v, uid, sid, uh, sh, depth + 1)
        if t is list or t is tuple:
            return [self._value(x, uid, sid, uh, sh, depth + 1) for x in v]
        return v

    def _text(self, s: str, uid: str, sid: str, uh: str, sh: str) -> str:
        if s == uid:
            self.replaced += 1
            return uh
        if sid and s == sid:
            self.replaced += 1
            return sh
        out = s
        if len(uid) >= MIN_CONTAINED_ID and uid in out:
            out = out.replace(uid, uh)
        if sid and len(sid) >= MIN_CONTAINED_ID and sid in out:
            out = out.replace(sid, sh)
        if out is not s:
            self.replaced += 1
        return out

    def _pseudonym(self, key: str, v: Any, uid: str, sid: str, uh: str, sh: str) -> str | None:
        if type(v) is bool or not isinstance(v, (str, int)):
            return None
        text = v if isinstance(v, str) else str(v)
        self.replaced += 1
        if text == uid:
            return uh
        if sid and text == sid:
            return sh
        p = self.pseudonymizer
        if key in USER_KEYS:
            return p.user_hash(text)
        if key in SESSION_KEYS:
            return p.session_hash(text)
        return p.identifier_hash(text)
