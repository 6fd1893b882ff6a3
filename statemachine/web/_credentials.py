"""Named credentials with roles: who may call the service, under which name the log keeps
what they did, and what their role lets them do (:mod:`statemachine.application._access`).

Credentials come from the environment:

- ``ORDERFSM_CREDENTIALS`` names a file with one credential per line, ``NAME ROLE SECRET``
  (a line starting with ``#`` is a comment, a blank line is skipped; a ``#`` inside a secret
  is part of it);
- ``ORDERFSM_CREDENTIAL_<NAME>=ROLE:SECRET`` gives one (``ORDERFSM_CREDENTIAL_ACME=supplier:...``;
  the name is the rest of the variable's name, lowercase, ``_`` read as ``-``);
- the single-token variables keep working: ``ORDERFSM_TOKEN`` is the ``write`` credential
  ``token``, ``ORDERFSM_READ_TOKEN`` the ``read`` credential ``read-token``, and
  ``ORDERFSM_WEBHOOK_SECRET`` the ``supplier`` credential ``webhook`` (its signatures name no
  key).

A secret is a bearer token (``Authorization: Bearer SECRET``); a ``supplier``'s is also the key
of its signed webhooks, which name it: ``Orderfsm-Signature: t=...,k=NAME,v1=...``. Names are
1 to 64 of ``a-z 0-9 . _ -``; a secret is printable ASCII without spaces, at least 16
characters for a named credential. Two credentials may share neither a name nor a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import attrs

from ..application import ROLES, Actor, Role
from ..errors import InvalidInput

__all__ = [
    "CREDENTIALS_ENV",
    "CREDENTIAL_PREFIX",
    "Credential",
    "Credentials",
    "credentials_from_env",
]

CREDENTIALS_ENV: Final = "ORDERFSM_CREDENTIALS"
"""The variable naming the credentials file."""
CREDENTIAL_PREFIX: Final = "ORDERFSM_CREDENTIAL_"
"""The prefix of a variable that gives one credential."""
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SECRET: Final = re.compile(r"[\x21-\x7e]+")
MIN_SECRET: Final = 16
"""The shortest secret of a named credential."""


def _print(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@attrs.frozen
class Credential:
    """A credential: its name (what the log says of what it did), its role, and its secret
    (never in ``repr``). ``secret_print`` is the SHA-256 of the secret: a session opened with
    it is over once the secret changes."""

    name: str
    role: Role
    secret: str = attrs.field(repr=False)
    secret_print: str = attrs.field(init=False, repr=False)

    @secret_print.default
    def _secret_print(self) -> str:
        return _print(self.secret)

    @property
    def actor(self) -> Actor:
        """The credential as the use cases know a caller."""
        return Actor(self.name, self.role)


def _credential(name: str, role: str, secret: str, where: str, *, named: bool) -> Credential:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{where}: {name!r} is not a credential name (1 to 64 of a-z 0-9 . _ -, starting "
            "with a letter or a digit)",
            field="credentials",
        )
    if role not in ROLES:
        raise InvalidInput(
            f"{where}: {role!r} is not a role ({', '.join(ROLES)})", field="credentials"
        )
    if not _SECRET.fullmatch(secret) or (named and len(secret) < MIN_SECRET):
        raise InvalidInput(
            f"{where}: the secret of {name!r} must be printable ASCII without spaces"
            + (f", at least {MIN_SECRET} characters" if named else ""),
            field="credentials",
        )
    return Credential(name, role, secret)


def credentials_from_env(environ: Mapping[str, str]) -> tuple[Credential, ...]:
    """The named credentials the environment gives (the file ``ORDERFSM_CREDENTIALS`` names,
    then each ``ORDERFSM_CREDENTIAL_<NAME>``); :class:`InvalidInput` naming the variable,
    or the file and its line, that does not read."""
    found: list[Credential] = []
    path = (environ.get(CREDENTIALS_ENV) or "").strip()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"{CREDENTIALS_ENV} names {path!r}, which cannot be read "
                f"({exc.__class__.__name__})",
                field="credentials",
            ) from None
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split()
            if not words or words[0].startswith("#"):  # a comment is a line of its own: a
                continue  # secret may hold '#'

            where = f"{CREDENTIALS_ENV} line {number}"
            if len(words) != 3:
                raise InvalidInput(f"{where}: write NAME ROLE SECRET", field="credentials")
            name, role, secret = words
            found.append(_credential(name, role, secret, where, named=True))
    for variable in sorted(environ):
        if not variable.startswith(CREDENTIAL_PREFIX) or variable == CREDENTIALS_ENV:
            continue
        name = variable[len(CREDENTIAL_PREFIX) :].lower().replace("_", "-")
        role, colon, secret = environ[variable].strip().partition(":")
        if not colon:
            raise InvalidInput(f"{variable} must read ROLE:SECRET", field="credentials")
        found.append(_credential(name, role, secret, variable, named=True))
    return tuple(found)


class Credentials:
    """Every credential of a service: the named ones and those of the single-token settings.
    A token is looked up against every secret in constant time (through their digests)."""

    def __init__(self, credentials: Iterable[Credential]) -> None:
        self.all: tuple[Credential, ...] = tuple(credentials)
        names: set[str] = set()
        prints: set[str] = set()
        for credential in self.all:
            if credential.name in names:
                raise InvalidInput(
                    f"two credentials are named {credential.name!r}", field="credentials"
                )
            if credential.secret_print in prints:
                raise InvalidInput(
                    f"credential {credential.name!r} has the secret of another; each needs its "
                    "own (the log must say who did what)",
                    field="credentials",
                )
            names.add(credential.name)
            prints.add(credential.secret_print)
        self._digests = [(hashlib.sha256(c.secret.encode("utf-8")).digest(), c) for c in self.all]
        self._named = {c.name: c for c in self.all}

    @classmethod
    def of(
        cls,
        named: Iterable[Credential],
        *,
        token: str | None,
        read_token: str | None,
        webhook_secret: str | None,
    ) -> Credentials:
        """The named credentials and those the single-token settings give (``token``,
        ``read-token``, ``webhook``)."""
        legacy = [
            Credential(name, role, secret)  # type: ignore[arg-type]
            for name, role, secret in (
                ("token", "write", token),
                ("read-token", "read", read_token),
                ("webhook", "supplier", webhook_secret),
            )
            if secret is not None
        ]
        return cls([*legacy, *named])

    def by_token(self, token: str) -> Credential | None:
        """The credential whose secret ``token`` is; ``None`` if none. Every secret is
        compared, each in constant time, so the time taken says nothing of any of them."""
        given = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found: Credential | None = None
        for digest, credential in self._digests:
            if hmac.compare_digest(given, digest):
                found = credential
        return found

    def by_name(self, name: str) -> Credential | None:
        """The credential named ``name`` (a signed webhook's key id)."""
        return self._named.get(name)

    def __len__(self) -> int:
        return len(self.all)
