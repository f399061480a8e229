"""The whole app in a real browser: `streamlit run` serves it, Playwright drives Debian's Chromium.

AppTest runs the page scripts without a browser; only a browser proves that a page renders, that
its charts draw and that its widgets work. Every registered page has a driver below (one test per
page, so a failure names the page): it opens the page, checks its title, that no exception box
shows and that every chart draws, then moves a slider with the keyboard and trains, as a student
would. A screenshot of each page goes into a temporary folder, printed at the end of the run.

Chromium comes from Debian (`tests/install-system.sh`; never `playwright install`, which downloads
a browser of its own). Without it these tests are skipped, except under CI (CI=true), where a
missing browser is a failure: CI must run them.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from conftest import Server  # the server, the browser and the screenshots are conftest's session fixtures
from test_bad_input import UPLOADS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))
from registry import STAGES  # noqa: E402  (the app's list of stage pages)

from makemore import limits  # noqa: E402
from makemore.serving.cache import DiskCache  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOME_PAGE = "landing.py"  # Home.py's default page (st.Page(..., default=True))
PAGES = [HOME_PAGE, *(stage.page for stage in STAGES)]
RUN_MS = 180_000  # the longest a script run may take here: a training on 2 busy CPU cores
STEP_MS = 30_000  # anything that is not a training
LOSS = re.compile(r"^\d+\.\d{4}$")  # a loss as the metrics show it

try:
    from playwright.sync_api import Page, expect
except ImportError:  # reported by the `browser` fixture (conftest.py), with what to do
    pass


def url_path(page_file: str) -> str:
    """The address st.navigation gives a page: its file name without .py; the default page is /."""
    return "/" if page_file == HOME_PAGE else "/" + Path(page_file).stem


# -----------------------------------------------------------------------------------------------
# the server and the browser


@pytest.fixture
def page(browser, app_server):
    """A fresh tab (a new Streamlit session) that fails the test on an uncaught script error."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(STEP_MS)
    errors = []
    tab.on("pageerror", lambda error: errors.append(error))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


# -----------------------------------------------------------------------------------------------
# what a page shows


def open_page(page: Page, server: Server, page_file: str) -> None:
    page.goto(server.url + url_path(page_file))
    # The script state reads "notRunning" before the first run starts too: wait for the run's output.
    expect(page.locator("[data-testid=stMain] h1").first).to_be_visible(timeout=RUN_MS)
    wait_for_run(page)


def wait_for_run(page: Page, timeout: int = RUN_MS) -> None:
    """Until the app is connected and its script has finished running. Only after a sign that the
    run has started (its output, a changed value): the state is "notRunning" until it does."""
    app = page.locator("[data-testid=stApp]")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=STEP_MS)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    # elements whose code loads lazily (charts) stand as skeletons until it has come
    expect(page.locator("[data-testid=stSkeleton]")).to_have_count(0)


def title(page: Page) -> str:
    return page.locator("[data-testid=stMain] h1").first.inner_text().strip()


def metric(page: Page, label: str):
    """The value of the metric whose label is exactly `label`, as a locator."""
    exactly = re.compile(f"^{re.escape(label)}$")
    return page.locator("[data-testid=stMetric]").filter(
        has=page.locator("[data-testid=stMetricLabel]", has_text=exactly)).locator("[data-testid=stMetricValue]")


def slider(page: Page, label: str):
    """The thumb of the slider labelled `label`: it takes the keyboard's arrows, Home and End."""
    return page.locator("[data-testid=stSlider]").filter(has_text=label).get_by_role("slider")


def press(thumb, *keys: str) -> None:
    thumb.focus()
    for key in keys:
        thumb.press(key)


def no_exception_box(page: Page) -> None:
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, boxes.all_inner_texts()


