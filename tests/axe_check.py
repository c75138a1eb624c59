"""axe-core (pinned in tests/axe/package.json, installed by `make test`) run inside a page.

`violations(page)` evaluates axe in the page through the DevTools protocol, so the page's strict
CSP (no inline script) stays on and is still checked, and runs the WCAG 2.0/2.1 A and AA rules
over the whole document, open shadow roots included. axe leaves its "experimental" rules out of a
run by tag; four of them test WCAG 2.1 A/AA criteria (a table's fake caption, data cells
without headers, a bold paragraph posing as a heading: 1.3.1; orientation locked: 1.3.4), so
each rule of those tags is switched on by name. `assert_accessible(page, state)` fails with
each violation's rule, impact, help and the offending elements, so a failure names what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .browser import Watched

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test installs it with npm: tests/axe)")
    return AXE.read_text(encoding="utf-8")


def violations(page: Any, within: str | None = None) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA violations axe finds in `page` (or in the `within` selector)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    Watched.axe_running = True
    try:
        found: list[dict[str, Any]] = page.evaluate(
        """async ([within, tags]) => {
            const rules = Object.fromEntries(window.axe.getRules(tags)
                .map(r => [r.ruleId, {enabled: true}]));
            const result = await window.axe.run(within ? document.querySelector(within) : document,
                {runOnly: {type: "tag", values: tags}, rules, resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "),
                                          summary: n.failureSummary}))}));
        }""", [within, WCAG_AA])
        page.evaluate("() => new Promise(requestAnimationFrame)")  # its CSP reports come in
    finally:
        Watched.axe_running = False
    return found


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        lines.extend(f"    {n['target']}: {(n['summary'] or '').splitlines()[-1:]}"
                     for n in v["nodes"][:8])
    return "\n".join(lines)


def assert_accessible(page: Any, state: str, within: str | None = None) -> None:
    found = violations(page, within)
    assert found == [], f"axe: WCAG 2.1 AA violations in {state}:\n{describe(found)}"
