"""The map's levels in a real Chromium (issue 27): theme names zoomed out, topic names zoomed in.

The figure is ui.map.figure's, the script the app's page runs (ui.browser.MAP_LEVELS_JS), and plotly.js the
one the plotly package ships, on a page of its own: the app test (test_app_browser) shows the map renders
inside gradio; this one zooms it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_app_browser import CHROMIUM, CHROMIUM_ARGS
from topictalk.ui import browser as page_script
from topictalk.ui import map as map_mod

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (./install.sh)")]

THEMES = {0: "Vision", 1: "Language", 2: "Robotics"}
# three themes far apart, each of three topics close together: in the full view their labels would overlap
TOPICS = {3 * th + k: f"{name} part {k}" for th, name in THEMES.items() for k in range(3)}


def _points() -> map_mod.Points:
    rng = np.random.default_rng(0)
    topic = np.repeat(np.arange(9), 40).astype(np.int32)
    x = (topic // 3) * 40.0 + (topic % 3) * 4.0 + rng.normal(scale=0.2, size=len(topic))
    y = (topic // 3) * 5.0 + rng.normal(scale=0.2, size=len(topic))
    return map_mod.Points(x.astype(np.float32), y.astype(np.float32), topic, [f"paper {i}" for i in range(len(topic))],
                          len(topic), (topic // 3).astype(np.int32))


def _shown(page) -> list[str]:
    page.wait_for_timeout(300)  # the relayout the script asks for is drawn in the next frame
    return sorted(page.evaluate("() => [...document.querySelectorAll('.annotation-text')].map(e => e.textContent)"))


def test_zooming_in_swaps_theme_names_for_topic_names_and_a_reset_brings_them_back(tmp_path):
    from playwright.sync_api import sync_playwright

    fig = map_mod.figure(_points(), TOPICS, theme_labels=THEMES)
    html = tmp_path / "map.html"
    html.write_text(fig.to_html(include_plotlyjs=True, full_html=True, div_id="map"))
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1000, "height": 800})
        page.goto(html.as_uri())
        page.wait_for_selector(".annotation-text")
        page.evaluate(f"({page_script.MAP_LEVELS_JS})()")
        assert _shown(page) == sorted(THEMES.values())  # zoomed out: the themes
        # zoom on the Language theme's three topics (x 40..48), about 8x: its topics are named, the themes are not
        page.evaluate("() => Plotly.relayout('map', {'xaxis.range': [38, 48.5], 'yaxis.range': [3, 7]})")
        shown = _shown(page)
        assert set(shown) >= {"Language part 0", "Language part 1", "Language part 2"}, shown
        assert not set(shown) & set(THEMES.values()), shown
        page.evaluate("() => Plotly.relayout('map', {'xaxis.autorange': true, 'yaxis.autorange': true})")
        assert _shown(page) == sorted(THEMES.values())
        chromium.close()