DRAWN_MARKS = """chart => {
    // Vega draws into <svg class="marks">, or into a canvas for charts with many data points.
    const svg = chart.querySelector('svg.marks');
    if (svg) return svg.querySelectorAll('.role-mark > *').length;  // one element per drawn mark
    const canvas = chart.querySelector('canvas.marks');
    if (!canvas || !canvas.width || !canvas.height) return 0;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length && colours.size < 3; i += 4 * 97)
        colours.add(pixels.slice(i, i + 4).join());
    return colours.size > 2 ? colours.size : 0;  // more than a background and a frame
}"""


def marks_drawn(page: Page, charts) -> int:
    """How many charts `charts` finds; fails unless every one has drawn its marks."""
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        expect(chart.locator("svg.marks, canvas.marks")).to_be_visible()
        deadline = time.monotonic() + STEP_MS / 1000  # a canvas is painted a frame after it appears
        while not chart.evaluate(DRAWN_MARKS):
            assert time.monotonic() < deadline, f"chart {i + 1} of {charts.count()} drew no marks"
            page.wait_for_timeout(100)
    return charts.count()


def charts_drawn(page: Page) -> int:
    """How many charts the page has, in every tab of its deeper views (each opened in turn, then the
    first again); fails unless every one has drawn its marks."""
    outside = page.locator("[data-testid=stVegaLiteChart]:not([data-testid=stTabPanel] *)")
    count = marks_drawn(page, outside)
    tabs = page.get_by_role("tab")
    for i in range(tabs.count()):
        tabs.nth(i).click()
        count += marks_drawn(page, page.locator("[data-testid=stTabPanel] [data-testid=stVegaLiteChart] >> visible=true"))
    if tabs.count():
        tabs.nth(0).click()
    return count


def chart_titled(page: Page, text: str):
    """A chart drawn as SVG whose text (title, axes, legend) includes `text`."""
    return page.locator("[data-testid=stVegaLiteChart]").filter(has=page.locator("svg.marks", has_text=text))


