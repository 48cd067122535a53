"""Locust scenarios of the portal, weighted like real use (docs/LOAD_TESTING.md).

    locust -f scripts/load/locustfile.py --host https://127.0.0.1:8443 ...   (scripts/load/run.py starts it)

Personas (weights in scripts/load/personas.py): superadmins browsing and searching the audit log
and exporting it; admins working the approval queue and deciding; institution admins browsing
their lists; API clients pulling the audit log by cursor; people signing in with a TOTP code and
out again. Each simulated person has an account of its own from the seed file (LOAD_SEED), signs
in through the real forms (password, then an authenticator code computed with pyotp), and waits
like a person between pages. Every simulated person names an address of its own in
X-Forwarded-For (the load stack's nginx takes it as the client's; docs/LOAD_TESTING.md says why).

Environment: LOAD_SEED (the seed file), LOAD_WORKERS (how many worker processes share the
accounts), LOAD_OUTPUT (a folder for the confirmed decisions and the response samples),
LOAD_SHAPE=step with LOAD_STEPS ("50,100,200") and LOAD_STEP_SECONDS (the step load), or LOAD_SHAPE=soak
with LOAD_USERS and LOAD_HOLD_SECONDS.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import locust.runners
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser

from scripts.load.personas import PERSONAS, account_index
from scripts.load.portal import Authenticator, DecisionLog, Unexpected, csrf_token, load_seed

# The master declares a worker lost after 3 missed one-second heartbeats. On this shared 2-core
# machine (other people's test suites beside the portal and Locust) a worker is sometimes not
# scheduled for that long while it spawns hundreds of people; give it two minutes.
locust.runners.HEARTBEAT_LIVENESS = 120

SEED = load_seed(os.environ["LOAD_SEED"]) if os.environ.get("LOAD_SEED") else None
OUTPUT = os.environ.get("LOAD_OUTPUT")
DECISIONS = DecisionLog(OUTPUT)
APPROVAL_LINK = re.compile(r'href="/approvals/(\d+)"')
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)"')
TRANSACTION_LINK = re.compile(r'href="/transactions/(\d+)"')
AUDIT_LINK = re.compile(r'href="/audit/(\d+)"')
VERSION = re.compile(r'name="version"[^>]*value="(\d+)"')
NEXT_LINK = re.compile(r'<a[^>]*rel="next"[^>]*href="([^"]+)"|<a[^>]*href="([^"]+)"[^>]*rel="next"')
SEARCH_WORDS = ("approve", "customer", "transaction", "limit", "refund", "token", "sign", "phone")
# LOAD_THINK_SCALE shortens every pause (the smoke test in `make test` halves them): same paths, sooner.
THINK = float(os.environ.get("LOAD_THINK_SCALE", "1"))
_counters: dict[str, itertools.count] = defaultdict(itertools.count)
# Response samples (kind, seconds since start, milliseconds, failed) for run.py's page/API split.
SAMPLES: list[tuple[str, float, float, bool]] = []


@events.request.add_listener
def _sample(request_type, name, response_time, response_length, exception=None, context=None, **_kw):
    kind = "api" if name.startswith("API ") else "sign-in" if name.startswith("sign-in") else "page"
    SAMPLES.append((kind, time.time(), response_time, exception is not None))


@events.quitting.add_listener
def _write_samples(environment, **_kw):
    if OUTPUT and SAMPLES:
        path = Path(OUTPUT) / f"samples-{os.getpid()}.json"
        path.write_text(json.dumps(SAMPLES))


def _worker_slot(environment) -> tuple[int, int]:
    runner = environment.runner
    index = max(getattr(runner, "worker_index", 0), 0)
    return index, int(os.environ.get("LOAD_WORKERS", "1"))


class Person(FastHttpUser):
    """A simulated person with an account of ``persona``; subclasses say what they do."""

    abstract = True
    persona = ""
    think = (5.0, 15.0)  # seconds between pages, like a person reading them
    insecure = True  # the stack's certificate is made at `up` and signed by nobody

    def wait_time(self) -> float:
        return random.uniform(*self.think) * THINK

    def on_start(self) -> None:
        pool = SEED["accounts"][self.persona]
        worker, workers = _worker_slot(self.environment)
        self.number = account_index(worker, workers, next(_counters[self.persona]), len(pool))
        self.account = pool[self.number]
        self.address = f"10.{64 + worker % 64}.{self.number // 250 % 250}.{self.number % 250 + 1}"
        self.headers = {"X-Forwarded-For": self.address}
        self.referer = self.host + "/"
        self.authenticator = Authenticator(self.account["totp_secret"]) if self.account.get("totp_secret") else None
        if self.persona != "api_client":
            self.sign_in()

    # -- requests ------------------------------------------------------------------------------
    def page(self, path: str, name: str) -> str:
        """GET a page that must answer 200 (a redirect means the session was lost: a failure)."""
        with self.client.get(path, name=name, headers=self.headers, allow_redirects=False,
                             catch_response=True) as response:
            self.referer = self.host + path  # a browser sends it with the page's forms (the CSRF check reads it)
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {path}")
                if response.status_code in (302, 303) and not path.startswith("/login"):
                    self.sign_in()  # signed out: sign in again, as a person would
                return ""
            return response.text or ""

    def post(self, path: str, name: str, data: dict, expect: tuple[int, ...]):
        with self.client.post(path, name=name, data=data, headers={**self.headers, "Referer": self.referer},
                              allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code in expect:
                response.success()  # e.g. 409: someone decided it first; the portal said so, nothing lost
            else:
                response.failure(f"{response.status_code} for POST {path}")
            return response

    def sign_in(self) -> None:
        """The password form, then the authenticator code (each code used once)."""
        page = self.page("/login", "sign-in: form")
        if not page:
            return
        response = self.post("/login", "sign-in: password", {
            "csrf_token": csrf_token(page), "email": self.account["email"], "password": SEED["password"], "next": ""},
            (302,))
        if response.status_code != 302 or "/login/two-factor" not in response.headers.get("Location", ""):
            return
        page = self.page("/login/two-factor", "sign-in: second step")
        if not page:
            return
        for _attempt in range(2):
            code = self.authenticator.next_code()
            with self.client.post("/login/two-factor", name="sign-in: authenticator code",
                                  data={"csrf_token": csrf_token(page), "code": code},
                                  headers={**self.headers, "Referer": self.referer}, allow_redirects=False,
                                  catch_response=True) as response:
                if response.status_code == 302:
                    return
                if response.status_code == 200 and "already been used" in (response.text or ""):
                    # This account's code of this half-minute was used by an earlier run: the portal
                    # refuses the replay as it must, and a person waits for the next code.
                    response.success()
                    page = response.text
                    continue
                response.failure(f"{response.status_code} for the authenticator code")
                return

    def sign_out(self) -> None:
        page = self.page("/account", "account")
        if page:
            self.post("/logout", "sign-out", {"csrf_token": csrf_token(page)}, (302,))

    def follow_next(self, page: str, name: str) -> str:
        found = NEXT_LINK.search(page)
        if not found:
            return page
        return self.page((found.group(1) or found.group(2)).replace("&amp;", "&"), name)


class Superadmin(Person):
    """Reads the dashboard and the audit log, searches and filters it, opens entries, exports."""

    persona = "superadmin"
    weight = PERSONAS["superadmin"][0]

    @task(3)
    def dashboard(self):
        self.page("/dashboard", "/dashboard")

    @task(6)
    def audit_log(self):
        page = self.page("/audit", "/audit")
        self.follow_next(page, "/audit (next page)")
        ids = AUDIT_LINK.findall(page)
        if ids:
            self.page(f"/audit/{random.choice(ids)}", "/audit/[id]")

    @task(4)
    def search_audit_log(self):
        self.page(f"/audit?q={random.choice(SEARCH_WORDS)}", "/audit?q=[words]")

    @task(2)
    def filter_audit_log(self):
        self.page("/audit?action=APPROVAL_APPROVE&action=APPROVAL_REJECT", "/audit?action=[decisions]")

    @task(1)
    def export_audit_log(self):
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        with self.client.get(f"/audit/export/csv?since={since}", name="/audit/export/csv (last hour)",
                             headers=self.headers, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200 or not (response.text or "").startswith(("id,", "\ufeffid,")):
                response.failure(f"export answered {response.status_code}")


class Approver(Person):
    """Works the approval queue: opens a pending request, approves (mostly) or rejects it."""

    persona = "approver"
    weight = PERSONAS["approver"][0]

    @task(1)
    def transactions(self):
        self.page("/transactions?status=pending", "/transactions?status=pending")

    @task(5)
    def decide_next(self):
        page = self.page("/approvals", "/approvals")
        ids = APPROVAL_LINK.findall(page)
        if not ids:
            return
        approval_id = random.choice(ids[:20])
        detail = self.page(f"/approvals/{approval_id}", "/approvals/[id]")
        version = VERSION.search(detail) if detail else None
        if not version or 'name="approve"' not in detail:
            return  # decided meanwhile: its page offers no decision any more
        approve = random.random() < 0.85
        form = {"csrf_token": csrf_token(detail), "version": version.group(1),
                "reason": "" if approve else "Load test: the documents do not match"}
        form["approve" if approve else "reject"] = "Approve" if approve else "Reject"
        time.sleep(random.uniform(2, 6) * THINK)  # reading the request before deciding
        # 409: someone decided it first (or it changed); the portal says so and nothing is lost.
        response = self.post(f"/approvals/{approval_id}/decide", "/approvals/[id]/decide", form, (302, 409))
        if response.status_code == 302:
            DECISIONS.record(approval_id=int(approval_id), status="approved" if approve else "rejected",
                             user_id=self.account["id"], at=time.time())


class InstitutionAdmin(Person):
    """Browses the own institution's customers and transactions."""

    persona = "institution_admin"
    weight = PERSONAS["institution_admin"][0]

    @task(2)
    def dashboard(self):
        self.page("/dashboard", "/dashboard")

    @task(4)
    def customers(self):
        page = self.page("/customers", "/customers")
        ids = CUSTOMER_LINK.findall(page)
        if ids:
            self.page(f"/customers/{random.choice(ids)}", "/customers/[id]")

    @task(2)
    def search_customers(self):
        self.page(f"/customers?q={random.choice('abdeghiklmnrstuwy')}", "/customers?q=[letter]")

    @task(4)
    def transactions(self):
        page = self.page("/transactions", "/transactions")
        self.follow_next(page, "/transactions (next page)")
        ids = TRANSACTION_LINK.findall(page)
        if ids:
            self.page(f"/transactions/{random.choice(ids)}", "/transactions/[id]")

    @task(1)
    def approvals(self):
        self.page("/approvals", "/approvals")


