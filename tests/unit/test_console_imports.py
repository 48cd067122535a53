"""Bulk import of customers: preview with line-by-line errors, all-or-nothing import, audit."""

import hashlib
import io
import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email
from openpyxl import Workbook
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.platform.models import Customer, CustomerImport
from app.platform.services import customer_validation
from app.users.models import Role


def upload(forms, content: bytes, filename: str = "customers.csv"):
    return forms.client.post("/customers/import", data={
        "csrf_token": forms.token("/customers/import"), "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data")


def customers(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


@pytest.fixture
def two_institutions(make_institution):
    return make_institution(code="BANK01", name="Bank Satu"), make_institution(code="BANK02", name="Bank Dua")


def test_a_bad_line_is_shown_and_nothing_is_imported(db, make_user, staff, two_institutions, make_customer):
    first, second = two_institutions
    make_customer(institution=first, email="taken@contoh.co.id")
    inactive = customer_validation.Institutions.load(None)  # noqa: F841 (loads without error before the upload)
    forms = staff(make_user(Role.ADMIN))
    content = (
        b"full_name,email,phone,institution_code\n"
        b"Dewi Lestari,dewi@contoh.co.id,+62 812 1111 2222,BANK01\n"
        b"Budi Santoso,not-an-email,,BANK01\n"
        b"Citra Dewi,citra@contoh.co.id,,NOPE\n"
        b"Dewi Kembar,DEWI@contoh.co.id,,bank01\n"
        b"Lama,taken@contoh.co.id,,BANK01\n"
        b"Short,short@contoh.co.id\n"
        b"Ponsel,ponsel@contoh.co.id,call me,BANK02\n"
        b",kosong@contoh.co.id,,BANK02\n"
        b"Esc\x1bape,esc@contoh.co.id,,BANK02\n"
    )
    response = upload(forms, content)
    assert response.status_code == 302
    staged = db.session.scalars(select(CustomerImport)).one()
    assert staged.file_sha256 == hashlib.sha256(content).hexdigest()
    assert (staged.row_count, staged.error_count) == (9, 8)
    page = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    for line, message in [(3, "This is not a valid e-mail address."), (4, "Unknown institution code."),
                          (5, "Duplicate: line 2 has the same e-mail for this institution."),
                          (6, "A customer with this e-mail already exists in this institution."),
                          (7, "This line has 2 values but the header has 4 columns."),
                          (8, "Enter a phone number"), (9, "Enter a name of 1 to 200 characters."),
                          (10, "Remove the control characters")]:
        assert f"<tr><td>{line}</td>" in page and message in page, (line, message)
    assert "Nothing can be imported while the file has problems." in page
    assert "Import 1 customer" not in page and "customer_import_confirm" not in page
    before = customers(db)
    refused = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                         page=response.headers["Location"])
    assert refused.status_code == 409 and "nothing was imported" in refused.get_data(as_text=True)
    assert customers(db) == before
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "CUSTOMER_BULK_IMPORT")) is None


def test_the_fixed_file_is_imported_all_at_once_with_one_audit_entry(db, make_user, staff, two_institutions):
    forms = staff(make_user(Role.ADMIN))
    content = ("Full Name;E-mail;Phone;Institution Code\n"
               "Dewi Lestari;dewi@contoh.co.id;+62 812 1111 2222;BANK01\n"
               "\n"
               "Budi Santoso;budi@contoh.co.id;;BANK02\n"
               "Citra;citra@contoh.co.id;;bank02\n").encode("utf-8-sig")
    response = upload(forms, content, "batch-1.csv")
    preview = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 customers are ready to import." in preview and "Import 3 customers" in preview
    staged = db.session.scalars(select(CustomerImport)).one()
    done = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                      page=response.headers["Location"])
    assert done.status_code == 302
    assert "Imported 3 customers from batch-1.csv." in forms.client.get(done.headers["Location"]).get_data(as_text=True)
    rows = db.session.execute(select(Customer.email, Customer.phone).order_by(Customer.email)).all()
    assert rows == [("budi@contoh.co.id", None), ("citra@contoh.co.id", None),
                    ("dewi@contoh.co.id", "+62 812 1111 2222")]
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_BULK_IMPORT")).all()
    sha = hashlib.sha256(content).hexdigest()
    assert entry.changes["customers"] == {"before": 0, "after": 3}
    assert entry.changes["file"] == {"name": "batch-1.csv", "sha256": sha, "bytes": len(content), "lines": 3}
    assert entry.changes["by_institution"] == {"BANK01": 1, "BANK02": 2}
    assert sha in entry.description and entry.institution_id is None
    db.session.expire_all()
    assert db.session.get(CustomerImport, staged.id).content is None
    again = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": sha}, page=done.headers["Location"])
    assert again.status_code == 302 and customers(db) == 3
    assert "already imported" in forms.client.get(again.headers["Location"]).get_data(as_text=True)