def screenshot(page: Page, folder: Path, name: str) -> None:
    # The page scrolls inside Streamlit's main container: make the window as tall as its content.
    height = page.locator("[data-testid=stMain]").evaluate("e => e.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 12_000)})
    page.wait_for_timeout(300)  # let the charts re-lay out to the new size (a picture for humans)
    page.screenshot(path=folder / f"{name}.png")


# -----------------------------------------------------------------------------------------------
# one driver per page


@dataclass(frozen=True)
class Driver:
    title: str  # the page's h1, exactly
    charts_on_open: int  # charts once the page's first run is over
    exercise: Callable[[Page], None]  # moves a slider with the keyboard, trains, checks what changes


def exercise_home(page: Page) -> None:
    # Home has no slider and trains nothing: its control is the dataset picker, used by keyboard.
    words = metric(page, "words")
    expect(words).to_have_text("32,033")
    picker = page.get_by_role("combobox", name="Word list")
    picker.focus()
    picker.fill("cities")
    picker.press("Enter")
    expect(words).not_to_have_text("32,033", timeout=RUN_MS)
    wait_for_run(page)
    expect(metric(page, "vocabulary")).to_have_text("28")  # a-z, '-' and the boundary
    assert charts_drawn(page) == 3
    picker.fill("names")
    picker.press("Enter")
    expect(words).to_have_text("32,033", timeout=RUN_MS)
    wait_for_run(page)


def exercise_bigram(page: Page) -> None:
    # smoothing: one step of α right raises the training NLL (the counts are not retrained)
    train_nll = metric(page, "train NLL")
    before = train_nll.inner_text()
    press(slider(page, "Smoothing α"), "ArrowRight")
    expect(slider(page, "Smoothing α")).to_have_value("1.1")
    expect(train_nll).not_to_have_text(before)
    wait_for_run(page)
    assert float(train_nll.inner_text()) > float(before)

    # ten more steps for the network: a new training, with its progress bar, then its loss chart
    network_nll = float(metric(page, "network train NLL").inner_text())
    press(slider(page, "Steps (each on the full training set)"), "ArrowRight")
    progress = page.locator("[data-testid=stProgress]")
    expect(progress).to_contain_text("of 110", timeout=RUN_MS)  # Training bigram-nn: step … of 110
    expect(progress).to_have_count(0, timeout=RUN_MS)
    wait_for_run(page)
    # on the lectures' names 100 steps have met the counts already: ten more keep the loss there
    assert abs(float(metric(page, "network train NLL").inner_text()) - network_nll) < 0.01
    expect(chart_titled(page, "Network loss against the counts")).to_have_count(1)


def train_the_shortest_run(page: Page, chart: str) -> None:
    """On a page that trains live: Steps to its lowest by keyboard, Train, its progress, then its results."""
    steps = slider(page, "Steps")
    press(steps, "Home")
    expect(steps).to_have_value("0")  # the first of the slider's options
    wait_for_run(page)
    shortest = steps.get_attribute("aria-valuetext")
    page.get_by_role("button", name="Train").click()
    progress = page.locator("[data-testid=stProgress]")
    expect(progress).to_contain_text(f"of {shortest}", timeout=RUN_MS)
    expect(chart_titled(page, chart)).to_have_count(1, timeout=RUN_MS)
    expect(progress).to_have_count(0)
    wait_for_run(page)
    expect(metric(page, "val loss")).to_have_text(LOSS)


def type_a_word(page: Page, label: str, charts: int, without: int = 1) -> None:
    """A typed word the list cannot spell gets a message, not a traceback, and only the `without`
    charts that do not read it stay (the loss chart); a good one brings the word's `charts` back."""
    word = page.get_by_label(label, exact=True)
    word.fill("Ava")
    word.press("Enter")
    expect(page.locator("[data-testid=stAlertContentWarning]", has_text="This list has no capitals")).to_be_visible(
        timeout=RUN_MS)
    wait_for_run(page)
    assert charts_drawn(page) == without  # nothing of the word's
    word.fill("ava")
    word.press("Enter")
    expect(page.locator("[data-testid=stAlertContentWarning]")).to_have_count(0, timeout=RUN_MS)
    wait_for_run(page)
    assert charts_drawn(page) == charts


def exercise_mlp(page: Page) -> None:
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Block size"), "ArrowRight")  # 3 -> 4 characters of context: more parameters
    expect(summary).not_to_have_text(before)
    wait_for_run(page)
    train_the_shortest_run(page, "Loss during training")


def exercise_batchnorm(page: Page) -> None:
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Hidden layers"), "ArrowRight")  # 1 -> 2 hidden layers: more parameters
    expect(summary).not_to_have_text(before)
    wait_for_run(page)
    train_the_shortest_run(page, "Activations of each tanh layer")
    assert charts_drawn(page) == 7
    # the diagnostics' step slider, by keyboard: the last recorded step
    press(slider(page, "Show the network at step"), "End")
    expect(page.locator("[data-testid=stCaptionContainer]", has_text="At step 500:")).to_be_visible()
    wait_for_run(page)


def exercise_backprop(page: Page) -> None:
    graph = page.locator("[data-testid=stGraphVizChart] svg")
    expect(graph.locator("g.node")).to_have_count(15)  # the lecture's neuron: 10 values, 5 operations
    expect(graph).to_contain_text("grad -1.5000")  # x1's gradient, the lecture's number
    step = slider(page, "Backward pass: step")
    press(step, "Home")  # back to before the backward pass
    expect(page.locator("[data-testid=stCaptionContainer]", has_text="Before the backward pass")).to_be_visible()
    expect(graph).to_contain_text("grad ?")
    wait_for_run(page)
    press(step, "ArrowRight")
    expect(page.locator("[data-testid=stCaptionContainer]", has_text="starts with gradient 1")).to_be_visible()
    wait_for_run(page)

    # a longer comparison: both trainings run again (a spinner), then the chart shows every step
    page.get_by_role("tab", name="2 · The MLP with BatchNorm, by hand").click()
    press(slider(page, "Steps with both gradients"), "End")
    expect(page.locator("[data-testid=stSpinner]")).to_contain_text("Training twice", timeout=RUN_MS)
    expect(chart_titled(page, "2,000")).to_have_count(1, timeout=RUN_MS)
    wait_for_run(page)
    expect(metric(page, "gradients that match autograd")).to_have_text("28 of 28")


def exercise_wavenet(page: Page) -> None:
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Embedding size"), "ArrowLeft")  # 24 -> 23 numbers per character: fewer parameters
    expect(summary).not_to_have_text(before)
    wait_for_run(page)
    train_the_shortest_run(page, "Which characters each unit reads")
    assert charts_drawn(page) == 8  # the loss, the tree, five of the insides, the embeddings
    # a typed name: the shapes and the tree follow its window; a name the list cannot spell gets a message
    name = page.get_by_label("Name", exact=True)
    name.fill("olivia")
    name.press("Enter")
    after = page.locator("[data-testid=stCaptionContainer]", has_text="After “olivia”")
    expect(after).to_be_visible(timeout=RUN_MS)
    expect(chart_titled(page, "..olivia")).to_have_count(1)
    wait_for_run(page)
    name.fill("Olivia")
    name.press("Enter")
    expect(page.locator("[data-testid=stAlertContentWarning]", has_text="not among the characters")).to_be_visible(
        timeout=RUN_MS)
    wait_for_run(page)


def exercise_recurrent(page: Page) -> None:
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Hidden size"), "ArrowLeft")  # 128 -> 120 units of state: fewer parameters
    expect(summary).not_to_have_text(before)
    wait_for_run(page)
    train_the_shortest_run(page, "Loss during training")
    # the loss, the hidden state and the next characters of "emma", the gradient norms, the stages' losses
    assert charts_drawn(page) == 5
    expect(chart_titled(page, "Hidden state h_t after each character")).to_have_count(1)
    type_a_word(page, "A word to read", charts=5, without=2)  # the loss and the stages' losses stay


def exercise_transformer(page: Page) -> None:
    # heads that do not divide the embedding size: a message, then back
    heads = slider(page, "Heads")
    press(heads, "ArrowRight")  # 4 -> 5 heads for 48 numbers
    expect(page.locator("[data-testid=stAlertContentError]", has_text="5 heads do not divide")).to_be_visible(
        timeout=RUN_MS)
    wait_for_run(page)
    press(heads, "ArrowLeft")
    expect(page.locator("[data-testid=stAlertContentError]")).to_have_count(0, timeout=RUN_MS)
    wait_for_run(page)
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Blocks"), "ArrowLeft")  # 2 -> 1 block: fewer parameters
    expect(summary).not_to_have_text(before)
    wait_for_run(page)
    # the shortest run, by keyboard (Home: the slider's lowest value, whatever the registry's recipes add)
    steps = slider(page, "Steps")
    press(steps, "Home")
    expect(steps).to_have_value("0")
    wait_for_run(page)
    shortest = steps.get_attribute("aria-valuetext")
    page.get_by_role("button", name="Train").click()
    progress = page.locator("[data-testid=stProgress]")
    expect(progress).to_contain_text(f"of {shortest}", timeout=RUN_MS)
    expect(chart_titled(page, "The mask")).to_have_count(1, timeout=RUN_MS)
    expect(progress).to_have_count(0)
    wait_for_run(page)
    expect(metric(page, "val loss")).to_have_text(LOSS)
    # the loss; the mask, scores and weights of "emma"; block 1's heads; the next characters
    assert charts_drawn(page) == 6
    expect(chart_titled(page, "Block 1: each head's attention weights")).to_have_count(1)
    type_a_word(page, "Name", charts=6)


DRIVERS: dict[str, Driver] = {
    HOME_PAGE: Driver("makemore playground", 3, exercise_home),
    "stages/bigram.py": Driver("Bigram: one character predicts the next", 3, exercise_bigram),
    "stages/mlp.py": Driver("MLP: embeddings and a hidden layer", 0, exercise_mlp),
    "stages/batchnorm.py": Driver("Activations, gradients and BatchNorm", 0, exercise_batchnorm),
    "stages/backprop.py": Driver("Backprop: the chain rule, by hand", 3, exercise_backprop),
    "stages/wavenet.py": Driver("WaveNet: a hierarchical MLP", 0, exercise_wavenet),
    "stages/recurrent.py": Driver("Recurrent nets: RNN and GRU", 0, exercise_recurrent),
    "stages/transformer.py": Driver("Transformer: from averaging to a small GPT", 0, exercise_transformer),
}


def test_every_registered_page_has_a_browser_driver():
    missing = [p for p in PAGES if p not in DRIVERS]
    assert not missing, (f"no browser driver for {', '.join(missing)}: add one to DRIVERS in "
                         "tests/test_browser.py (its title, its charts, a slider moved by keyboard, training)")
    assert set(DRIVERS) <= set(PAGES), f"drivers for pages that are not registered: {set(DRIVERS) - set(PAGES)}"


@pytest.mark.parametrize("page_file", PAGES, ids=[url_path(p).strip("/") or "home" for p in PAGES])
def test_page_works_in_the_browser(page_file, page, app_server, screenshots):
    driver = DRIVERS.get(page_file)
    assert driver, f"{page_file} has no browser driver: add one to DRIVERS in tests/test_browser.py"
    open_page(page, app_server, page_file)
    assert title(page) == driver.title
    assert page.url == app_server.url + url_path(page_file)
    no_exception_box(page)
    assert charts_drawn(page) == driver.charts_on_open

    driver.exercise(page)
    no_exception_box(page)
    charts_drawn(page)
    screenshot(page, screenshots, url_path(page_file).strip("/") or "home")


def test_sidebar_links_every_page_at_its_file_name(page, app_server):
    open_page(page, app_server, HOME_PAGE)
    links = page.locator("[data-testid=stSidebarNavLink]")
    shown = {links.nth(i).inner_text().split("\n")[-1].strip(): links.nth(i).get_attribute("href")
             for i in range(links.count())}
    expected = {"Home": url_path(HOME_PAGE), **{s.title: url_path(s.page) for s in STAGES},
                "Compare": url_path(COMPARE_PAGE), "Class room": url_path(CLASS_ROOM_PAGE)}
    assert shown == {name: app_server.url + path for name, path in expected.items()}


# -----------------------------------------------------------------------------------------------
# the Compare page (after the stages, not a stage: it has its own test)

COMPARE_PAGE = "compare.py"


def test_compare_page_trains_what_is_missing_downloads_a_model_and_imports_it_again(page, app_server, screenshots,
                                                                                    tmp_path):
    import torch

    open_page(page, app_server, COMPARE_PAGE)
    assert title(page) == "Compare: which model is best?"
    no_exception_box(page)
    # The server's cache starts empty and ships no models: train the two bigrams (seconds), each by
    # its own button, unless an earlier test of this server trained them already.
    for name in ("bigram", "bigram-nn"):
        button = page.get_by_role("button", name=re.compile(f"^Train {name} \\(about"))
        if button.count():
            button.click()
            expect(button).to_have_count(0, timeout=RUN_MS)
            wait_for_run(page)
    expect(page.get_by_role("button", name=re.compile("^Train bigram"))).to_have_count(0, timeout=RUN_MS)
    expect(page.locator("[data-testid=stProgress]")).to_have_count(0, timeout=RUN_MS)  # both trained
    wait_for_run(page)
    no_exception_box(page)
    assert charts_drawn(page) == 3  # val loss against parameters and time, the loss at each position
    expect(chart_titled(page, "Loss at each position")).to_have_count(1)

    # one more sample by keyboard: every model draws 21 words
    new_words = page.locator("[data-testid=stCaptionContainer]", has_text="New words")
    expect(new_words).to_contain_text("bigram-nn ")
    press(slider(page, "How many"), "ArrowRight")
    expect(new_words).to_contain_text("/21")
    wait_for_run(page)

    # a real download: the counts bigram as a .pt file, which plain torch opens with weights_only
    with page.expect_download(timeout=STEP_MS) as download:
        page.get_by_role("button", name="Download the model (.pt)").click()
    assert download.value.suggested_filename == "bigram-names.pt"
    saved = tmp_path / "bigram-names.pt"
    download.value.save_as(saved)
    blob = torch.load(saved, weights_only=True)
    assert blob["model"] == "bigram" and blob["dataset"]["name"] == "names.txt" and len(blob["train_words"]) > 25_000

    # brought back through the real file picker: it joins the comparison and draws the same words
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(saved))
    expect(page.locator("[data-testid=stAlertContentSuccess]")).to_contain_text("added to the comparison",
                                                                                 timeout=RUN_MS)
    wait_for_run(page)
    expect(new_words).to_contain_text("bigram · bigram-names.pt ")
    no_exception_box(page)
    assert charts_drawn(page) == 3
    screenshot(page, screenshots, "compare")


