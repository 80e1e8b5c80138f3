"""Who a development user is: one source for the dev IdP's claims and the accounts stub's profile.

The web app shows the name from the ID token in its header and the accounts service's
``displayName`` in its greeting; both come from here, so they agree for every subject. The seeded
users are listed; any other subject (the IdP's form accepts any) gets a name derived from the
subject alone, the same in every process and whatever the stubs' seed.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

_FIRST_NAMES = ("Ada", "Bruno", "Chloé", "Dieter", "Elena", "Farid", "Greta", "Hugo", "Inès")
_LAST_NAMES = ("Okafor", "Schmidt", "Dubois", "Rossi", "Novak", "Lindqvist", "Moreau", "Weber")


@dataclass(frozen=True)
class DevUser:
    sub: str
    given_name: str
    family_name: str
    email: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def claims(self) -> dict[str, object]:
        """The claims the dev IdP puts in ID tokens and userinfo (``sub`` aside)."""
        return {
            "name": self.name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email": self.email,
            "email_verified": True,
        }


#: The seeded user: tests and people log in by entering this ``sub`` at the IdP's form.
ALICE = DevUser(sub="alice", given_name="Alice", family_name="Example", email="alice@example.com")
SEEDED_USERS: dict[str, DevUser] = {ALICE.sub: ALICE}


def ascii_lower(name: str) -> str:
    """Accented names stay in display names; addresses stay ASCII, as most validators expect."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def dev_user(sub: str) -> DevUser:
    """The seeded user ``sub``, or one whose name is derived from ``sub`` alone."""
    if sub in SEEDED_USERS:
        return SEEDED_USERS[sub]
    digest = hashlib.sha256(f"dev-user:{sub}".encode()).digest()
    first = _FIRST_NAMES[digest[0] % len(_FIRST_NAMES)]
    last = _LAST_NAMES[digest[1] % len(_LAST_NAMES)]
    email = f"{ascii_lower(first)}.{ascii_lower(last)}.{digest[2:4].hex()}@example.com"
    return DevUser(sub=sub, given_name=first, family_name=last, email=email)
