"""What a superadmin sees must not mislead: defaults, placeholders, icons, subjects, sorting."""

from __future__ import annotations

import re

from app.users.models import Role


def selected_role(html: str) -> list[str]:
    select = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option selected value="([^"]+)"|<option value="([^"]+)" selected', select)


def test_invite_form_preselects_the_least_privileged_role(db, make_user, client_for):
    for inviter, expected in ((Role.SUPERADMIN, "customer"), (Role.ADMIN, "customer"),
                              (Role.INSTITUTION_ADMIN, "customer")):
        html = client_for(make_user(inviter)).get("/users/new").get_data(as_text=True)
        select = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', html, re.S).group(1)
        chosen = re.findall(r"<option[^>]*selected[^>]*>", select)
        assert len(chosen) == 1 and f'value="{expected}"' in chosen[0], (inviter, chosen)
        assert 'value="superadmin" selected' not in select and "selected value=\"superadmin\"" not in select


def test_api_tokens_page_shows_the_bearer_placeholder(db, make_user, client_for):
    html = client_for(make_user(Role.ADMIN)).get("/account/api-tokens").get_data(as_text=True)
    header = re.search(r'<code data-testid="bearer-header">(.*?)</code>', html).group(1)
    assert header == "Authorization: Bearer <var>token</var>"
    assert "Bearer ." not in html


def test_every_page_links_a_favicon_that_exists(db, client, make_user, client_for):
    html = client.get("/login").get_data(as_text=True)
    icons = re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"', html)
    assert len(icons) == 3
    for href in [*icons, "/favicon.ico"]:
        response = client.get(href)
        assert response.status_code == 200, href
        body = response.data
        response.close()
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_translated_template_strings_hold_no_markup_characters():
    """Catalog strings are marked safe in templates: a literal <word> in one vanishes as a tag."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    found = []
    for path in root.rglob("*.html"):
        for msgid in re.findall(r'(?:_|gettext|ngettext)\(\s*"((?:[^"\\]|\\.)*)"', path.read_text()):
            if re.search(r"[<>&]", msgid):
                found.append(f"{path.relative_to(root)}: {msgid}")
    assert found == []


def institution_names_on(html: str) -> list[str]:
    return re.findall(r'<a href="/institutions/\d+">([^<]+)</a>', html)


def test_institutions_sort_by_name_without_regard_to_case_across_pages(app, db, make_user, make_institution,
                                                                          client_for, monkeypatch):
    for name in ("cherry Bank", "Banana Bank", "apple Bank", "Date Bank", "elder Bank"):
        make_institution(name=name)
    monkeypatch.setitem(app.config, "LIST_PAGE_SIZE", 2)
    client = client_for(make_user(Role.SUPERADMIN))
    seen, url = [], "/institutions?q=bank"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += institution_names_on(html)
        following = re.search(r'<a class="page-link" rel="next" href="([^"]+)"', html)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert seen == ["apple Bank", "Banana Bank", "cherry Bank", "Date Bank", "elder Bank"]
    html = client.get("/institutions?q=bank&sort=name&order=desc").get_data(as_text=True)
    assert institution_names_on(html) == ["elder Bank", "Date Bank"]


def test_approval_detail_names_its_subject_and_compares_old_and_new_values(db, make_user, make_customer,
                                                                             make_approval, client_for):
    customer = make_customer(full_name="Siti Rahayu", phone="+62 811 1111 2222")
    approval = make_approval(institution=customer.institution, kind="data_correction", subject_type="customer",
                             subject_id=str(customer.id), subject_repr="customer #old",
                             payload={"changes": {"phone": {"old": "+62 811 1111 2222", "new": "+62 822 3333 4444"},
                                                  "daily_limit_idr": {"old": 5_000_000, "new": 25_000_000}}})
    html = client_for(make_user(Role.ADMIN)).get(f"/approvals/{approval.id}").get_data(as_text=True)
    subject = re.search(r'data-testid="approval-subject">(.*?)</dd>', html, re.S).group(1)
    assert f'<a href="/customers/{customer.id}">Siti Rahayu</a>' in subject

    def row(name):
        found = re.search(rf'<tr[^>]*data-testid="comparison-{name}"[^>]*data-changed="(\w+)">(.*?)</tr>', html, re.S)
        return found.group(1), re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()

    assert row("phone") == ("yes", "Phone changes +62 811 1111 2222 +62 822 3333 4444")
    assert row("daily_limit_idr") == ("yes", "Daily transfer limit changes IDR\u00a05,000,000 IDR\u00a025,000,000")
    assert row("full_name") == ("no", "Name Siti Rahayu unchanged")
    assert row("is_active") == ("no", "Active Yes unchanged")


def test_approval_subject_outside_the_scope_is_named_but_not_linked(db, make_user, make_customer, make_approval,
                                                                     make_institution, client_for):
    mine, theirs = make_institution(), make_institution()
    stranger = make_customer(institution=theirs, full_name="Hidden Person")
    approval = make_approval(institution=mine, subject_type="customer", subject_id=str(stranger.id),
                             subject_repr="customer as requested", payload={})
    html = client_for(make_user(Role.INSTITUTION_ADMIN, institution=mine)).get(
        f"/approvals/{approval.id}").get_data(as_text=True)
    assert "Hidden Person" not in html and "customer as requested" in html
    assert f"/customers/{stranger.id}" not in html