# -----------------------------------------------------------------------------------------------
# uploads through the real file picker


def choose_upload(page: Page) -> None:
    page.get_by_role("combobox", name="Word list").click()
    page.get_by_role("option", name="Upload your own list…").click()
    expect(page.locator("[data-testid=stFileUploaderDropzoneInput]")).to_be_attached()
    wait_for_run(page)


def send_file(page: Page, name: str, content: bytes) -> None:
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": content}])


# ids in tests/test_bad_input.py's table: one refused by the app, two read in its own ways
BROWSER_UPLOADS = ["binary", "CSV with a header", "emoji"]


@pytest.mark.parametrize("upload_id", BROWSER_UPLOADS)
def test_upload_through_the_file_picker(upload_id, page, app_server):
    upload = next(u for u in UPLOADS if u.id == upload_id)
    open_page(page, app_server, HOME_PAGE)
    choose_upload(page)
    send_file(page, upload.name, upload.content)
    sidebar = page.locator("[data-testid=stSidebar]")
    words = metric(page, "words")
    if upload.refused:
        error = sidebar.locator("[data-testid=stAlertContentError]")
        expect(error).to_contain_text("can't be used")
        for part in upload.refused:
            expect(error).to_contain_text(part)
        wait_for_run(page)
        expect(words).to_have_text("32,033")  # the default list stands in
    else:
        expect(words).to_have_text(f"{len(upload.words):,}", timeout=RUN_MS)
        wait_for_run(page)
        if upload.note:
            expect(sidebar.locator("[data-testid=stAlertContentInfo]", has_text=upload.note)).to_be_visible()
    no_exception_box(page)
    assert charts_drawn(page) == 3


