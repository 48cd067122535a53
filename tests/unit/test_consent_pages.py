"""Consent pages: one's own choices (unticked by default, withdrawn as easily as given), notices
published by superadmins, a customer's consent for staff, and the decision e-mail sent only on consent."""

from __future__ import annotations

import csv
import re

import pytest
from sqlalchemy import select

from app.consent import notices
from app.consent import services as consent
from app.consent.models import ConsentEvent, ConsentNotice
from app.security.actor import Actor
from app.users.models import Role

SYSTEM = Actor.system("test")


def publish(purpose="notifications", text="Mail me about my payments.", material=False):
    return notices.publish(SYSTEM, purpose, text_en=text, text_id=f"[id] {text}", material=material)


def checkbox(page: str, purpose: str) -> str:
    match = re.search(rf'<input[^>]*name="give_{purpose}"[^>]*>', page)
    assert match, f"no box for {purpose}"
    return match.group(0)


@pytest.fixture
def customer_account(db, make_user, make_customer):
    """A customer's portal account linked to its customer record."""
    customer = make_customer(email="ani@example.com")
    user = make_user(Role.CUSTOMER, institution=customer.institution, email="ani.portal@example.com")
    user.customer_id = customer.id
    db.session.commit()
    return user, customer


def test_the_account_page_asks_with_unticked_boxes(db, customer_account, staff):
    publish()
    page = staff(customer_account[0]).client.get("/account").get_data(as_text=True)
    box = checkbox(page, "notifications")
    assert "checked" not in box and 'type="checkbox"' in box and 'aria-describedby="notice-notifications' in box
    assert "Mail me about my payments." in page and 'for="give_notifications"' in page
    assert "Not asked yet" in page  # analytics has no notice yet: no box to tick
    assert 'name="give_analytics"' not in page
    indonesian = staff(customer_account[0]).client.get("/account/consent", headers={"Accept-Language": "id"})
    body = indonesian.get_data(as_text=True)
    assert "[id] Mail me about my payments." in body and "Simpan pilihan saya" in body


def test_withdrawing_is_one_step_like_giving(db, customer_account, staff):
    publish()
    user, customer = customer_account
    forms = staff(user)
    give = forms.post("/account/consent", {"back": "account", "give_notifications": "y", "version_notifications": 1},
                      page="/account")
    assert give.status_code == 302 and give.headers["Location"] == "/account"
    page = forms.client.get("/account").get_data(as_text=True)
    assert "You agreed to: Notifications." in page and "checked" in checkbox(page, "notifications")
    assert consent.allows(("customer", customer.id), "notifications")
    # Withdrawing: the same form, the same one post, the box unticked.
    withdraw = forms.post("/account/consent", {"back": "account", "version_notifications": 1}, page="/account")
    assert withdraw.status_code == 302
    page = forms.client.get("/account").get_data(as_text=True)
    assert "You withdrew your consent to: Notifications." in page and "checked" not in checkbox(page, "notifications")
    assert not consent.allows(("customer", customer.id), "notifications")
    events = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.subject_kind, e.granted, e.source) for e in events] == [("customer", True, "account"),
                                                                        ("customer", False, "account")]
    again = forms.post("/account/consent", {"version_notifications": 1}, page="/account/consent")
    assert again.headers["Location"] == "/account/consent"
    assert "Nothing changed." in forms.client.get("/account/consent").get_data(as_text=True)


def test_a_notice_published_meanwhile_is_read_before_agreeing(db, customer_account, staff):
    publish(text="First text.")
    forms = staff(customer_account[0])
    token = forms.token("/account")
    publish(text="A new use of your data.", material=True)
    response = forms.client.post("/account/consent", data={"csrf_token": token, "give_notifications": "y",
                                                            "version_notifications": 1})
    body = response.get_data(as_text=True)
    assert response.status_code == 409 and "The notice changed since this page was loaded" in body
    assert "A new use of your data." in body and db.session.scalar(select(ConsentEvent.id)) is None


def test_nothing_of_a_refused_form_is_kept(db, customer_account, staff):
    publish(purpose="analytics", text="Count my visits.")
    publish(text="First text.")
    forms = staff(customer_account[0])
    token = forms.token("/account")
    publish(text="A new use of your data.", material=True)
    response = forms.client.post("/account/consent", data={
        "csrf_token": token, "give_analytics": "y", "version_analytics": 1, "give_notifications": "y",
        "version_notifications": 1})
    assert response.status_code == 409  # analytics was fine, notifications was not: neither is recorded
    assert db.session.scalar(select(ConsentEvent.id)) is None
    assert not consent.allows(("customer", customer_account[1].id), "analytics")


def test_superadmins_publish_versions_and_confirm_a_material_one(db, make_user, make_customer, staff, step_up):
    forms = staff(make_user(Role.SUPERADMIN))
    assert forms.client.get("/consent/notices/notifications/new").status_code == 302  # step-up first
    step_up(forms)
    page = forms.client.get("/consent/notices").get_data(as_text=True)
    assert "Publish the first version" in page and "none published" in page
    url = "/consent/notices/notifications/new"
    refused = forms.post(url, {"text_en": "Mail me.", "text_id": ""})
    assert refused.status_code == 400 and "Write the notice text." in refused.get_data(as_text=True)
    assert forms.post(url, {"text_en": "Mail me.", "text_id": "Kirimi saya surel."}).status_code == 302
    assert notices.latest_notice("notifications").version == 1
    subject = consent.Subject("customer", make_customer().id)
    consent.record(SYSTEM, subject, "notifications", granted=True, source="staff", notice_version=1, evidence="form")
    db.session.commit()
    form = forms.client.get(url).get_data(as_text=True)
    assert "Mail me." in form and "Kirimi saya surel." in form and 'id="material"' in form
    assert "checked" not in re.search(r'<input[^>]*id="material"[^>]*>', form).group(0)
    data = {"text_en": "Mail and push me.", "text_id": "Kirimi saya surel dan push.", "material": "y"}
    confirm = forms.post(url, data)
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "1 person's consent to Notifications stops counting now." in body
    assert notices.latest_notice("notifications").version == 1  # nothing published before the confirmation
    assert forms.post(url, {**data, "confirmed": "yes"}, page=url).status_code == 302
    assert notices.latest_notice("notifications").version == 2 and not consent.allows(subject, "notifications")
    shown = forms.client.get("/consent/notices/notifications/2").get_data(as_text=True)
    assert "Mail and push me." in shown and "A material version" in shown and "Version 1" in shown
    assert forms.client.get("/consent/notices/notifications/3").status_code == 404
    assert forms.client.get("/consent/notices/payment_processing/1").status_code == 404


