"""Customers: list with filters and sorting, detail, edit (validated, audited, stale edits refused)."""

from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditLog
from app.database import utcnow
from app.personal_data import vault
from app.platform.models import Customer
from app.users.models import Role


def test_filters_sorting_and_paging(app, db, make_user, make_institution, make_customer, staff, monkeypatch):
    bank = make_institution(code="BANK01")
    now = utcnow()
    make_customer(institution=bank, full_name="Ayu Lestari", email="ayu@contoh.co.id",
                  created_at=now - timedelta(days=40))
    make_customer(institution=bank, full_name="Budi Santoso", email="budi@contoh.co.id", is_active=False)
    make_customer(full_name="Citra Dewi", email="citra@contoh.co.id", phone="+62 811 555")
    forms = staff(make_user(Role.ADMIN))
    get = lambda url: forms.client.get(url).get_data(as_text=True)  # noqa: E731
    page = get("/customers")
    assert page.index("Citra Dewi") < page.index("Ayu Lestari")  # newest first
    by_name = get("/customers?sort=name")
    assert by_name.index("Ayu Lestari") < by_name.index("Budi Santoso") < by_name.index("Citra Dewi")
    assert "Budi" not in get("/customers?active=yes") and "Budi" in get("/customers?active=no")
    assert "Citra" not in get(f"/customers?institution={bank.id}")
    assert "Citra" in get("/customers?q=555") and "Ayu" not in get("/customers?q=555")
    old = get(f"/customers?created_to={(now - timedelta(days=30)).date().isoformat()}")
    assert "Ayu" in old and "Budi" not in old
    bad = get("/customers?created_from=2026-13-01")
    assert "Enter dates as YYYY-MM-DD." in bad and "Ayu" in bad  # the bad filter is not applied
    reversed_range = get("/customers?created_from=2026-02-01&created_to=2026-01-01")
    assert "The first date is after the second." in reversed_range
    assert "Choose one of the offered values." in get("/customers?active=maybe")
    assert "Choose one of the offered values." in get("/customers?institution=abc")

    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 2)
    first = get("/customers?sort=email")
    assert "ayu@" in first and "budi@" in first and "citra@" not in first and 'rel="next"' in first
    next_url = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = get(next_url)
    assert "citra@" in second and "ayu@" not in second and 'rel="prev"' in second
    broken = forms.client.get("/customers?cursor=not-a-cursor")
    assert broken.status_code == 400 and "Go to the first page" in broken.get_data(as_text=True)


def test_empty_customer_list_points_to_the_import(db, make_user, staff):
    page = staff(make_user(Role.ADMIN)).client.get("/customers").get_data(as_text=True)
    assert "No customers yet." in page and "/customers/import" in page


def test_csv_export_follows_the_filter_and_defuses_formulas(db, make_user, make_institution, make_customer, staff):
    bank = make_institution(code="BANK01")
    make_customer(institution=bank, full_name="=HYPERLINK(\"http://x\")", email="evil@contoh.co.id")
    make_customer(full_name="Elsewhere", email="else@contoh.co.id")
    forms = staff(make_user(Role.ADMIN))
    export = forms.client.get(f"/customers?institution={bank.id}&format=csv", buffered=True).get_data(as_text=True)
    lines = export.splitlines()
    assert lines[0] == "id,full_name,email,phone,institution_code,active,created_at"
    assert len(lines) == 2 and "'=HYPERLINK" in lines[1] and "BANK01" in lines[1] and "+07:00" in lines[1]


def test_detail_and_edit(db, make_user, make_customer, make_transaction, staff):
    customer = make_customer(full_name="Dewi", email="dewi@contoh.co.id")
    make_customer(institution=customer.institution, email="taken@contoh.co.id")
    make_transaction(customer=customer, amount_idr=1_250_000)
    forms = staff(make_user(Role.INSTITUTION_ADMIN, institution=customer.institution, email="ia@example.com"))
    detail = forms.client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "IDR\u00a01,250,000" in detail and "No changes have been recorded yet." in detail
    url = f"/customers/{customer.id}/edit"
    for data, message in [({"email": "not-an-email"}, "Enter a valid e-mail address."),
                          ({"email": "taken@contoh.co.id"}, "already uses this e-mail address"),
                          ({"phone": "call me"}, "Enter a phone number"),
                          ({"full_name": ""}, "Enter a name.")]:
        form = {"full_name": "Dewi", "email": "dewi@contoh.co.id", "phone": "", "is_active": "y", "version": 1, **data}
        response = forms.post(url, form)
        assert response.status_code == 400 and message in response.get_data(as_text=True), message
    saved = forms.post(url, {"full_name": "Dewi  Lestari", "email": "Dewi.L@Contoh.co.id", "phone": "+62 811 1",
                             "version": 1})
    assert saved.status_code == 302
    db.session.expire_all()
    customer = db.session.get(Customer, customer.id)
    assert (customer.full_name, customer.email, customer.is_active) == ("Dewi Lestari", "dewi.l@contoh.co.id", False)
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "CUSTOMER_UPDATE")).all()
    # Personal fields are stored sealed under the customer's key, and shown in the clear.
    assert all(vault.is_sealed(value) for value in entry.changes["email"].values())
    assert vault.reveal_json(entry.changes["email"]) == {"before": "dewi@contoh.co.id", "after": "dewi.l@contoh.co.id"}
    assert "dewi@contoh.co.id" not in entry.description and "dewi.l@contoh.co.id" not in (entry.resource_repr or "")
    assert entry.changes["is_active"] == {"before": True, "after": False}
    assert "dewi.l@contoh.co.id" in forms.client.get(f"/customers/{customer.id}").get_data(as_text=True)
    stale = forms.post(url, {"full_name": "Other", "email": "dewi@contoh.co.id", "version": 1})
    assert stale.status_code == 409 and "ia@example.com changed this at" in stale.get_data(as_text=True)
    unchanged = forms.post(url, {"full_name": "Dewi Lestari", "email": "dewi.l@contoh.co.id", "phone": "+62 811 1",
                                 "version": 2})
    assert unchanged.status_code == 302
    assert "Nothing changed." in forms.client.get(unchanged.headers["Location"]).get_data(as_text=True)