def test_a_file_over_the_size_limit_is_refused_by_the_file_picker(page, app_server):
    # The picker itself refuses it (.streamlit/config.toml's maxUploadSize, the same 2 MB as
    # makemore.limits), before it reaches the server.
    upload = next(u for u in UPLOADS if u.id == "too large")
    open_page(page, app_server, HOME_PAGE)
    choose_upload(page)
    send_file(page, upload.name, upload.content)
    expect(page.locator("[data-testid=stSidebar]").get_by_role("alert")).to_contain_text(
        f"File must be {limits.MAX_FILE_BYTES / 1e6:.1f}MB or smaller")
    expect(metric(page, "words")).to_have_text("32,033")
    no_exception_box(page)


# -----------------------------------------------------------------------------------------------
# faults


def test_trainings_cut_short_by_a_slider_or_a_closed_tab_leave_only_whole_cache_files(browser, app_server):
    steps = "Steps (each on the full training set)"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        first = context.new_page()
        open_page(first, app_server, "stages/bigram.py")
        press(slider(first, steps), "ArrowRight", "ArrowRight")  # 120 steps: a new training
        progress = first.locator("[data-testid=stProgress]")
        expect(progress).to_contain_text("of 120", timeout=RUN_MS)
        press(slider(first, steps), "ArrowRight")  # moved mid-training: the 120-step run is cut short
        expect(progress).to_contain_text("of 130", timeout=RUN_MS)
        first.close()  # and the tab closes while the 130-step one runs

        # Another visitor asks for the same 130 steps: served by the first run if the server kept
        # it going (it waits for it), else trained now. Either way it ends with its results.
        second = context.new_page()
        open_page(second, app_server, "stages/bigram.py")
        network_nll = metric(second, "network train NLL")
        hundred_steps = network_nll.inner_text()
        press(slider(second, steps), "ArrowRight", "ArrowRight", "ArrowRight")
        expect(slider(second, steps)).to_have_value("130")
        expect(network_nll).not_to_have_text(hundred_steps, timeout=RUN_MS)
        wait_for_run(second)
        no_exception_box(second)
    finally:
        context.close()

    # Every save has finished (each ran inside a training's script run, and those are over): the
    # cache holds whole files only, and the 130-step model among them.
    files = sorted(app_server.cache_dir.iterdir())
    assert not [f.name for f in files if not f.name.endswith(".pt") or f.name.startswith(".")]
    cache = DiskCache(app_server.cache_dir)
    saved = [cache.load(f.stem) for f in files]
    assert None not in saved, "a cache file could not be loaded"
    assert 130 in [checkpoint.result.steps for checkpoint in saved]


