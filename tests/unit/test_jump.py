"""The jump box: each kind is found by reference, e-mail or name, only within the role's scope,
LIKE wildcards are taken literally, and a bad query is a 400 with a message (nothing changes)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditLog
from app.search import services
from app.search.query import MAX_LENGTH, InvalidQuery, parse_query
from app.security.actor import Actor
from app.users.models import Role, User

ROLES = (Role.CUSTOMER, Role.INSTITUTION_ADMIN, Role.ADMIN, Role.SUPERADMIN, Role.PRIVACY_OFFICER)


@pytest.fixture
def world(db, make_institution, make_customer, make_transaction, make_user, write_audit):
    """Two institutions ("own" and "other"), each with a customer, a transaction, a customer
    account, an institution admin and an audit entry; plus a staff admin and a superadmin."""
    rows = {}
    for name in ("own", "other"):
        institution = make_institution(name=f"Bank {name.title()} Nusantara", code=f"{name.upper()}01")
        customer = make_customer(institution=institution, full_name=f"Sari {name.title()}wati",
                                 email=f"sari.{name}@contoh.co.id")
        tx = make_transaction(customer=customer, reference=f"TRX-{name.upper()}-000001", amount_idr=1_500_000)
        account = make_user(Role.CUSTOMER, institution=institution, email=f"akun.{name}@contoh.co.id",
                            display_name=f"Akun {name.title()}")
        admin = make_user(Role.INSTITUTION_ADMIN, institution=institution, email=f"admin.{name}@contoh.co.id",
                          display_name=f"Admin {name.title()}")
        entry = write_audit("CUSTOMER_UPDATE", resource=customer,
                            actor=Actor(user_id=admin.id, email=admin.email, role=admin.role,
                                        institution_id=institution.id, request_id=f"request-{name}-0001"))
        rows[name] = {"institution": institution, "customer": customer, "transaction": tx, "account": account,
                      "admin": admin, "entry_id": db.session.scalar(select(func.max(AuditLog.id)))}
        assert entry is not None
    rows["admin"] = make_user(Role.ADMIN, email="staff.admin@contoh.co.id", display_name="Staff Admin")
    rows["superadmin"] = make_user(Role.SUPERADMIN, email="chief@contoh.co.id", display_name="Chief")
    rows["privacy_officer"] = make_user(Role.PRIVACY_OFFICER, email="dpo@contoh.co.id", display_name="Dina Privasi")
    db.session.commit()
    return rows


def actor_of(user: User) -> Actor:
    return Actor.for_user(user)


def found(app, user: User, text: str) -> list[tuple[str, str]]:
    with app.test_request_context():
        return [(r.kind.value, r.url) for r in services.jump(actor_of(user), parse_query(text))]


def urls(app, user: User, text: str) -> set[str]:
    return {url for _kind, url in found(app, user, text)}


# --- parsing ---------------------------------------------------------------------------


def test_query_is_trimmed_and_spaces_collapsed():
    assert parse_query("  Sari \u00a0  Own  ").text == "Sari Own"
    assert parse_query(None).text == ""
    assert parse_query("#42").number == 42 and parse_query("42").number == 42 and parse_query("4 2").number is None


@pytest.mark.parametrize("bad", ["a\x00b", "\x00", "tab\there", "line\nbreak", "bell\x07", "c1\x85", "sep\u2028"])
def test_control_characters_are_refused_with_a_message(bad):
    with pytest.raises(InvalidQuery) as refused:
        parse_query(bad)
    assert "control character" in str(refused.value.message)


def test_overlong_query_is_refused():
    parse_query("x" * MAX_LENGTH)
    with pytest.raises(InvalidQuery) as refused:
        parse_query("x" * (MAX_LENGTH + 1))
    assert "at most 100 characters" in str(refused.value.message)


# --- each kind ---------------------------------------------------------------------------


def test_superadmin_finds_each_kind_by_reference_email_or_name(app, world):
    chief, own = world["superadmin"], world["own"]
    customer_url = f"/customers/{own['customer'].id}"
    assert ("customer", customer_url) in found(app, chief, "sari.own@contoh.co.id")  # exact e-mail
    assert ("customer", customer_url) in found(app, chief, "SARI.OWN@")  # e-mail prefix, any case
    assert ("customer", customer_url) in found(app, chief, "ownwati")  # part of the name
    assert found(app, chief, "trx-own-000001") == [("transaction", f"/transactions/{own['transaction'].id}")]
    assert ("institution", f"/institutions/{own['institution'].id}") in found(app, chief, "own01")  # code
    assert ("institution", f"/institutions/{own['institution'].id}") in found(app, chief, "own nusa")  # name
    assert ("user", f"/users/{own['account'].id}") in found(app, chief, "akun.own@contoh.co.id")
    assert ("user", f"/users/{own['admin'].id}") in found(app, chief, "admin own")
    assert found(app, chief, "request-own-0001") == [("audit_entry", f"/audit/{own['entry_id']}")]
    assert ("audit_entry", f"/audit/{own['entry_id']}") in found(app, chief, f"#{own['entry_id']}")


def test_results_come_by_kind_exact_matches_first(app, world, make_customer):
    own = world["own"]
    make_customer(institution=own["institution"], full_name="Aaron Sari.own", email="sari.own.second@contoh.co.id")
    with app.test_request_context():
        results = services.jump(actor_of(world["superadmin"]), parse_query("sari.own"))
    kinds = [r.kind for r in results]
    assert kinds == sorted(kinds, key=list(services.Kind).index)
    customers = [r for r in results if r.kind is services.Kind.CUSTOMER]
    assert [c.label for c in customers][:2] == ["Aaron Sari.own", "Sari Ownwati"]  # prefix tier, by name
    with app.test_request_context():
        exact = services.jump(actor_of(world["superadmin"]), parse_query("sari.own@contoh.co.id"))
    assert exact[0].label == "Sari Ownwati"  # the exact e-mail before the prefix matches


def test_results_are_limited_per_kind(app, world, make_customer):
    for n in range(8):
        make_customer(institution=world["own"]["institution"], full_name=f"Many Namesake {n}",
                      email=f"namesake{n}@contoh.co.id")
    assert len(found(app, world["superadmin"], "namesake")) == services.PER_KIND


def test_ids_beyond_the_column_range_match_nothing_and_fail_nothing(app, world):
    assert found(app, world["superadmin"], "#99999999999999999999") == []
    assert found(app, world["superadmin"], "9" * 19) == []


# --- LIKE wildcards are literal -------------------------------------------------------------


def test_percent_and_underscore_match_only_themselves(app, world, make_customer):
    own = world["own"]
    make_customer(institution=own["institution"], full_name="Promo 50% Cashback", email="promo_50@contoh.co.id")
    chief = world["superadmin"]
    assert found(app, chief, "%") == []
    assert found(app, chief, "%%%") == []
    assert found(app, chief, "___") == []
    assert found(app, chief, "s%i") == []  # not "sari"
    assert [k for k, _u in found(app, chief, "50%")] == ["customer"]
    assert [k for k, _u in found(app, chief, "promo_")] == ["customer"]
    assert found(app, chief, "promoX") == []  # "_" in the e-mail is not a wildcard the other way either
    assert found(app, chief, "\\") == []


# --- scope of each role ---------------------------------------------------------------------


def test_institution_admin_finds_only_their_institution(app, world):
    own, other, admin = world["own"], world["other"], world["own"]["admin"]
    assert ("customer", f"/customers/{own['customer'].id}") in found(app, admin, "sari.own@contoh.co.id")
    assert found(app, admin, "sari.other@contoh.co.id") == []
    assert found(app, admin, "otherwati") == []
    assert found(app, admin, "TRX-OTHER-000001") == []
    assert found(app, admin, "other01") == [] and found(app, admin, "bank other") == []
    assert found(app, admin, "akun.other@contoh.co.id") == []
    assert found(app, admin, "request-other-0001") == []
    assert ("audit_entry", f"/audit/{other['entry_id']}") not in found(app, admin, f"#{other['entry_id']}")
    assert ("audit_entry", f"/audit/{own['entry_id']}") in found(app, admin, f"#{own['entry_id']}")
    # Users: only the customer accounts of their institution (as in user administration), not fellow admins.
    assert ("user", f"/users/{own['account'].id}") in found(app, admin, "akun.own@contoh.co.id")
    assert found(app, admin, "admin.own@contoh.co.id") == []
    assert found(app, admin, "chief@contoh.co.id") == []


def test_admin_sees_every_institution_and_customer_only_their_account(app, world):
    other = world["other"]
    assert ("customer", f"/customers/{other['customer'].id}") in found(app, world["admin"], "sari.other@contoh.co.id")
    account = world["own"]["account"]
    assert found(app, account, "sari.own@contoh.co.id") == []  # customers open no customer pages
    assert found(app, account, "TRX-OWN-000001") == []
    assert found(app, account, "akun.other@contoh.co.id") == []
    assert found(app, account, "akun.own@") == [("user", "/account")]
    assert found(app, account, f"#{account.id}") == [("user", "/account")]


@pytest.mark.parametrize("role", ROLES)
def test_every_result_opens_for_the_role_that_found_it(app, world, role, client_for):
    """Never a result the role cannot open: each URL answers 200 for that user."""
    user = {Role.CUSTOMER: world["own"]["account"], Role.INSTITUTION_ADMIN: world["own"]["admin"],
            Role.ADMIN: world["admin"], Role.SUPERADMIN: world["superadmin"],
            Role.PRIVACY_OFFICER: world["privacy_officer"]}[role]
    probe = client_for(user)
    seen = set()
    for text in ("contoh.co.id", "sari", "akun", "admin", "bank", "TRX-OWN-000001", "TRX-OTHER-000001",
                 "request-own-0001", "request-other-0001", "own01", "other01",
                 *(f"#{world[n][k].id}" for n in ("own", "other") for k in ("customer", "transaction", "account")),
                 *(f"#{world[n]['entry_id']}" for n in ("own", "other"))):
        seen |= urls(app, user, text)
    assert seen or role is Role.CUSTOMER
    for url in seen:
        assert probe.get(url).status_code == 200, (role, url)
    other = world["other"]
    forbidden = {f"/customers/{other['customer'].id}", f"/transactions/{other['transaction'].id}",
                 f"/institutions/{other['institution'].id}", f"/users/{other['account'].id}",
                 f"/audit/{other['entry_id']}"}
    if role is Role.PRIVACY_OFFICER:  # the audit log of every institution, nothing of the console
        assert {url.split("/")[1] for url in seen} == {"audit"} and forbidden & seen == {f"/audit/{other['entry_id']}"}
    elif role in (Role.CUSTOMER, Role.INSTITUTION_ADMIN):
        assert not seen & forbidden
    else:
        assert forbidden <= seen


# --- the pages ------------------------------------------------------------------------------


def _state(db) -> tuple:
    return (db.session.scalar(select(func.count()).select_from(AuditLog)),
            db.session.scalar(select(func.max(User.version))))


@pytest.mark.parametrize("bad", ["a\x00b", "x" * (MAX_LENGTH + 1), "\x1b[31m"])
def test_bad_query_is_a_400_with_a_message_and_changes_nothing(db, world, client_for, bad):
    before = _state(db)
    probe = client_for(world["superadmin"])
    page = probe.get("/jump", query_string={"q": bad})
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    # Control characters are refused by the shared guard before the page runs; length by the page.
    assert "Remove the control characters" in html or ('data-testid="jump-error"' in html and "at most 100" in html)
    assert "\x00" not in html
    answer = probe.get("/jump.json", query_string={"q": bad})
    assert answer.status_code == 400
    assert answer.json["error"]["code"] == "validation_error" and answer.json["error"]["message"]
    assert _state(db) == before


def test_json_answer_for_the_dialog(world, client_for):
    answer = client_for(world["superadmin"]).get("/jump.json?q=sari.own%40contoh.co.id")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    first = answer.json["results"][0]
    assert first == {"kind": "customer", "kind_label": "Customer", "label": "Sari Ownwati",
                     "detail": "sari.own@contoh.co.id · OWN01", "url": f"/customers/{world['own']['customer'].id}"}
    assert client_for(world["superadmin"]).get("/jump.json?q=").json == {"query": "", "results": []}


def test_results_page_works_without_javascript_and_in_indonesian(world, client_for):
    probe = client_for(world["superadmin"])
    html = probe.get("/jump?q=TRX-OWN-000001").get_data(as_text=True)
    assert f'href="/transactions/{world["own"]["transaction"].id}"' in html and "Transaction" in html
    assert "IDR\u00a01,500,000" in html
    empty = probe.get("/jump?q=nothing-like-this").get_data(as_text=True)
    assert 'data-testid="jump-empty"' in empty
    indonesian = probe.get("/jump?q=TRX-OWN-000001", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert "Lompat ke…" in indonesian and "Transaksi" in indonesian and "Rp1.500.000" in indonesian


def test_navbar_has_the_jump_button_and_dialog_for_signed_in_users_only(client, world, client_for):
    html = client_for(world["own"]["account"]).get("/account").get_data(as_text=True)
    assert "data-jump-open" in html and "<kbd" in html and 'role="combobox"' in html and "js/jump.js" in html
    assert "data-jump-open" not in client.get("/login").get_data(as_text=True)
