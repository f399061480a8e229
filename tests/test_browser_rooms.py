"""The class room's projector view in a real browser (Chromium, as tests/test_browser.py drives it):
at 1024×768 and 1280×720 every column header of the board's tables lies inside the window, no
table clips a column, the chart is drawn and inside the window, and the sidebar is gone. AppTest
cannot see a layout: only a browser lays the page out."""

from __future__ import annotations

import pytest

from test_browser import (CLASS_ROOM_PAGE, RUN_MS, STEP_MS, Server, chart_titled, marks_drawn, no_exception_box,
                          url_path, wait_for_run)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI) with what to do
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECTOR_SCREENS = [(1024, 768), (1280, 720)]
# nicknames as long as a room allows, and settings as long as the Transformer's: the widest a board gets
RUNS = [("Maximiliana_Wolfeschleg", "mlp", 2.1057, 11_897), ("bob", "mlp", 2.1442, 5_865),
        ("cy", "batchnorm", 2.0860, 12_297), ("Dmitri Ivanovich Mendel", "wavenet", 1.9931, 76_579),
        ("eve", "transformer", 2.0330, 53_691), ("fay", "recurrent", 2.1502, 8_000)]
LEADERBOARDS = len({stage for _, stage, _, _ in RUNS})

HEADERS_OUTSIDE = """width => Array.from(document.querySelectorAll('[data-testid=stMain] th')).filter(th => {
    const box = th.getBoundingClientRect();
    return box.left < -0.5 || box.right > width + 0.5 || th.scrollWidth > th.clientWidth + 1;
}).map(th => th.textContent)"""
TABLES_WIDER = """() => Array.from(document.querySelectorAll('[data-testid=stMain] table')).filter(
    t => t.scrollWidth > t.parentElement.clientWidth + 1).length"""


def room_with_runs_and_challenges(server: Server):
    """A room on the lectures' list with a run on each stage that trains, two met challenges (one
    of them a lecture's) and one nobody met yet."""
    from makemore.rooms import PostedRun, RoomStore
    from makemore.rooms.words import room_list
    from kit.datasets_ui import load_builtin

    store = RoomStore(server.db_url)
    try:
        opened = store.create_room("Lecture 2, projector", *room_list(load_builtin("names.txt")))
        for nickname, stage, val_loss, params in RUNS:
            member = store.join(opened.code, nickname)
            settings = {"model": stage, "config": {"block_size": 3, "n_embd": 10, "n_hidden": 200, "init": "scaled"},
                        "training": {"max_steps": 20_000, "batch_size": 32, "lr": 0.1, "seed": 42}}
            store.post_run(opened.code, member.token, PostedRun(
                stage=stage, model=stage, run_key=f"{nickname}-{stage}", settings=settings,
                fingerprint=opened.room.fingerprint, val_loss=val_loss, params=params, seconds=12.5,
                link=f"stages/{stage}.py?{stage}_steps=20000", steps=20_000))
        store.add_challenge(opened.code, opened.teacher_key, "Under 2.2 on any stage, as lecture 2 asks", 2.2)
        store.add_lecture_challenge(opened.code, opened.teacher_key, "mlp")  # bob meets it
        store.add_challenge(opened.code, opened.teacher_key, "Under 1.9 with at most 20,000 parameters", 1.9,
                            max_params=20_000)
        return opened
    finally:
        store.close()


def test_the_projector_view_fits_1024x768_and_1280x720_without_clipping(browser, app_server, screenshots):
    opened = room_with_runs_and_challenges(app_server)
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        page.goto(f"{app_server.url}/?room={opened.code}&teacher={opened.teacher_key}")  # the teacher link
        expect(page.get_by_role("heading", name="Your controls")).to_be_visible(timeout=RUN_MS)
        assert page.url.startswith(app_server.url + url_path(CLASS_ROOM_PAGE))
        wait_for_run(page)
        expect(page.locator("[data-testid=stSidebar]")).to_be_visible()  # the teacher's page: the sidebar is there
        page.get_by_text("Projector view", exact=True).click()
        expect(page.get_by_role("heading", name="Your controls")).to_have_count(0, timeout=RUN_MS)
        # a leaderboard for each stage with runs, and the challenges
        expect(page.locator("[data-testid=stMain] table")).to_have_count(LEADERBOARDS + 1)
        wait_for_run(page)
        no_exception_box(page)
        for width, height in PROJECTOR_SCREENS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(500)  # the layout and the chart follow the new size
            expect(page.locator("[data-testid=stSidebar]")).to_be_hidden()
            expect(page.locator("[data-testid=stSidebarCollapsedControl], [data-testid=stExpandSidebarButton]"
                                ).locator("visible=true")).to_have_count(0)
            assert page.locator("[data-testid=stDataFrame]").count() == 0  # a canvas that clips: none here
            headers = page.locator("[data-testid=stMain] th")
            # rank, nickname, val loss, params and settings; challenge, target, first met by and best
            assert headers.count() == 5 * LEADERBOARDS + 4
            assert page.evaluate(HEADERS_OUTSIDE, width) == [], f"headers cut at {width}×{height}"
            assert page.evaluate(TABLES_WIDER) == 0, f"a table wider than its place at {width}×{height}"
            for name in ("Maximiliana_Wolfeschleg", "first met by", "best"):
                expect(page.locator("[data-testid=stMain] table").get_by_text(name, exact=True).first).to_be_visible()
            chart = chart_titled(page, "Every run in the room")
            expect(chart).to_have_count(1)
            assert marks_drawn(page, chart) == 1
            box = chart.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (box, width)
            # the top runs carry their nicknames on the chart itself
            expect(chart.locator("svg.marks")).to_contain_text("Dmitri Ivanovich Mendel")
            main = page.locator("[data-testid=stMain]")
            assert main.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"the page scrolls sideways at {width}"
            screenshot_at(page, screenshots, f"class-room-projector-{width}x{height}")
    finally:
        context.close()


def screenshot_at(page, folder, name: str) -> None:
    """A picture at the projector's own size (test_browser's screenshot widens the window to 1,400)."""
    page.screenshot(path=folder / f"{name}.png", full_page=False)