def test_xlsx_file_is_read_like_csv(db, make_user, staff, two_institutions):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["full_name", "email", "phone", "institution_code"])
    sheet.append(["Eka Putri", "eka@contoh.co.id", 6281234567890, "BANK01"])
    sheet.append(["Fajar", "fajar@@contoh", None, "BANK01"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, buffer.getvalue(), "Customers.XLSX")
    page = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<tr><td>3</td>" in page and "This is not a valid e-mail address." in page
    assert "6281234567890" in page  # a number typed into a cell keeps its digits


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"", "x.csv", "The file is empty."),
    (b"full_name,email\n", "notes.txt", "Upload a .csv or .xlsx file."),
    (b"plain text", "x.xlsx", "This .xlsx file is not an Excel workbook."),
])
def test_files_refused_before_any_preview(db, make_user, staff, content, filename, message):
    response = upload(staff(make_user(Role.ADMIN)), content, filename)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalars(select(CustomerImport)).all() == []


@pytest.mark.parametrize(("content", "message"), [
    (b"nama,email\nA,a@contoh.co.id,\n", "<td>—</td><td><code>nama</code></td><td>Unknown column."),
    (b"<b>x</b>,email\n", "<code>&lt;b&gt;x&lt;/b&gt;</code>"),
    (b"full_name,email,E-Mail,institution_code\n", "<td>email</td><td><code></code></td><td>This column appears twice"),
    (b"name,email\nA,a@contoh.co.id\n", "<td>institution_code</td><td><code></code></td><td>This column is missing."),
    (b"full_name,email,institution_code\n", "The file has a header but no customers."),
    (b"\xff\xfefull_name", "The file is not UTF-8 text."),
    (b'full_name,email,institution_code\n"' + b"x" * 140_000 + b'",a,b\n', "cannot be read as CSV"),
    (b"PK\x03\x04broken", "cannot be read"),
])
def test_file_level_problems_are_explained(db, make_user, staff, two_institutions, content, message):
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, content, "bad.xlsx" if content.startswith(b"PK") else "bad.csv")
    page = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page, page[-3000:]
    assert "customer_import_confirm" not in page


def test_institution_admin_imports_only_into_their_institution(db, make_user, staff, two_institutions):
    own, other = two_institutions
    forms = staff(make_user(Role.INSTITUTION_ADMIN, institution=own))
    form_page = forms.client.get("/customers/import").get_data(as_text=True)
    assert "Every customer goes into your institution, BANK01" in form_page
    response = upload(forms, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK02\nB,b@contoh.co.id,\n"
                             b"C,c@contoh.co.id,bank01\n")
    page = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You can import only into your own institution (BANK01)." in page
    without_column = upload(forms, b"full_name,email\nA,a@contoh.co.id\n")
    staged = db.session.scalars(select(CustomerImport).order_by(CustomerImport.id.desc())).first()
    forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
               page=without_column.headers["Location"])
    assert db.session.execute(select(Customer.email, Customer.institution_id)).all() == [("a@contoh.co.id", own.id)]


def test_deactivated_institution_takes_no_imports(db, make_user, staff, two_institutions):
    two_institutions[1].is_active = False
    db.session.flush()
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK02\n")
    assert "This institution is deactivated." in forms.client.get(response.headers["Location"]).get_data(as_text=True)


def test_institution_deactivated_after_the_preview(db, make_user, staff, two_institutions):
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK01\nB,b@contoh.co.id,BANK02\n")
    staged = db.session.scalars(select(CustomerImport)).one()
    assert staged.validated_rows and staged.institution_counts == {str(i.id): 1 for i in two_institutions}
    two_institutions[1].is_active = False
    db.session.commit()
    refused = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                         page=response.headers["Location"])
    assert refused.status_code == 409
    assert "<tr><td>3</td>" in refused.get_data(as_text=True) and "This institution is deactivated." in \
        refused.get_data(as_text=True)
    assert customers(db) == 0


def test_an_upload_is_seen_only_by_its_uploader(db, make_user, staff, two_institutions):
    owner, other = staff(make_user(Role.ADMIN)), staff(make_user(Role.SUPERADMIN))
    response = upload(owner, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK01\n")
    staged = db.session.scalars(select(CustomerImport)).one()
    assert other.client.get(response.headers["Location"]).status_code == 404
    assert other.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                      page="/customers/import").status_code == 404
    wrong_file = owner.post(f"/customers/import/{staged.id}/confirm", {"sha256": "0" * 64},
                            page=response.headers["Location"])
    assert "This is not the file you previewed." in owner.client.get(wrong_file.headers["Location"]).get_data(
        as_text=True)
    discard = owner.post(f"/customers/import/{staged.id}/discard", {}, page=response.headers["Location"])
    assert discard.status_code == 302 and customers(db) == 0
    assert "discarded" in owner.client.get(response.headers["Location"]).get_data(as_text=True)