class ApiClient(Person):
    """A SIEM collector: pulls the audit log by cursor, at once while there is more, else every few seconds."""

    persona = "api_client"
    weight = PERSONAS["api_client"][0]

    def on_start(self) -> None:
        super().on_start()
        tokens = SEED["api_tokens"]
        self.headers["Authorization"] = f"Bearer {tokens[self.number % len(tokens)]}"
        since = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.query = f"limit=100&since={since}"
        self.more = False

    def wait_time(self) -> float:
        return random.uniform(0.5, 1.5) if self.more else random.uniform(5, 15) * THINK

    @task
    def pull(self):
        with self.client.get(f"/api/v1/audit-logs?{self.query}", name="API /api/v1/audit-logs",
                             headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"API answered {response.status_code}")
                return
            body = response.json()
            self.more = bool(body.get("has_more"))
            if body.get("next_cursor"):
                self.query = f"limit=100&after={body['next_cursor']}"


class SignIn(Person):
    """Signs in (password and authenticator code), looks at one page, signs out, comes back later."""

    persona = "sign_in"
    weight = PERSONAS["sign_in"][0]
    think = (20.0, 40.0)

    @task
    def visit(self):
        self.page("/dashboard", "/dashboard")
        self.page("/approvals", "/approvals")
        self.sign_out()
        self.wait()
        self.sign_in()


