"""The password policy: long enough, and not one of the passwords attackers try first.

`common_passwords.txt` holds the 10,000 most common passwords, most common first, lowercased:
the head of Django's `common-passwords.txt.gz` (django 5.2, BSD-3-Clause), itself Royce
Williams' list of the most common passwords found in public breaches. It is compared without
regard to case, so `Password1234` is refused like `password1234`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_PASSWORD_LENGTH = 12
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines())


def password_problem(password: str) -> str | None:
    """Why this password may not be used, in words for the merchant; None if it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if password.lower() in common_passwords():
        return (
            "this password is one of the most common ones, which attackers try first: "
            "choose another (a few unrelated words make a good one)"
        )
    return None