def test_import_refuses_rows_someone_added_meanwhile(db, make_user, staff, two_institutions, make_customer):
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK01\nB,b@contoh.co.id,BANK01\n")
    staged = db.session.scalars(select(CustomerImport)).one()
    make_customer(institution=two_institutions[0], email="b@contoh.co.id")  # after the preview
    refused = forms.post(f"/customers/import/{staged.id}/confirm", {"sha256": staged.file_sha256},
                         page=response.headers["Location"])
    assert refused.status_code == 409
    assert "A customer with this e-mail already exists" in refused.get_data(as_text=True)
    assert customers(db) == 1


def test_unique_violation_during_the_insert_imports_nothing(db, two_institutions, make_customer):
    from sqlalchemy.exc import IntegrityError

    from app.platform.services import imports

    make_customer(institution=two_institutions[0], email="dup@contoh.co.id")
    with pytest.raises(IntegrityError):
        imports.insert_customers([(two_institutions[0].id, "New", "new@contoh.co.id", None),
                                  (two_institutions[0].id, "Dup", "dup@contoh.co.id", None)])
    assert customers(db) == 1


def test_old_uploads_are_forgotten(db, make_user, staff, two_institutions):
    from datetime import timedelta

    from app.database import utcnow

    forms = staff(make_user(Role.ADMIN))
    upload(forms, b"full_name,email,institution_code\nA,a@contoh.co.id,BANK01\n")
    old = db.session.scalars(select(CustomerImport)).one()
    old.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    upload(forms, b"full_name,email,institution_code\nB,b@contoh.co.id,BANK01\n")
    db.session.expire_all()
    old = db.session.get(CustomerImport, old.id)
    assert (old.status, old.content) == ("discarded", None)
    page = forms.client.get(f"/customers/import/{old.id}").get_data(as_text=True)
    assert "This upload was discarded" in page


def test_too_many_rows_and_too_large_files(db, make_user, staff, two_institutions, monkeypatch):
    from app.platform.services import imports

    forms = staff(make_user(Role.ADMIN))
    monkeypatch.setattr(customer_validation, "MAX_ROWS", 2)
    response = upload(forms, b"full_name,email,institution_code\n" + b"A,a@x.co.id,BANK01\n" * 3)
    assert "A file may hold at most 2 customers" in forms.client.get(response.headers["Location"]).get_data(
        as_text=True)
    monkeypatch.setattr(imports, "MAX_FILE_BYTES", 10)
    too_big = upload(forms, b"full_name,email,institution_code\n")
    assert too_big.status_code == 400 and "larger than" in too_big.get_data(as_text=True)


def test_only_the_first_errors_are_listed(db, make_user, staff, two_institutions, monkeypatch):
    monkeypatch.setattr(customer_validation, "MAX_REPORTED_ERRORS", 2)
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, b"full_name,email,institution_code\n" + b"A,bad,BANK01\n" * 5)
    page = forms.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "5 problems on 5 lines." in page and "Only the first 2 problems are listed." in page


# The fast path of the e-mail check must never accept what email_validator refuses.
TRICKY = [
    "a@b.co", "a.b@c.id", "a..b@c.id", ".a@c.id", "a.@c.id", "a@c", "a@-c.id", "a@c-.id", "a@c..id", "a@xn--p1ai.id",
    "a@ab--cd.id", "a@c.test", "a@c.local", "a@c.onion", "a@localhost", "a@c.123", "a@1.2.3.4", "a+tag@c.id",
    "a%b@c.id", "_@c.id", "-@c.id", "a@c_d.id", "x" * 64 + "@c.id", "x" * 65 + "@c.id", "a@" + "b" * 63 + ".id",
    "a@" + "b" * 64 + ".id", "a@" + ".".join(["b" * 60] * 5) + ".id", "A@C.ID", "dewi@contoh.co.id", "a@c.i",
    "a b@c.id", "a@c .id", "Ä@c.id", "a@ç.id", "a@c.id.", "@c.id", "a@", "a@@c.id", "a@[1.2.3.4]", '"a"@c.id',
]


def reference(email: str) -> str | None:
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize("email", TRICKY)
def test_email_check_agrees_with_email_validator(email):
    assert customer_validation.normalised_email(email) == reference(email)


def test_email_check_agrees_on_random_addresses():
    rng = random.Random(6)
    alphabet = string.ascii_lowercase + string.digits + ".-_+%@"
    for _ in range(5000):
        email = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 20)))
        if rng.random() < 0.5:
            email = email.replace("@", "") + "@" + rng.choice(["contoh.co.id", "a.b", "x-y.com", "c.test", "d.io"])
        assert customer_validation.normalised_email(email) == reference(email), email


def test_a_file_name_with_a_nul_byte_is_refused(db, make_user, staff):
    forms = staff(make_user(Role.ADMIN))
    response = upload(forms, b"full_name,email\n", filename="a\x00.csv")
    assert response.status_code == 400 and "Remove the control characters" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CustomerImport)) == 0