if os.environ.get("LOAD_SHAPE") == "step":

    class StepLoad(LoadTestShape):
        """LOAD_STEPS users, each held for LOAD_STEP_SECONDS (scripts/load/run.py step)."""

        steps = [int(n) for n in os.environ.get("LOAD_STEPS", "50,100,200,400").split(",")]
        seconds = int(os.environ.get("LOAD_STEP_SECONDS", "60"))
        spawn_rate = float(os.environ.get("LOAD_SPAWN_RATE", "10"))

        def tick(self):
            step = int(self.get_run_time() // self.seconds)
            if step >= len(self.steps):
                return None
            return self.steps[step], self.spawn_rate


if os.environ.get("LOAD_SHAPE") == "soak":

    class SoakLoad(LoadTestShape):
        """Up to LOAD_USERS in steps of 100 every 20 s, then held for LOAD_HOLD_SECONDS (scripts/load/run.py
        soak). Told at once to spawn a thousand people, the master lost both workers within half a minute
        on this machine; steps of 100 (as in the step load) never did."""

        users = int(os.environ.get("LOAD_USERS", "1000"))
        hold = int(os.environ.get("LOAD_HOLD_SECONDS", "600"))
        ramp = -(-users // 100) * 20

        def tick(self):
            run_time = self.get_run_time()
            if run_time >= self.ramp + self.hold:
                return None
            return min(self.users, (int(run_time // 20) + 1) * 100), 10


__all__ = ["Superadmin", "Approver", "InstitutionAdmin", "ApiClient", "SignIn", "Unexpected"]