def test_staff_see_a_customers_consent_and_record_paper_forms(db, make_user, make_customer, staff,
                                                              make_institution):
    publish()
    home = make_institution()
    customer = make_customer(institution=home, full_name="Budi Santoso")
    admin = staff(make_user(Role.INSTITUTION_ADMIN, institution=home))
    url = f"/customers/{customer.id}/consent"
    page = admin.client.get(url).get_data(as_text=True)
    assert "Consent of Budi Santoso" in page and "No consent recorded yet." in page
    assert f'href="{url}"' in admin.client.get(f"/customers/{customer.id}").get_data(as_text=True)
    refused = admin.post(url, {"notice": "notifications:1", "choice": "grant", "evidence": ""})
    assert refused.status_code == 400 and "Say what shows the choice." in refused.get_data(as_text=True)
    assert admin.post(url, {"notice": "notifications:9", "choice": "grant", "evidence": "x"}).status_code == 400
    done = admin.post(url, {"notice": "notifications:1", "choice": "grant", "evidence": "paper form, branch 3"})
    assert done.status_code == 302
    page = admin.client.get(url).get_data(as_text=True)
    assert "Recorded." in page and "paper form, branch 3" in page and "Recorded by staff" in page
    assert consent.allows(("customer", customer.id), "notifications")
    export = list(csv.reader(admin.client.get(url + "?format=csv", buffered=True).get_data(as_text=True)
                             .splitlines()))
    assert export[0] == ["recorded_at", "purpose", "action", "notice_version", "source", "evidence", "recorded_by_id"]
    assert export[1][1:6] == ["notifications", "grant", "1", "staff", "paper form, branch 3"]
    filtered = admin.client.get(url + "?purpose=analytics").get_data(as_text=True)
    assert "Nothing matches these filters." in filtered
    outsider = staff(make_user(Role.INSTITUTION_ADMIN))
    assert outsider.client.get(url).status_code == 404
    assert outsider.post(url, {"notice": "notifications:1", "choice": "withdraw", "evidence": "x"},
                         page="/account").status_code == 404
    assert len(consent.history(("customer", customer.id))) == 1


def decide(forms, tx, approve=True, reason=""):
    data = {"approve" if approve else "reject": "x", "reason": reason, "version": tx.version}
    response = forms.post(f"/transactions/{tx.id}/decide", data, page=f"/transactions/{tx.id}")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def test_the_decision_mail_goes_only_with_notifications_consent(db, customer_account, make_user, make_transaction,
                                                                staff, outbox):
    publish()
    user, customer = customer_account
    decider = staff(make_user(Role.ADMIN))
    decide(decider, make_transaction(customer=customer))
    assert outbox == []  # never asked: no mail
    own = staff(user)
    own.post("/account/consent", {"give_notifications": "y", "version_notifications": 1}, page="/account")
    tx = make_transaction(customer=customer, amount_idr=1_500_000, reference="TRX-CONSENT-1")
    decide(decider, tx, approve=False, reason="Missing receipt")
    [message] = outbox
    body = message.get_content()
    assert message["To"] == "ani.portal@example.com"
    assert message["Subject"] == "Payment TRX-CONSENT-1 was rejected / Pembayaran TRX-CONSENT-1 ditolak"
    assert "Your payment TRX-CONSENT-1 of IDR\u00a01,500,000 was rejected" in body and "Missing receipt" in body
    assert "Pembayaran Anda TRX-CONSENT-1 sebesar Rp1.500.000 ditolak" in body
    assert "http://localhost/account/consent" in body
    own.post("/account/consent", {"version_notifications": 1}, page="/account")
    decide(decider, make_transaction(customer=customer))
    assert len(outbox) == 1  # withdrawn: no further mail


def test_the_decision_mail_needs_the_current_notice_and_an_active_linked_account(db, customer_account, make_user,
                                                                                make_transaction, staff, outbox):
    publish(text="first")
    user, customer = customer_account
    consent.record(Actor.for_user(user), ("customer", customer.id), "notifications", granted=True, source="account",
                   notice_version=1)
    db.session.commit()
    decider = staff(make_user(Role.ADMIN))
    decide(decider, make_transaction(customer=customer))
    assert [m["To"] for m in outbox] == ["ani.portal@example.com"]
    publish(text="second, material", material=True)
    db.session.commit()
    decide(decider, make_transaction(customer=customer))
    assert len(outbox) == 1  # consent to version 1 no longer counts
    consent.record(Actor.for_user(user), ("customer", customer.id), "notifications", granted=True, source="account",
                   notice_version=2)
    user.is_active_account = False
    db.session.commit()
    decide(decider, make_transaction(customer=customer))
    assert len(outbox) == 1  # the only account is deactivated
    assert db.session.scalar(select(ConsentNotice.version).order_by(ConsentNotice.version.desc()).limit(1)) == 2
