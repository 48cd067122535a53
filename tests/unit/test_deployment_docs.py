"""docs/DEPLOYMENT.md shows the nginx configuration that the load-test stack actually runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_nginx_example_is_the_file_the_load_stack_serves_through():
    docs = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", docs, re.S)
    assert blocks == [(ROOT / "scripts" / "load" / "nginx" / "saintara.conf").read_text()]


def test_the_nginx_example_passes_what_the_portal_reads():
    conf = (ROOT / "scripts" / "load" / "nginx" / "saintara.conf").read_text()
    for header in ("Host $http_host", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme",
                   "X-Forwarded-Host $http_host"):
        assert f"proxy_set_header {header};" in conf
    # The stack trusts the load generator's X-Forwarded-For only in its own main file, never here.
    assert "real_ip" not in conf
