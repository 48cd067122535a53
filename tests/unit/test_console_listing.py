"""The shared list pattern: filter parsing, sort links, paging both ways, CSV export and its limit."""

from datetime import UTC, datetime

import pytest
from werkzeug.datastructures import MultiDict

from app.listing import AmountRangeFilter, ChoiceFilter, DateRangeFilter, Filter, csv_cell
from app.security.actor import Actor
from app.settings import services as settings
from app.users.models import Role


@pytest.mark.parametrize(("raw", "value", "error"), [
    ({"amount_min": "Rp 1.500.000"}, (1_500_000, None), None),
    ({"amount_max": "IDR2,000"}, (None, 2000), None),
    ({"amount_min": "5", "amount_max": "4"}, None, "The smallest amount is larger than the largest."),
    ({"amount_min": "-3"}, None, "Enter whole amounts"),
    ({"amount_min": "9" * 17}, None, "Enter whole amounts"),
    ({}, None, None),
])
def test_amount_range(raw, value, error):
    got, problem = AmountRangeFilter("amount", "Amount").parse(MultiDict(raw))
    assert got == value and (problem is None if error is None else error in str(problem))


def test_date_range_is_inclusive_in_the_display_time_zone(app):
    with app.app_context():
        (start, end), error = DateRangeFilter("created", "Created").parse(
            MultiDict({"created_from": "2026-03-01", "created_to": "2026-03-01"}))
    assert error is None
    assert start == datetime(2026, 2, 28, 17, tzinfo=UTC) and end == datetime(2026, 3, 1, 17, tzinfo=UTC)


def test_search_and_choices():
    assert Filter("q", "Search").parse(MultiDict({"q": "  x  "})) == ("x", None)
    assert "100 characters" in str(Filter("q", "Search").parse(MultiDict({"q": "x" * 101}))[1])
    assert ChoiceFilter("s", "S", (("a", "A"),)).parse(MultiDict({"s": "b"}))[0] is None
    assert ChoiceFilter("i", "I", integer=True).parse(MultiDict({"i": "12"})) == (12, None)


def test_csv_cells(app):
    with app.app_context():
        assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("-2") == "'-2" and csv_cell(-2) == -2
        assert csv_cell(None) == "" and csv_cell(True) == "yes" and csv_cell("plain") == "plain"
        assert csv_cell(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T07:00:00+07:00"


def test_sort_links_flip_and_paging_goes_back(app, db, make_user, make_institution, staff, monkeypatch):
    for n in range(5):
        make_institution(name=f"Inst {n}", code=f"IN{n:02d}")
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 2)
    forms = staff(make_user(Role.ADMIN))
    first = forms.client.get("/institutions?sort=code").get_data(as_text=True)
    assert 'href="/institutions?sort=code&amp;order=desc"' in first  # the current column flips
    assert 'href="/institutions?sort=name&amp;order=asc"' in first
    assert "IN00" in first and "IN02" not in first
    second_url = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = forms.client.get(second_url).get_data(as_text=True)
    assert "IN02" in second and "IN03" in second
    back_url = second.split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")
    back = forms.client.get(back_url).get_data(as_text=True)
    assert "IN00" in back and "IN01" in back and "IN02" not in back
    assert "format=csv" in back and "cursor" not in back.split('data-testid="export-csv"')[1].split(">")[0]


def test_csv_exports_are_limited_per_person_per_hour(db, make_user, staff, frozen_clock):
    settings.update(Actor.system("test"), "csv_exports_per_hour", 2)
    db.session.commit()
    forms = staff(make_user(Role.ADMIN))
    assert forms.client.get("/institutions?format=csv", buffered=True).status_code == 200
    assert forms.client.get("/customers?format=csv", buffered=True).status_code == 200
    refused = forms.client.get("/transactions?format=csv", buffered=True)
    assert refused.status_code == 429 and "Too many requests" in refused.get_data(as_text=True)
    assert staff(make_user(Role.ADMIN)).client.get("/institutions?format=csv", buffered=True).status_code == 200


def test_transaction_and_approval_filters(db, make_user, make_customer, make_transaction, make_approval, staff):
    from datetime import timedelta

    from app.database import utcnow

    now = utcnow()
    dewi = make_customer(email="dewi@contoh.co.id")
    small = make_transaction(customer=dewi, amount_idr=50_000, reference="TRX-SMALL-1", created_at=now)
    big = make_transaction(amount_idr=9_000_000, reference="TRX-BIG-1", created_at=now - timedelta(days=10),
                           status="approved")
    make_approval(kind="refund", summary="Refund asked", requested_at=now - timedelta(days=10))
    make_approval(kind="limit_increase", summary="Limit asked", requested_at=now)
    forms = staff(make_user(Role.ADMIN))

    def shown(url: str) -> set[str]:
        page = forms.client.get(url).get_data(as_text=True)
        return {ref for ref in ("TRX-SMALL-1", "TRX-BIG-1", "Refund asked", "Limit asked") if ref in page}

    assert shown("/transactions?q=trx-small-1") == {"TRX-SMALL-1"}
    assert shown("/transactions?q=DEWI@contoh.co.id") == {"TRX-SMALL-1"}
    assert shown("/transactions?amount_min=1.000.000") == {"TRX-BIG-1"}
    assert shown("/transactions?amount_max=100000") == {"TRX-SMALL-1"}
    assert shown("/transactions?status=approved") == {"TRX-BIG-1"}
    assert shown(f"/transactions?institution={dewi.institution_id}") == {"TRX-SMALL-1"}
    recent = (now - timedelta(days=2)).date().isoformat()
    assert shown(f"/transactions?created_from={recent}") == {"TRX-SMALL-1"}
    assert shown(f"/transactions?created_to={recent}") == {"TRX-BIG-1"}
    assert shown("/approvals?kind=refund") == {"Refund asked"}
    assert shown(f"/approvals?requested_from={recent}") == {"Limit asked"}
    assert shown(f"/approvals?requested_to={recent}") == {"Refund asked"}
    assert small.id and big.id
