"""Regenerate app/security/data/common-passwords.txt from zxcvbn's frequency list.

The list is the 10,000 most common passwords, most common first, as ranked by the
``zxcvbn`` package (a dev dependency). Run: python scripts/dev/build_common_passwords.py
"""

from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

TARGET = Path(__file__).resolve().parents[2] / "app" / "security" / "data" / "common-passwords.txt"
COUNT = 10_000


def common_passwords() -> list[str]:
    return FREQUENCY_LISTS["passwords"][:COUNT]


if __name__ == "__main__":
    TARGET.write_text("\n".join(common_passwords()) + "\n", encoding="utf-8")
    print(f"wrote {COUNT} passwords to {TARGET}")
