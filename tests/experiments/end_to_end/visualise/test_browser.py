"""The visualiser in a real browser: Debian's headless Chromium driven by Playwright.

The app is started with its CLI on a real run made by the test session (HOL Light, Ray, the
`fixed` model); the test clicks through it as a user would and saves screenshots under
``test-artifacts/visualise/`` (or ``$ITP_TEST_ARTIFACTS/visualise/``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from data.traces.attempts import AttemptRecord
from data.traces.files import load_trace, write_trace
from data.traces.schema import InternalNodeRecord, ProofTrace
from experiments.end_to_end.visualise.runs import RunIndex

from .conftest import REPO, export_with_cli, search_trace_of

CHROMIUM = os.environ.get("ITP_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ITP_TEST_ARTIFACTS", REPO / "test-artifacts")) / "visualise"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium package")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(source: Path) -> Iterator[str]:
    """The app, started with its CLI as a user starts it, serving `source`; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "experiments.end_to_end.visualise",
            str(source),
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start within 120 s"
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def position(page: Page, element_id: str) -> tuple[float, float]:
    """Where a graph element is on the page (nodes: centre; edges: midpoint)."""
    x, y = page.evaluate(
        """(id) => {
            const cy = window.cy, box = cy.container().getBoundingClientRect();
            const el = cy.getElementById(id);
            const p = el.isNode() ? el.renderedPosition() : el.renderedMidpoint();
            return [p.x + box.x, p.y + box.y];
        }""",
        element_id,
    )
    return float(x), float(y)


def click_graph(page: Page, element_id: str) -> None:
    """Click an element once the layout has settled (its position stops moving)."""
    page.wait_for_function(
        "(id) => window.cy && window.cy.getElementById(id).length", arg=element_id
    )
    last = position(page, element_id)
    for _ in range(100):
        page.wait_for_timeout(100)
        now = position(page, element_id)
        if now == last:
            break
        last = now
    page.mouse.click(*last)


def row_value(page: Page, table_id: str, label: str) -> str:
    """The value in a details table's row `label`."""
    row = page.locator(f"#{table_id} tr").filter(has=page.locator("th", has_text=label)).first
    return row.locator("td").inner_text().strip()


def visible_nodes(page: Page) -> int:
    return int(page.evaluate("window.cy.nodes().filter((n) => n.visible()).length"))


def proved_attempt(run_dir: Path) -> tuple[AttemptRecord, ProofTrace]:
    index = RunIndex.load(run_dir, progress=False)
    proved = [e for e in index.entries if e.status == "proved"]
    assert proved, "the real run proves at least one theorem (EQ_SYM with the fixed model)"
    assert proved[0].path is not None
    return proved[0], load_trace(proved[0].path)


def check_attempt_view(page: Page, trace: ProofTrace, shot: str) -> None:
    """Click the root goal, a tactic of the proof and a connector; replay the search."""
    root = trace.nodes[0]
    assert isinstance(root, InternalNodeRecord)
    proof_edge = trace.proof[0].edge
    expect(page.locator("#summary-table")).to_contain_text(trace.theorem_id, timeout=WAIT_MS)
    click_graph(page, "n0")
    details = page.locator("#details")
    expect(details).to_contain_text("n0 (goal)", timeout=WAIT_MS)
    expect(details).to_contain_text(root.goal.conclusion)
    expect(details).to_contain_text("visit count")
    page.screenshot(path=str(ARTIFACTS / f"{shot}-goal.png"))
    click_graph(page, f"e{proof_edge}")
    expect(details).to_contain_text(f"e{proof_edge} (tactic application)", timeout=WAIT_MS)
    expect(details).to_contain_text(trace.edges[proof_edge].tactic)
    expect(details).to_contain_text("log-probability")
    assert row_value(page, "details-table", "in proof") == "yes"
    assert row_value(page, "details-table", "outcome") == trace.edges[proof_edge].outcome
    page.screenshot(path=str(ARTIFACTS / f"{shot}-tactic.png"))
    failed = next((e for e in trace.edges if e.status == "failed"), None)
    if failed is not None:  # a plain edge of the graph shows the tactic it belongs to
        click_graph(page, f"e{failed.id}-out0")
        expect(details).to_contain_text(f"e{failed.id} (tactic application)", timeout=WAIT_MS)
        expect(details).to_contain_text(failed.outcome)
    steps = trace.counts.expansions
    expect(page.locator("#replay-title")).to_contain_text(f"step {steps} of {steps}")
    slider = page.locator("#replay [role=slider], input#replay").first
    slider.focus()
    page.keyboard.press("Home")
    expect(page.locator("#replay-title")).to_contain_text(f"step 0 of {steps}", timeout=WAIT_MS)
    page.wait_for_function("window.cy.nodes().filter((n) => n.visible()).length === 1")
    page.screenshot(path=str(ARTIFACTS / f"{shot}-replay-0.png"))
    page.keyboard.press("ArrowRight")
    expect(page.locator("#replay-title")).to_contain_text(
        f"step 1 of {steps}: expanded n0", timeout=WAIT_MS
    )
    expect(page.locator("#replay-rows")).to_contain_text("tactics applied")
    page.wait_for_function("window.cy.nodes().filter((n) => n.visible()).length > 1")
    born_by_1 = page.evaluate("window.cy.nodes().filter((n) => n.data('born') <= 1).length")
    assert 1 < visible_nodes(page) == born_by_1 <= len(trace.nodes) + len(trace.edges)
    page.screenshot(path=str(ARTIFACTS / f"{shot}-replay-1.png"))


