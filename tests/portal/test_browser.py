"""The portal in a real browser: Debian's Chromium driven by Playwright against `finplane dev` with the
examples (the embedded API server, the operator and the platform API as real processes).

Covers (issue 20): a team creates a capability through the form and sees it become Ready (the page
refreshes its conditions with htmx, and the heading's badge and replica counts with them); a hand edit of its Deployment is
reverted by the operator and the page shows the Drift event without a reload; a partner requests a sandbox, an admin who is not the requester
approves the reviewed request, the operator provisions it and the partner reads the credential once and
then no more; an auditor's pages have no write control and a POST it forges from the page (with its own
valid CSRF token) is refused; the catalog's graph names a dependency that is not Ready. (The offline API docs are
checked without a browser, in test_guards.py.) One stack for the module; screenshots of each page go to
test-output/portal/, and, only when FINPLANE_UPDATE_SCREENSHOTS=1 is set, those the README shows (catalog,
capability, sandbox approval, compliance) to the committed docs/screenshots/ as well (the 1280x800
viewport, not the full page, so each PNG stays small): a plain run never rewrites them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("FINPLANE_TEST_OUTPUT", REPO / "test-output")) / "portal"
README_SHOTS = REPO / "docs" / "screenshots"
UPDATE_README_SHOTS = os.environ.get("FINPLANE_UPDATE_SCREENSHOTS") == "1"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("Debian's chromium is missing: `make debs` installs it")
    pytest.skip("Debian's chromium is not installed (`make debs` installs it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


class DevStack:
    """`finplane dev` with the examples; its portal URL and KUBECONFIG from the summary it prints."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        env = {**os.environ, "COLUMNS": "200", "FINPLANE_EVIDENCE_DIR": str(tmp / "evidence")}
        self.process = subprocess.Popen([sys.executable, "-m", "finplane", "dev", "--state-dir", str(tmp / "dev")],
                                        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self.url = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            found = re.search(r"Portal:\s+(http://\S+)/portal/", line)
            if found:
                self.url = found.group(1)
            if "Running; press" in line or "Stopped." in line:
                break
        if not self.url:
            self.stop()
            raise RuntimeError("`finplane dev` printed no portal URL:\n" + "".join(self.output))
        threading.Thread(target=lambda: [None for _ in self.process.stdout or ()], daemon=True).start()
        self.kubeconfig = tmp / "dev" / "kubeconfig"

    def kubectl(self, *args: str, input: str | None = None) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], input=input,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


CSP_VIOLATIONS: list[str] = []


