"""Write docs/API_RATE_LIMITS.md from the declarations in app/security/ratelimits.py.

    python scripts/dev/rate_limit_docs.py          # rewrite the file
    python scripts/dev/rate_limit_docs.py --check  # exit 1 when the file is out of date

tests/unit/test_rate_limits.py runs the same comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(argv: list[str]) -> int:
    from app import create_app
    from app.config import TEST_CONFIG
    from app.security.ratelimit_docs import DOC_PATH, render_markdown

    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None,
                      "INSTANCE_PATH": str(ROOT / "instance")})
    with app.app_context():
        text = render_markdown()
    path = ROOT / DOC_PATH
    if "--check" in argv:
        if path.read_text(encoding="utf-8") != text:
            print(f"{DOC_PATH} is out of date: run python scripts/dev/rate_limit_docs.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
