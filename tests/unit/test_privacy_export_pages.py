"""The export pages: started with step-up, run in the background, downloaded once ready by the
person who started it and nobody else, deleted after its hours; audited without personal data;
and the ``flask privacy export`` and ``purge-exports`` commands."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import pytest
from sqlalchemy import select

from app.audit.models import AuditLog
from app.database import transaction
from app.extensions import db
from app.jobs import services as jobs
from app.personal_data import vault
from app.platform.models import Customer, Transaction
from app.privacy import exports
from app.settings import services as settings
from app.users import services as users
from app.users.models import Role
from tests.backups_helpers import ACTOR, add_customers, make_superadmin, signed_in_client, sqlite_app_with_customers
from tests.backups_helpers import wait_for_job as wait_for
from tests.conftest import csrf_token_from


@pytest.fixture
def app(tmp_path):
    with sqlite_app_with_customers(tmp_path) as application:
        yield application


@pytest.fixture
def customer_id(app):
    add_customers(1, prefix="Rina")
    with transaction():
        customer = db.session.scalars(select(Customer)).one()
        db.session.add_all(Transaction(reference=f"TRX-RINA-{n}", customer_id=customer.id,
                                       institution_id=customer.institution_id, amount_idr=1000 * n)
                           for n in range(1, 6))
        return customer.id


def post(client, url, data=None, page=None):
    token = csrf_token_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def start(client, customer_id, **data) -> str:
    response = post(client, f"/privacy/exports/new/customer/{customer_id}", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert wait_for(job_id).state == "succeeded"
    return job_id


def entries(action: str) -> list[AuditLog]:
    db.session.remove()
    return db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_start_watch_and_download(app, customer_id):
    root = make_superadmin()
    page = signed_in_client(app, root).get(f"/privacy/exports/new/customer/{customer_id}")
    assert page.status_code == 302 and page.headers["Location"].startswith("/step-up")  # step-up first
    client = signed_in_client(app, root, stepped_up=True)
    form = client.get(f"/privacy/exports/new/customer/{customer_id}").get_data(as_text=True)
    assert "Rina 0 &lt;rina0@example.com&gt;" in form and "Request reference (optional)" in form
    assert f'href="/customers/{customer_id}"' in form  # cancel goes back to the customer

    job_id = start(client, customer_id, request_ref="DSR-7")
    status = client.get(f"/privacy/exports/{job_id}").get_data(as_text=True)
    assert 'data-testid="export-ready"' in status and "The export is ready: 5 payments" in status
    assert client.get(f"/jobs/{job_id}").get_json()["title"] == "Export of personal data"
    response = post(client, f"/privacy/exports/{job_id}/download", page=f"/privacy/exports/{job_id}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"personal-data-customer-{customer_id}-" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert json.loads(archive.read("manifest.json"))["counts"]["transactions"] == 5
    assert archive.read("customer.json").decode().count("rina0@example.com") == 1
    response.close()

    started, finished, downloaded = (entries(a) for a in ("PRIVACY_EXPORT_START", "PRIVACY_EXPORT_FINISH",
                                                             "PRIVACY_EXPORT_DOWNLOAD"))
    assert len(started) == len(finished) == len(downloaded) == 1
    for entry in (*started, *finished, *downloaded):
        assert (entry.resource_type, entry.resource_id, entry.resource_repr) == ("customer", str(customer_id), None)
        assert vault.reveal(entry.actor_email) == root.email
        stored = " ".join(str(v) for v in (entry.description, entry.changes))
        assert "Rina" not in stored and "rina0" not in stored and job_id in stored
    assert started[0].changes["request"] == "DSR-7" and finished[0].changes["counts"]["transactions"] == 5
    assert finished[0].changes["sha256"] in status


def test_only_the_person_who_started_it_sees_and_downloads_it(app, customer_id):
    root, other = make_superadmin(), make_superadmin("other@example.com")
    job_id = start(signed_in_client(app, root, stepped_up=True), customer_id)
    stranger = signed_in_client(app, other, stepped_up=True)
    assert stranger.get(f"/privacy/exports/{job_id}").status_code == 404
    assert post(stranger, f"/privacy/exports/{job_id}/download", page="/dashboard").status_code == 404
    assert stranger.get(f"/jobs/{job_id}").status_code == 404
    assert entries("PRIVACY_EXPORT_DOWNLOAD") == []
    # Downloading asks for a fresh step-up even of the person who started it.
    stale = signed_in_client(app, root)
    refused = post(stale, f"/privacy/exports/{job_id}/download", page=f"/privacy/exports/{job_id}")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/step-up")


def test_staff_without_the_permission_cannot_export(app, customer_id):
    with transaction():
        admin = users.create_user(ACTOR, email="admin@example.com", display_name="Admin", role=Role.ADMIN,
                                  password="correct horse battery staple")
    client = signed_in_client(app, admin, stepped_up=True)
    assert client.get(f"/privacy/exports/new/customer/{customer_id}").status_code == 403
    assert "Export personal data" not in client.get(f"/customers/{customer_id}").get_data(as_text=True)
    root = signed_in_client(app, make_superadmin(), stepped_up=True)
    assert "Export personal data" in root.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert root.get("/privacy/exports/new/customer/987654").status_code == 404
    assert root.get("/privacy/exports/new/institution/1").status_code == 404


def test_a_finished_export_is_deleted_after_its_hours(app, customer_id, monkeypatch):
    root = make_superadmin()
    client = signed_in_client(app, root, stepped_up=True)
    job_id = start(client, customer_id)
    path = exports.file_of(job_id)
    assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o600"
    with transaction():
        settings.update(ACTOR, "privacy_export_keep_hours", "2")
    old = time.time() - 2 * 3600 - 5
    os.utime(path, (old, old))
    page = client.get(f"/privacy/exports/{job_id}").get_data(as_text=True)
    assert 'data-testid="export-gone"' in page and 'data-testid="export-ready"' not in page
    refused = post(client, f"/privacy/exports/{job_id}/download", page=f"/privacy/exports/{job_id}")
    assert refused.status_code == 302 and refused.headers["Location"] == f"/privacy/exports/{job_id}"
    assert "no longer available" in client.get(refused.headers["Location"]).get_data(as_text=True)
    assert path.is_file()  # a GET or a refusal deletes nothing; the next export or the command does

    second = start(client, customer_id)  # each export job first deletes the expired ones
    assert not path.exists() and exports.file_of(second).is_file()
    [deleted] = entries("PRIVACY_EXPORT_DELETE")
    assert deleted.changes == {"jobs": [job_id]}
    os.utime(exports.file_of(second), (old, old))
    result = app.test_cli_runner().invoke(args=["privacy", "purge-exports"])
    assert result.exit_code == 0 and "1 export(s) deleted." in result.output
    assert not exports.file_of(second).exists() and len(entries("PRIVACY_EXPORT_DELETE")) == 2


def test_an_export_of_a_person_who_is_gone_fails_and_leaves_nothing(app, customer_id):
    root = make_superadmin()
    client = signed_in_client(app, root, stepped_up=True)
    with transaction():
        job_id = exports.start(ACTOR, "customer", customer_id)
        db.session.execute(Transaction.__table__.delete())
        db.session.execute(Customer.__table__.delete())
    record = wait_for(job_id)
    assert (record.state, record.outcome) == ("failed", "no_such_person")
    assert not exports.file_of(job_id).exists() and entries("PRIVACY_EXPORT_FINISH") == []
    assert list(exports.directory().iterdir()) == []  # no staging left either
    assert client.get(f"/privacy/exports/{job_id}").status_code == 404  # started by a command: nobody's
    assert jobs.get(job_id).outcome == "no_such_person"


def test_the_export_command(app, customer_id, tmp_path):
    runner = app.test_cli_runner()
    output = tmp_path / "rina.zip"
    result = runner.invoke(args=["privacy", "export", "customer", str(customer_id), "--output", str(output)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["counts"]["transactions"] == 5 and summary["bytes"] == output.stat().st_size
    assert zipfile.ZipFile(output).testzip() is None
    again = runner.invoke(args=["privacy", "export", "customer", str(customer_id), "--output", str(output)])
    assert again.exit_code == 1 and "exists" in again.output
    missing = runner.invoke(args=["privacy", "export", "customer", "987654", "--output", str(tmp_path / "x.zip")])
    assert missing.exit_code == 1 and "there is no customer 987654" in missing.output
    assert not (tmp_path / "x.zip").exists()
    [finished] = entries("PRIVACY_EXPORT_FINISH")
    assert finished.actor_email == "cli" and finished.changes["sha256"] == summary["sha256"]