@pytest.fixture(autouse=True)
def _no_csp_violation() -> Iterator[None]:
    """Every portal page works under its own CSP: the browser reported no blocked script, style or image."""
    CSP_VIOLATIONS.clear()
    yield
    assert CSP_VIOLATIONS == []


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    s = DevStack(tmp_path_factory.mktemp("portal-dev"))
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _page(browser: Browser, stack: DevStack, role: str, subject: str, **scope: str) -> Page:
    """A fresh browser context (its own cookies) signed in through the dev sign-in page with the keyboard."""
    page = browser.new_context(base_url=stack.url, viewport={"width": 1280, "height": 800}).new_page()
    page.on("console", lambda m: CSP_VIOLATIONS.append(f"{page.url}: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.goto("/portal/")
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_label("Subject (user name)", exact=True).fill(subject)
    for field, value in scope.items():
        label = "Groups (comma-separated IdP groups)" if field == "groups" else f"{field.capitalize()} (role {field})"
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Subject (user name)", exact=True).press("Enter")  # a keyboard user submits the form
    page.wait_for_url(re.compile(r"/portal/(catalog|sandboxes)$"))
    return page


def _shot(page: Page, name: str, *, readme: bool = False) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if readme:  # what a reader of the README sees: the viewport, PNG; the committed copy only when asked
        page.screenshot(path=str(SHOTS / f"{name}-readme.png"), full_page=False)
        if UPDATE_README_SHOTS:
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(README_SHOTS / f"{name}.png"), full_page=False)


def test_a_team_creates_a_capability_and_sees_it_become_ready(browser: Browser, stack: DevStack) -> None:
    page = _page(browser, stack, "team", "pat", team="payments", groups="payments-developers")
    page.goto("/portal/teams/payments")
    _shot(page, "team")
    page.get_by_role("link", name="New capability").click()
    page.get_by_label("Name", exact=True).fill("statements")
    page.get_by_label("Spec (YAML)", exact=True).fill(
        "owner:\n  contact: payments-team@bank.example\ndomain: payments\ndescription: Monthly statements.\n"
        "image: registry.finplane.local/payments/statements:1.0.0\nversion: 1.0.0\nreplicas: 1\nport: 8080\n"
        "registryRef: internal\n")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/portal/capabilities/payments/statements")
    expect(page.locator('tr[data-condition="Ready"][data-status="True"]')).to_be_visible(timeout=90_000)
    expect(page.locator("h1 #ready-badge")).to_have_text("Ready")  # refreshed with the table, not on reload
    expect(page.locator("#replicas")).to_have_text("1 ready of 1")  # so are the replica counts
    stack.kubectl("patch", "deployment", "statements", "-n", "payments", "--type=json",
                  "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"evil/x:1"}]')
    drift = page.locator('#events tr.drift[data-event-reason="Drift"]')  # the operator reverts it, with an Event
    expect(drift).to_contain_text("Deployment/payments/statements", timeout=90_000)
    expect(page.locator("#drift-summary")).to_contain_text("Drift: the operator reverted a manual change")
    _shot(page, "capability", readme=True)


def test_a_partner_requests_a_sandbox_an_admin_approves_it_and_the_credential_is_shown_once(
        browser: Browser, stack: DevStack) -> None:
    partner = _page(browser, stack, "partner", "jane@acmepay.example", partner="acmepay")
    partner.get_by_label("Name (the sandbox is called acmepay--name)", exact=True).fill("trial")
    partner.get_by_label("Organisation", exact=True).fill("AcmePay Ltd")
    partner.get_by_label("Contact e-mail", exact=True).fill("ops@acmepay.example")
    partner.get_by_label("Lifetime in days", exact=True).fill("5")
    partner.get_by_label("I accept the sandbox terms", exact=True).check()
    partner.get_by_role("button", name="Request sandbox").click()
    partner.wait_for_url("**/portal/sandboxes/acmepay--trial")
    expect(partner.locator("#approval")).to_have_text("pending")

    admin = _page(browser, stack, "admin", "ada")
    admin.goto("/portal/sandboxes/acmepay--trial")
    _shot(admin, "sandbox-approval", readme=True)
    admin.get_by_role("button", name="Approve this request").click()
    expect(admin.locator("#approval")).to_have_text("approved")

    reveal = partner.get_by_role("button", name="Show the credential (once)")
    for _ in range(120):  # the operator provisions the namespace and the credential meanwhile
        partner.goto("/portal/sandboxes/acmepay--trial")
        if reveal.count():
            break
        partner.wait_for_timeout(500)
    _shot(partner, "sandbox")
    reveal.click()
    key = partner.locator("#credential").inner_text().strip()
    assert len(key) >= 16
    partner.goto("/portal/sandboxes/acmepay--trial")
    expect(partner.get_by_text("handed out already")).to_be_visible()
    assert key not in partner.content() and reveal.count() == 0
    listing = partner.goto("/portal/sandboxes")
    assert listing is not None and "acmepay--trial" in partner.content()


def test_an_auditor_sees_no_write_control_and_a_forged_post_is_refused(browser: Browser, stack: DevStack) -> None:
    page = _page(browser, stack, "auditor", "audrey")
    for url in ("/portal/catalog", "/portal/capabilities/kyc/kyc-check", "/portal/sandboxes", "/portal/compliance"):
        page.goto(url)
        assert page.locator("form[method=post]").evaluate_all("fs => fs.map(f => f.getAttribute('action'))") \
            == ["/portal/signout"], url
        assert page.get_by_role("button", name=re.compile("Delete|Approve|Reject|Create")).count() == 0
    _shot(page, "compliance", readme=True)
    status = page.evaluate("""async () => {
        const token = document.querySelector('input[name=csrf_token]').value;
        const body = new URLSearchParams({csrf_token: token, etag: '*'});
        const r = await fetch('/portal/capabilities/kyc/kyc-check/delete', {method: 'POST', body});
        return r.status; }""")
    assert status == 403
    assert "kyc-check" in stack.kubectl("get", "businesscapabilities", "-n", "kyc", "-o", "name")


def test_the_catalog_graph_shows_a_dependency_that_is_not_ready(browser: Browser, stack: DevStack) -> None:
    caps = [{"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
             "metadata": {"name": name, "namespace": "payments"},
             "spec": {"owner": {"team": "payments", "contact": "payments-team@bank.example"}, "domain": "payments",
                      "image": f"registry.finplane.local/payments/{name}:1.0.0", "registryRef": registry,
                      "replicas": 1, "dependencies": deps}}
            # reconciler names a registry its Team does not grant: the operator reports it not Ready
            for name, registry, deps in (("reconciler", "no-such-registry", []),
                                         ("reporting", "internal", [{"name": "reconciler", "namespace": "payments"}]))]
    stack.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": caps}))
    page = _page(browser, stack, "admin", "grace")
    node = page.locator('[data-node="cap:payments/reconciler"]')
    for _ in range(120):  # until the operator has said reconciler is not Ready
        page.goto("/portal/catalog?team=payments")
        if node.count() and "NOT Ready" in (node.text_content() or ""):
            break
        page.wait_for_timeout(500)
    expect(node).to_contain_text(re.compile(r"NOT Ready: Registry\w+"))  # the Team does not grant that registry
    expect(page.locator('[data-node="cap:payments/reporting"]')).to_be_visible()
    expect(page.locator("#results")).to_contain_text("Not Ready: ")
    page.goto("/portal/catalog")
    _shot(page, "catalog", readme=True)
    page.get_by_label("Search", exact=True).fill("kyc")  # htmx narrows the results as one types
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert "q=kyc" in page.url