def test_a_bad_link_to_the_mlp_page_says_what_it_ignored_and_the_page_works(page, app_server):
    page.goto(app_server.url + "/mlp?mlp_block=abc&mlp_hidden=-5&mlp_steps=99999999999&mlp_lr=1e9&nonsense=1")
    expect(page.locator("[data-testid=stMain] h1").first).to_be_visible(timeout=RUN_MS)
    wait_for_run(page)
    warning = page.locator("[data-testid=stAlertContentWarning]", has_text="could not be used")
    for name in ("Block size", "Hidden width", "Steps", "Learning rate", "nonsense"):
        expect(warning).to_contain_text(name)
    # the defaults stand in, and the page reacts to its widgets
    expect(slider(page, "Block size")).to_have_value("3")
    expect(slider(page, "Hidden width")).to_have_value("200")
    summary = page.locator("[data-testid=stCaptionContainer]", has_text="parameters")
    before = summary.inner_text()
    press(slider(page, "Hidden width"), "ArrowRight")
    expect(summary).not_to_have_text(before)
    no_exception_box(page)


# -----------------------------------------------------------------------------------------------
# class rooms: joining by link, the cookie that brings a student back, a small class on one board

CLASS_ROOM_PAGE = "class_room.py"


def tiny_room(server: Server, title: str):
    """A room opened straight in the server's store, on a short list: its trainings take a moment."""
    from makemore.data import WordDataset
    from makemore.rooms import RoomStore
    from makemore.rooms.words import room_list
    from conftest import TINY_WORDS
    store = RoomStore(server.db_url)
    try:
        return store.create_room(title, *room_list(WordDataset("tiny.txt", list(TINY_WORDS))))
    finally:
        store.close()


