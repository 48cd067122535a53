"""After a load run: no lost decisions, no duplicate approvals (checked in the database).

    python -m scripts.load.check RUN_OUTPUT_DIR   (with DATABASE_URL of the stack: stack.sh env)

* every decision the portal confirmed to a simulated person (a redirect after "Approve" or
  "Reject", written to decisions-*.jsonl by the locustfile) is in the database: the approval has
  that status and that decider;
* no approval was decided twice: at most one successful APPROVAL_APPROVE/APPROVAL_REJECT audit
  entry per approval, and every decided approval has one (refused attempts, such as deciding what
  someone decided a moment before, are audited with result "failure" and counted apart).

Prints the figures as JSON and exits 1 when anything is lost or duplicated.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import psycopg2

DECIDED = ("APPROVAL_APPROVE", "APPROVAL_REJECT")


def confirmed_decisions(directory: Path) -> dict[int, dict]:
    """approval id -> the decision the portal confirmed (the last one if, wrongly, two were)."""
    found: dict[int, dict] = {}
    duplicates = 0
    for path in sorted(directory.glob("decisions-*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            duplicates += row["approval_id"] in found
            found[row["approval_id"]] = row
    found[-1] = {"confirmed_twice": duplicates}
    return found


def check(directory: Path, database_url: str) -> dict:
    """The figures of the check (see the module docstring)."""
    confirmed = confirmed_decisions(directory)
    confirmed_twice = confirmed.pop(-1)["confirmed_twice"]
    connection = psycopg2.connect(database_url)
    with connection, connection.cursor() as cursor:
        # A refused attempt (already decided, changed meanwhile) is audited too, with result "failure".
        cursor.execute("SELECT resource_id, count(*) FROM audit_logs WHERE action = ANY(%s) AND result = 'success'"
                       " AND resource_type = 'approval' GROUP BY resource_id HAVING count(*) > 1", (list(DECIDED),))
        audited_twice = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM audit_logs WHERE action = ANY(%s) AND result = 'failure'"
                       " AND resource_type = 'approval' AND created_at > now() - interval '1 day'", (list(DECIDED),))
        (refused,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM approvals a WHERE a.status <> 'pending' AND NOT EXISTS (SELECT 1 FROM"
                       " audit_logs l WHERE l.resource_type = 'approval' AND l.resource_id = a.id::text"
                       " AND l.action = ANY(%s) AND l.result = 'success')", (list(DECIDED),))
        (unaudited,) = cursor.fetchone()
        lost = []
        ids = list(confirmed)
        cursor.execute("SELECT id, status, decided_by_id FROM approvals WHERE id = ANY(%s)", (ids,))
        rows = {row[0]: row for row in cursor.fetchall()}
        for approval_id, decision in confirmed.items():
            row = rows.get(approval_id)
            if row is None or row[1] != decision["status"] or row[2] != decision["user_id"]:
                lost.append(approval_id)
    connection.close()
    return {"confirmed_decisions": len(confirmed), "lost": len(lost), "lost_ids": lost[:20],
            "confirmed_twice": confirmed_twice, "audited_twice": len(audited_twice),
            "refused_attempts_audited_last_day": refused,
            "decided_without_audit_entry": unaudited,
            "ok": not lost and not confirmed_twice and not audited_twice and not unaudited}


def main() -> int:
    url = os.environ["DATABASE_URL"]
    result = check(Path(sys.argv[1]), url)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