@pytest.mark.hol_light
@pytest.mark.slow
def test_app_on_a_real_run(page: Page, real_run: Path) -> None:
    entry, trace = proved_attempt(real_run)
    with serving(real_run) as url:
        click_through_app(page, url, entry, trace)


def click_through_app(page: Page, url: str, entry: AttemptRecord, trace: ProofTrace) -> None:
    page.goto(url)
    expect(page.locator("#attempts")).to_contain_text(entry.theorem_id, timeout=WAIT_MS)
    page.get_by_label("proved", exact=True).check()
    statuses = page.locator("#attempts td[data-dash-column=status]")
    expect(statuses.first).to_have_text("proved", timeout=WAIT_MS)
    assert set(statuses.all_inner_texts()) == {"proved"}
    page.locator(
        "#attempts td[data-dash-column=theorem_id]", has_text=entry.theorem_id
    ).first.click()
    page.screenshot(path=str(ARTIFACTS / "app-selected.png"))
    check_attempt_view(page, trace, "app")
    expect(page.locator("#proof")).to_contain_text(trace.proof[0].tactic)


@pytest.mark.hol_light
@pytest.mark.slow
def test_exported_html_on_a_real_run(page: Page, real_run: Path, tmp_path: Path) -> None:
    entry, trace = proved_attempt(real_run)
    out = tmp_path / "run.html"
    done = export_with_cli(real_run, out)
    assert done.returncode == 0, done.stderr
    remote: list[str] = []
    page.on(
        "request", lambda r: None if r.url.startswith(("file:", "data:")) else remote.append(r.url)
    )
    page.goto(out.as_uri())
    page.locator(f"#attempts tr[data-key='{entry.key}']").click()
    proof = page.locator("#proof")
    for step in trace.proof:
        expect(proof).to_contain_text(step.tactic, timeout=WAIT_MS)
    check_attempt_view(page, trace, "html")
    assert remote == [], f"the export fetched {remote}"


def test_exported_html_shows_hostile_names_as_text(page: Page, tmp_path: Path) -> None:
    evil = "<img src=x onerror=alert(1)>"
    write_trace(search_trace_of(evil), tmp_path / "run")
    out = tmp_path / "evil.html"
    done = export_with_cli(tmp_path / "run", out)
    assert done.returncode == 0, done.stderr
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(out.as_uri())
    # One attempt: it is shown at once.
    expect(page.locator("#summary-table")).to_contain_text(evil, timeout=WAIT_MS)
    assert page.locator("#app img").count() == 0 and dialogs == []
    page.screenshot(path=str(ARTIFACTS / "html-hostile-name.png"))


def test_app_starts_on_bad_input_and_says_what_it_skipped(
    page: Page, messy_run: Path, tmp_path: Path
) -> None:
    with serving(messy_run) as url:
        page.goto(url)
        notices = page.locator("#notices")
        expect(notices).to_contain_text("ANCIENT", timeout=WAIT_MS)
        expect(notices).to_contain_text("schema_version: 0")
        expect(notices).to_contain_text("BROKEN")
        expect(page.locator("#attempts")).to_contain_text("OPEN_ONE")
        page.screenshot(path=str(ARTIFACTS / "app-bad-input.png"))
    (tmp_path / "empty").mkdir()
    with serving(tmp_path / "empty") as url:
        page.goto(url)
        expect(page.locator("#notices")).to_contain_text("No readable traces", timeout=WAIT_MS)