def sidebar_text(page: Page, text: str):
    return page.locator("[data-testid=stSidebar]").get_by_text(text, exact=True)


def join_by_link(page: Page, server: Server, code: str, nickname: str) -> None:
    page.goto(f"{server.url}/?room={code}")  # the join link: the app's address, from any page
    expect(page.get_by_role("textbox", name="Nickname")).to_be_visible(timeout=RUN_MS)
    assert page.url == f"{server.url}/class_room?room={code}"
    page.get_by_role("textbox", name="Nickname").fill(nickname)
    page.get_by_role("button", name="Join").click()
    expect(sidebar_text(page, f"You are {nickname}")).to_be_visible(timeout=RUN_MS)
    wait_for_run(page)


def test_a_student_who_joined_by_link_is_still_in_the_room_in_a_new_tab(browser, app_server, screenshots):
    opened = tiny_room(app_server, "Join by link")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        first = context.new_page()
        join_by_link(first, app_server, opened.code, "ada")
        screenshot(first, screenshots, "class-room-student")
        first.close()  # the tab closed: its Streamlit session is gone, the browser's cookie stays
        again = context.new_page()
        open_page(again, app_server, HOME_PAGE)
        expect(sidebar_text(again, "You are ada")).to_be_visible()
        open_page(again, app_server, CLASS_ROOM_PAGE)
        expect(again.get_by_text(re.compile(r"· you are ada$"))).to_be_visible()
        no_exception_box(again)
    finally:
        context.close()
    stranger = browser.new_context()  # another browser: no cookie, no seat
    try:
        tab = stranger.new_page()
        open_page(tab, app_server, CLASS_ROOM_PAGE)
        expect(tab.get_by_role("button", name="Join")).to_be_visible()
        expect(sidebar_text(tab, "You are ada")).to_have_count(0)
    finally:
        stranger.close()


