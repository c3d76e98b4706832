"""An album's life in the web app, in headless Chromium against the real stack: a study put into
an album from the share dialog, a series removed from it, settings saved, a member promoted,
demoted and removed, an album left and one deleted; each checked from the other user's side too."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_web_app import create_album

pytestmark = pytest.mark.browser


def _upload(page, folder) -> None:
    page.locator("#upload-folder").set_input_files(folder)
    expect(page.locator("#upload-note")).to_contain_text("3 instance(s) stored", timeout=30_000)


def _open_album(page, name: str) -> None:
    page.get_by_role("link", name="Albums").click()
    page.get_by_role("table", name="Albums").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=re.compile(name))).to_be_visible()


def test_a_study_goes_into_an_album_and_one_of_its_series_comes_out(sign_in, study_folder, shoot):
    folder, study_uid, patient = study_folder
    alice = sign_in("alice")
    create_album(alice, "Teaching file")
    alice.get_by_role("link", name="Inbox").click()
    _upload(alice, folder)
    alice.locator(f'tr[data-study="{study_uid}"]').get_by_role("link", name=patient).click()
    alice.get_by_role("button", name="Share study").click()
    dialog = alice.get_by_role("dialog")
    dialog.get_by_label("An album").check()
    dialog.get_by_role("combobox", name="Album").select_option(label="Teaching file")
    dialog.get_by_role("button", name="Share").click()
    expect(alice.get_by_role("status").first).to_contain_text("Added the study")

    _open_album(alice, "Teaching file")
    row = alice.locator(f'tr[data-study="{study_uid}"]')
    expect(row.locator("td").nth(6)).to_have_text("2")  # both series
    row.get_by_role("link", name=patient).click()
    series = alice.get_by_role("table", name="Series").locator("tbody tr")
    expect(series).to_have_count(2)
    alice.once("dialog", lambda d: d.accept())
    series.first.get_by_role("button", name=re.compile("^Remove")).click()
    expect(series).to_have_count(1)
    shoot(alice, "20-album-series-removed")

    _open_album(alice, "Teaching file")
    expect(alice.locator(f'tr[data-study="{study_uid}"]').locator("td").nth(6)).to_have_text("1")
    alice.get_by_role("link", name="Inbox").click()  # the inbox still holds both
    expect(alice.locator(f'tr[data-study="{study_uid}"]').locator("td").nth(6)).to_have_text("2")


def test_settings_members_leaving_and_deleting(sign_in, shoot):
    bob = sign_in("bob")  # known to Obelisk once signed in
    alice = sign_in("alice")
    create_album(alice, "Board 2026")
    alice.get_by_role("tab", name="Members").click()
    alice.get_by_label("E-mail").fill("bob@example.org")
    alice.get_by_role("button", name="Add member").click()
    members = alice.get_by_role("table", name="Members")
    expect(members).to_contain_text("bob@example.org")

    alice.get_by_role("tab", name="Settings").click()
    settings = alice.get_by_role("form", name="Album settings")
    settings.get_by_label("Name").fill("Board 2027")
    settings.get_by_label("Description").fill("Moved a year")
    settings.get_by_role("button", name="Save").click()
    expect(alice.get_by_role("status").first).to_contain_text("Album saved")
    expect(alice.get_by_role("heading", name=re.compile("Board 2027"))).to_be_visible()
    shoot(alice, "21-album-settings")

    alice.get_by_role("tab", name="Members").click()
    alice.get_by_role("button", name="Make bob@example.org an admin").click()
    bob_row = alice.get_by_role("table", name="Members").locator("tbody tr", has_text="bob@example.org")
    expect(bob_row).to_contain_text("admin")
    _open_album(bob, "Board 2027")  # bob sees the new name, and as an admin may edit it
    bob.get_by_role("tab", name="Settings").click()
    expect(bob.get_by_role("form", name="Album settings").get_by_label("Name")).to_be_enabled()

    alice.get_by_role("button", name="Make bob@example.org a member").click()
    expect(bob_row).to_contain_text("member")
    alice.once("dialog", lambda d: d.accept())
    alice.get_by_role("button", name="Remove bob@example.org").click()
    expect(alice.get_by_role("table", name="Members")).not_to_contain_text("bob@example.org")
    shoot(alice, "22-album-member-removed")
    bob.get_by_role("link", name="Albums").click()
    expect(bob.get_by_role("main")).not_to_contain_text("Board 2027")

    create_album(bob, "Bob's corner")  # bob leaves an album of his own making, then alice deletes hers
    bob.get_by_role("tab", name="Settings").click()
    bob.once("dialog", lambda d: d.accept())
    bob.get_by_role("button", name="Leave album").click()
    expect(bob.get_by_role("status").first).to_contain_text("You left Bob's corner")
    expect(bob.get_by_role("main")).not_to_contain_text("Bob's corner")  # the last member out deletes it
    alice.get_by_role("tab", name="Settings").click()
    alice.once("dialog", lambda d: d.accept())
    alice.get_by_role("button", name="Delete album").click()
    expect(alice.get_by_role("status").first).to_contain_text("Album Board 2027 deleted")
    expect(alice.get_by_role("main")).not_to_contain_text("Board 2027")