def test_a_small_class_trains_and_the_teacher_sees_every_run(browser, app_server, screenshots):
    contexts = []

    def tab():
        contexts.append(browser.new_context(viewport={"width": 1400, "height": 1000}))
        page = contexts[-1].new_page()
        page.set_default_timeout(STEP_MS)
        return page

    try:
        teacher = tab()
        open_page(teacher, app_server, CLASS_ROOM_PAGE)
        teacher.get_by_role("tab", name="Teachers: open a room").click()
        teacher.get_by_role("textbox", name="Title").fill("Lecture 1, Monday")
        teacher.get_by_role("button", name="Open a room").click()
        expect(teacher.get_by_text("Your teacher link, shown only now.")).to_be_visible(timeout=RUN_MS)
        wait_for_run(teacher)
        links = teacher.locator("[data-testid=stMain] pre")
        expect(links.filter(has_text="?room=")).to_have_count(2)
        join_link = links.filter(has_text="?room=").filter(has_not_text="teacher=").inner_text().strip()
        teacher_link = links.filter(has_text="teacher=").inner_text().strip()
        code = join_link.rsplit("=", 1)[1]

        for seed, nickname in zip((101, 102, 103), ("ada", "bob", "cy")):
            student = tab()
            join_by_link(student, app_server, code, nickname)
            # a run of the student's own: a link that sets the seed (the page's widgets read the address)
            student.goto(f"{app_server.url}/bigram?bigram_seed={seed}")
            expect(metric(student, "network val NLL")).to_have_text(LOSS, timeout=RUN_MS)
            wait_for_run(student)
            expect(student.get_by_role("spinbutton", name="Seed (initial weights)")).to_have_value(str(seed))
            no_exception_box(student)

        expect(metric(teacher, "runs")).to_have_text("3", timeout=RUN_MS)  # the board refreshes itself
        expect(metric(teacher, "members")).to_have_text("3")
        expect(chart_titled(teacher, "val loss")).to_have_count(1)
        screenshot(teacher, screenshots, "class-room-teacher")

        again = tab()  # the teacher link elsewhere: the key leaves the address bar at once
        again.goto(teacher_link)
        expect(again.get_by_role("heading", name="Your controls")).to_be_visible(timeout=RUN_MS)
        wait_for_run(again)
        assert "teacher=" not in again.url and f"room={code}" in again.url
    finally:
        for context in contexts:
            context.close()


def test_ci_runs_the_readme_test_command_which_installs_chromium():
    readme = (ROOT / "README.md").read_text()
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    python3 -m venv")]
    assert len(commands) == 2, "the README has two set-up commands: start the app, run the tests"
    test_command = next(c for c in commands if c.endswith("pytest"))
    assert "bash tests/install-system.sh" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
