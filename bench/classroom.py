"""A classroom: N students open the playground at once on a freshly started server.

    .venv/bin/python bench/classroom.py                 # N = 1, then N = 30 (about 20 minutes)
    .venv/bin/python bench/classroom.py --sessions 3    # N = 3 only
    .venv/bin/python bench/classroom.py --sessions 30 --room   # N = 30 in one class room (about 30 minutes)
    .venv/bin/python bench/classroom.py --first-visits  # one student's first visit of each page (under a minute)

Starts `streamlit run app/Home.py` with an empty model cache (the shipped models on, as a fresh
deployment has them), then opens N headless Chromium sessions (Playwright driving Debian's
Chromium, as tests/test_browser.py does). First the teacher's screen opens the home page (with
--room, the room's teacher view), as a teacher does before the class arrives: its visit starts the
server's warm-up, and the students come once the server logs it done (its CPU is reported apart:
it is paid once per server, not per view). Then three rounds, each with every session at once:
every page, as a student clicking down the navigation, waiting on each for its first chart; on
the MLP page a slider moved off the shipped setting and back onto it (the time to the shipped
model's result); a training of its own there (its own seed, 500 steps), waited for to the end,
reading the queue line meanwhile. It prints, per page, the median and worst time from opening the
page to its first chart, every exception box, and for the server's whole process tree (the server
and its training children) the peak memory and the CPU seconds, per page view for the first round.

In a class every browser runs on its student's own computer. Here they share the server's two
cores, so they run in Linux's idle scheduling class (`chrt --idle`; Chromium resets a plain nice
value): the server and its trainings get the cores first, as on a machine of their own, and the
browsers take what is left (30 of them still draw their pages slowly). The N = 1 run beside it
tells what the crowd costs.

--room: before the rounds every student opens one class room's join link and picks a nickname (the
room opened in the server's store as `python -m makemore room create` does); the teacher's view is
on the projector throughout, redrawing its board every 5 s; a last round opens the board's page
(its scatter of every run is its first chart); then a poll ("predict, then train"): the teacher's
screen opens the MLP page and asks the class to predict its shipped default's val loss, every
student opens the board and sends a prediction, and the teacher's screen shows the result (the
server's own: the page records it in the poll). At the end the bench reads the board from the store:
members, runs, whether every student whose training finished has it there (posted by the server,
never by the browser), and whether every prediction and the poll's result are there.

--first-visits runs another round alone: a fresh server, one student, who opens the home page and
then each page through its sidebar link, as the teacher does on the projector at the start of a
class (--think: seconds on each page before the next click); per page the time from the click to
its first chart (the first visit of a page pays whatever the server has not yet imported, loaded
or compiled for it: app/training/warmup.py), and every request the browser made to a host other
than the server (an offline classroom logs each as an error). Then, for comparison, a bare
Streamlit page with one small chart on a fresh server: what the browser and Streamlit's own front
end take, which no app can go below.

Figures only: nothing here asserts a limit (tests/test_classroom.py runs N = 3, and the first
visits).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "app")]

from registry import STAGES  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = ["/", *("/" + Path(stage.page).stem for stage in STAGES)]
BOARD = "/class_room"  # the Class room page: with a room, its board
POLL_FIELD = "Your prediction of its val loss"  # the board's field for an open poll (app/kit/polls_ui.py)
ASK_THE_CLASS = "Ask the class to predict this run's val loss"  # the teacher's button beside Train
WARMED_UP = "warm-up done"  # the line app/training/warmup.py logs when it has finished
FIRST_VISIT_PAGES = [*PAGES, "/compare"]  # the first visitor's round: every page of the sidebar
TITLES = {"/": "Home", **{"/" + Path(stage.page).stem: stage.title for stage in STAGES}, "/compare": "Compare",
          BOARD: "Class room"}
CHART = "[data-testid=stVegaLiteChart] .marks, [data-testid=stGraphVizChart] svg"
PAGE_TIMEOUT_MS = 300_000
TRAINING_TIMEOUT_MS = 900_000


@dataclass
class Session:
    index: int
    first_chart: dict = field(default_factory=dict)  # page -> seconds, None when no chart came
    exceptions: list = field(default_factory=list)  # (page, text)
    queue_lines: list = field(default_factory=list)
    slider_back: float | None = None  # seconds from a slider moved back onto a shipped setting to its result
    trained_in: float | None = None
    joined_in: float | None = None  # with a room: seconds from opening the join link to being in the room
    predicted_in: float | None = None  # with a room: seconds from opening the board to its prediction sent
    error: str | None = None
    browser: object = None  # the student's own browser (a Playwright context), for every round

    @property
    def nickname(self) -> str:
        return f"student-{self.index + 1:02d}"


# -----------------------------------------------------------------------------------------------
# the server and what it spends


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proportional_bytes(pid: int) -> int:
    """A process's share of memory (PSS): pages it shares with others (torch's libraries, mapped by the
    server and every training child forked from it) count once in all, split between them."""
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


class Server:
    """`streamlit run app/Home.py` on a free port, its process tree watched for memory and CPU."""

    def __init__(self, cache_dir: Path, log: Path, shipped: bool | Path = True, script: str = "app/Home.py",
                 ray: bool = False):
        """shipped: the models in data/models (True), none (False), or those in another folder;
        script: the app (another for the bare page that the first visits are set beside);
        ray: train on a one-machine Ray cluster the server starts (MAKEMORE_RAY_ADDRESS=local)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite:///{log.parent / 'rooms.sqlite'}"  # its class rooms' store, as the default is: a file
        env = {**os.environ, "MAKEMORE_CACHE_DIR": str(cache_dir), "MAKEMORE_WARMUP": "1",  # as deployed
               "MAKEMORE_DB_URL": self.db_url}
        if shipped is True:
            env.pop("MAKEMORE_SHIPPED_DIR", None)
        else:
            env["MAKEMORE_SHIPPED_DIR"] = str(shipped) if shipped else ""
        if ray:
            env["MAKEMORE_RAY_ADDRESS"] = "local"
        streamlit = Path(sys.executable).with_name("streamlit")
        self.log = open(log, "wb")
        self.process = subprocess.Popen(
            [str(streamlit), "run", script, "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(self.port)], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.cpu_by_pid: dict[int, float] = {}
        self.peak_bytes = 0
        self._watching = True
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the server did not come up")

    def tree(self) -> list[int]:
        """The server and every process below it (training children, the fork server)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        pids, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(children.get(pid, []))
        return pids

    def _watch(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while self._watching:
            total = 0
            for pid in self.tree():
                try:
                    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                    self.cpu_by_pid[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
                    total += proportional_bytes(pid)
                except (OSError, IndexError, ValueError):
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid.values())

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self._watching = False
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# -----------------------------------------------------------------------------------------------
# a student


async def wait_for_run(page) -> None:
    app = page.locator("[data-testid=stApp]")
    await app.and_(page.locator("[data-test-script-state=notRunning]")).wait_for(timeout=PAGE_TIMEOUT_MS)


async def visit(page, url: str, session: Session, path: str) -> None:
    """Open a page; the time to its first chart, or None when its run ended without one."""
    t0 = time.monotonic()
    await page.goto(url + path)
    chart = page.locator(CHART).first
    done = page.locator("[data-testid=stApp][data-test-script-state=notRunning]")
    title = page.locator("[data-testid=stMain] h1").first
    session.first_chart[path] = None
    done_since = None
    while time.monotonic() - t0 < PAGE_TIMEOUT_MS / 1000:
        if await chart.count() and await chart.is_visible():
            session.first_chart[path] = time.monotonic() - t0
            break
        over = await title.count() and await done.count() and not await page.locator("[data-testid=stSkeleton]").count()
        done_since = (done_since or time.monotonic()) if over else None
        if done_since and time.monotonic() - done_since > 5:
            # the run has been over for 5 s and drew no chart (a page that waits for a click); a
            # browser that shares busy cores may draw a chart a moment after the run ends
            break
        await page.wait_for_timeout(50)
    await wait_for_run(page)
    for text in await page.locator("[data-testid=stException]").all_inner_texts():
        session.exceptions.append((path, text[:300]))


async def slider_onto_shipped(page, url: str, session: Session) -> None:
    """The MLP page: block size 3 -> 4 (a setting nobody trained) and back to 3 (the shipped default):
    the time from the key press to the shipped model's result on the page."""
    await page.goto(url + "/mlp")
    await wait_for_run(page)
    thumb = page.locator("[data-testid=stSlider]").filter(has_text="Block size").get_by_role("slider")
    result = page.locator("[data-testid=stMetricLabel]", has_text="val loss")
    await thumb.focus()
    await thumb.press("ArrowRight")
    await result.first.wait_for(state="detached", timeout=PAGE_TIMEOUT_MS)
    await wait_for_run(page)
    t0 = time.monotonic()
    await thumb.press("ArrowLeft")
    await result.first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
    session.slider_back = time.monotonic() - t0
    await wait_for_run(page)


async def train_own(page, url: str, session: Session) -> None:
    """The MLP page with this student's own seed and 500 steps: nobody has trained it."""
    await page.goto(f"{url}/mlp?mlp_seed={1000 + session.index}&mlp_steps=500")
    await wait_for_run(page)
    t0 = time.monotonic()
    await page.get_by_role("button", name="Train").click()
    deadline = time.monotonic() + TRAINING_TIMEOUT_MS / 1000
    queue = page.locator("[data-testid=stAlert]", has_text="in the queue")
    result = page.locator("[data-testid=stMetricLabel]", has_text="val loss")
    while time.monotonic() < deadline:
        if await result.count():
            stopped = await page.locator("[data-testid=stAlert]", has_text="Stopped at step").all_inner_texts()
            if stopped:  # the page shows a model stopped part way: not the training this student asked for
                session.error = f"training stopped part way: {stopped[0].strip().splitlines()[-1][:160]}"
            else:
                session.trained_in = time.monotonic() - t0
            break
        for text in await queue.all_inner_texts():  # never waits: the line may go between two looks
            line = text.strip().splitlines()[-1]  # after the icon's name
            if line not in session.queue_lines:
                session.queue_lines.append(line)
        await page.wait_for_timeout(500)
    await wait_for_run(page)
    for text in await page.locator("[data-testid=stException]").all_inner_texts():
        session.exceptions.append(("/mlp (training)", text[:300]))


async def visit_every_page(page, url: str, session: Session) -> None:
    for path in PAGES:
        await visit(page, url, session, path)


def join_room(code: str):
    async def join(page, url: str, session: Session) -> None:
        """Open the room's join link, pick a nickname, join: the student's seat, for every page after."""
        t0 = time.monotonic()
        await page.goto(f"{url}/?room={code}")
        nickname = page.get_by_role("textbox", name="Nickname")
        await nickname.fill(session.nickname)
        await page.get_by_role("button", name="Join").click()
        await page.locator("[data-testid=stSidebar]").get_by_text(f"You are {session.nickname}",
                                                                  exact=True).wait_for()
        session.joined_in = time.monotonic() - t0
        await wait_for_run(page)
        # the seat's cookie, which brings the student back in the next rounds' tabs (as a new tab would)
        await page.wait_for_function("document.cookie.includes('makemore_room=')")
    return join


async def open_the_board(page, url: str, session: Session) -> None:
    await visit(page, url, session, BOARD)  # the board's scatter of every run is its first chart


async def predict_poll(page, url: str, session: Session) -> None:
    """Open the board, type a prediction of the open poll's val loss (each student's own) and send it."""
    t0 = time.monotonic()
    await page.goto(url + BOARD)
    await page.get_by_label(POLL_FIELD, exact=True).fill(f"{2.0 + session.index / 100:.2f}")
    await page.get_by_role("button", name="Send my prediction").click()
    await page.get_by_text("Your prediction:").wait_for()
    session.predicted_in = time.monotonic() - t0
    await wait_for_run(page)
    for text in await page.locator("[data-testid=stException]").all_inner_texts():
        session.exceptions.append((BOARD + " (prediction)", text[:300]))


async def open_a_poll(page) -> None:
    """The teacher's screen: to the MLP page (in the same session: the sidebar's link), and ask the
    class to predict its run (the shipped default: trained already, so its result stays hidden)."""
    await page.locator('[data-testid=stSidebarNav] a[href$="/mlp"]').click()
    await page.get_by_role("button", name=ASK_THE_CLASS).click()
    await page.get_by_text("its result stays hidden").wait_for()


async def show_the_result(page) -> float:
    """The teacher's screen shows the poll's run (its page records the result); back to the board.
    The seconds from the click to the page saying so."""
    t0 = time.monotonic()
    await page.get_by_role("button", name="Show the result to the class").click()
    await page.get_by_text("The class's poll has its result").wait_for()
    shown = time.monotonic() - t0
    await page.locator(f'[data-testid=stSidebarNav] a[href$="{BOARD}"]').click()
    await page.get_by_text("Closest:").first.wait_for()  # the projector's board: the poll, its result
    return shown


async def teachers_screen(browser, url: str, address: str, stop: asyncio.Event,
                          opened: asyncio.Future | None = None) -> None:
    """The teacher's screen, open from before the class arrives to the end of the lesson: the home
    page, or with a room its teacher's view, whose board redraws itself every 5 s (`opened` gets the
    page, for the poll's clicks)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = await context.new_page()
    try:
        await page.goto(f"{url}{address}")
        if opened is not None:
            opened.set_result(page)
        await stop.wait()
    finally:
        await context.close()


async def warmed_up(server: "Server", timeout: float = 240) -> float:
    """Wait for the server's warm-up (app/training/warmup.py, started by the first visitor) to say it
    is done; the server's CPU seconds from its start until then."""
    deadline = time.monotonic() + timeout
    while WARMED_UP not in server.log_text() and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    if WARMED_UP not in server.log_text():
        raise RuntimeError(f"the server's warm-up did not finish within {timeout:.0f} s")
    await asyncio.sleep(0.5)  # the watcher's last sample
    return server.cpu_seconds()


async def in_own_tab(browser, url: str, session: Session, start: asyncio.Event, work) -> None:
    """One student's browser window doing `work` once every student is ready; a new tab of the same
    browser each round (its cookies stay: a student in a room comes back to it)."""
    if session.browser is None:
        session.browser = await browser.new_context(viewport={"width": 1400, "height": 1000})
        # 30 browsers on the server's 2 cores load a page in tens of seconds, past Playwright's 30 s default
        session.browser.set_default_timeout(PAGE_TIMEOUT_MS)
    page = await session.browser.new_page()
    try:
        await start.wait()
        await work(page, url, session)
    except Exception as e:  # reported, never hidden
        session.error = session.error or f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    finally:
        await page.close()


def low_priority(executable: str, folder: Path) -> str:
    """A launcher (in folder) that starts the browser in the idle scheduling class, which its
    renderer processes inherit."""
    launcher = folder / "chromium"
    launcher.write_text(f'#!/bin/sh\nexec chrt --idle 0 "{executable}" "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


async def everyone(browser, url: str, sessions: list[Session], server: Server, work) -> float:
    """Every student does `work` at once; the server's CPU seconds meanwhile."""
    cpu0 = server.cpu_seconds()
    start = asyncio.Event()
    tasks = [asyncio.create_task(in_own_tab(browser, url, s, start, work)) for s in sessions]
    start.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.5)  # the watcher's last sample
    return server.cpu_seconds() - cpu0


async def classroom(url: str, sessions: list[Session], server: Server, train: bool, chromium: str,
                    room=None) -> dict:
    """Three rounds, each with every student at once: every page (the CPU of these views is what
    a page view costs), a slider onto a shipped setting and back, then a training of their own.
    With a room (a NewRoom): every student first joins it through its join link, the teacher's view
    is on the projector throughout, and a last round opens the room's board."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        lesson_over = asyncio.Event()
        # as in a class: the teacher's screen is up before the students arrive, and its first visit
        # starts the server's warm-up, whose one-off CPU is counted apart from the page views'
        address = f"/?room={room.code}&teacher={room.teacher_key}" if room is not None else "/"
        projector = asyncio.get_running_loop().create_future()
        shown = asyncio.create_task(teachers_screen(browser, url, address, lesson_over, projector))
        cpu_start = await warmed_up(server)
        if room is not None:
            await everyone(browser, url, sessions, server, join_room(room.code))
        cpu_visits = await everyone(browser, url, sessions, server, visit_every_page)
        await everyone(browser, url, sessions, server, slider_onto_shipped)
        trainings = await everyone(browser, url, sessions, server, train_own) if train else 0.0
        cpu_board = await everyone(browser, url, sessions, server, open_the_board) if room is not None else 0.0
        cpu_poll, result_shown = 0.0, None
        if room is not None:
            teacher = await projector
            try:
                await open_a_poll(teacher)
                cpu_poll = await everyone(browser, url, sessions, server, predict_poll)
                result_shown = await show_the_result(teacher)
            except Exception as e:  # reported with the board's count: the poll is then not all there
                print(f"the teacher's poll: {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
        lesson_over.set()
        await shown
        await browser.close()
    return {"cpu_start": cpu_start, "cpu_visits": cpu_visits, "cpu_trainings": trainings, "cpu_board": cpu_board,
            "cpu_poll": cpu_poll, "result_shown": result_shown}


# -----------------------------------------------------------------------------------------------
# the first visitor: each page's first visit through the sidebar


@dataclass
class FirstVisits:
    first_chart: dict = field(default_factory=dict)  # page -> seconds from the click, None when no chart came
    foreign_requests: list = field(default_factory=list)  # URLs on a host other than the server
    exceptions: list = field(default_factory=list)  # (page, text)
    peak_bytes: int = 0
    server_up: float = 0.0  # seconds from the server's start to its health check answering
    think: float = 0.0  # seconds the student spends on each page before the next click
    error: str | None = None
    bare_page: float | None = None  # a bare Streamlit page's one chart, from typing its address


# What the browser and Streamlit's front end cost alone: a fresh server of a page with one small chart.
BARE_PAGE = """import altair as alt
import streamlit as st

st.title("A bare page")
st.altair_chart(alt.Chart(alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 1}])).mark_bar().encode(x="x:O", y="y:Q"))
"""


async def bare_page_chart(url: str, chromium: str) -> float | None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()
            t0 = time.monotonic()
            await page.goto(url)
            return await new_chart(page, t0)
        finally:
            await browser.close()


async def new_chart(page, t0: float) -> float | None:
    """Seconds from t0 to a chart drawn by this run (not one left from the page before, marked old
    by the caller), or None when the run ended 5 s ago without one."""
    chart = page.locator(CHART.replace(" .marks", " .marks:not([data-bench-old])")
                         .replace(" svg", " svg:not([data-bench-old])")).first
    done = page.locator("[data-testid=stApp][data-test-script-state=notRunning]")
    done_since = None
    while time.monotonic() - t0 < PAGE_TIMEOUT_MS / 1000:
        if await chart.count() and await chart.is_visible():
            return time.monotonic() - t0
        done_since = (done_since or time.monotonic()) if await done.count() else None
        if done_since and time.monotonic() - done_since > 5:
            return None
        await page.wait_for_timeout(20)
    return None


async def first_visits(url: str, chromium: str, report: FirstVisits) -> None:
    from playwright.async_api import async_playwright

    host = url.split("//", 1)[1]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = await context.new_page()
        page.on("request", lambda r: r.url.split("//", 1)[-1].split("/", 1)[0] != host
                and not r.url.startswith(("data:", "blob:")) and report.foreign_requests.append(r.url))
        try:
            for path in FIRST_VISIT_PAGES:
                if path == "/":  # the teacher's first page: typed into the address bar
                    t0 = time.monotonic()
                    await page.goto(url + path)
                else:
                    # charts of the page before may stay in the DOM for a moment: only a new one counts
                    await page.evaluate(f"""document.querySelectorAll({CHART!r})
                                             .forEach(e => e.setAttribute('data-bench-old', ''))""")
                    link = page.locator("[data-testid=stSidebarNavLink]", has_text=TITLES[path]).first
                    t0 = time.monotonic()
                    await link.click()
                report.first_chart[path] = await new_chart(page, t0)
                await wait_for_run(page)
                await page.wait_for_timeout(report.think * 1000)
                for text in await page.locator("[data-testid=stException]").all_inner_texts():
                    report.exceptions.append((path, text[:300]))
        finally:
            await browser.close()


def run_first_visits(shipped: bool | Path = True, think: float = 0.0) -> FirstVisits:
    report = FirstVisits(think=think)
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.monotonic()
        server = Server(Path(folder) / "cache", Path(folder) / "streamlit.log", shipped=shipped)
        try:
            server.wait_healthy()
            report.server_up = time.monotonic() - t0
            chromium = low_priority(CHROMIUM, Path(folder))
            try:
                run_on_own_thread(first_visits(server.url, chromium, report))
            except Exception as e:  # reported, never hidden
                report.error = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            time.sleep(0.5)
            report.peak_bytes = server.peak_bytes
        finally:
            server.stop()
        bare = Path(folder) / "bare_page.py"
        bare.write_text(BARE_PAGE)
        server = Server(Path(folder) / "cache", Path(folder) / "bare.log", shipped=shipped, script=str(bare))
        try:
            server.wait_healthy()
            report.bare_page = run_on_own_thread(bare_page_chart(server.url, low_priority(CHROMIUM, Path(folder))))
        except Exception as e:  # only the comparison is lost
            report.error = report.error or f"the bare page: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
        finally:
            server.stop()
    return report


def first_visits_summary(report: FirstVisits) -> str:
    lines = [f"first visits (a fresh server, one student, each page through the sidebar): server up in "
             f"{report.server_up:.1f} s; {report.think:g} s on each page before the next click; peak memory "
             f"of its process tree {report.peak_bytes / 1e9:.2f} GB",
             f"  {'page':12} {'first chart':>12}   from the click (the home page: from typing its address)"]
    for path in FIRST_VISIT_PAGES:
        seconds = report.first_chart.get(path)
        lines.append(f"  {path:12} {f'{seconds:.2f} s' if seconds is not None else 'no chart':>12}")
    if report.bare_page is not None:
        lines.append(f"  for comparison, a bare Streamlit page with one small chart on a fresh server: "
                     f"{report.bare_page:.2f} s from typing its address (the browser and Streamlit's front end alone)")
    foreign = sorted({u.split("//", 1)[-1].split("/", 1)[0] for u in report.foreign_requests})
    lines.append(f"  requests to other hosts than the server: {len(report.foreign_requests)}"
                 + (f" ({', '.join(foreign)}; e.g. {report.foreign_requests[0][:120]})" if foreign else ""))
    problems = ([report.error] if report.error else []) + [f"{p}: exception: {t}" for p, t in report.exceptions]
    lines += [f"  problem: {p}" for p in problems]
    return "\n".join(lines)


# -----------------------------------------------------------------------------------------------
# a run and its report


@dataclass
class RoomCount:
    """What the room's board holds at the end, read from the server's own store."""

    members: int
    runs: int
    students_with_a_run: int  # of those whose own training finished
    cpu_board: float  # server CPU seconds while every student opened the board
    predictions: int = 0  # on the poll, of the students who sent one
    poll_complete: bool = False  # every student's prediction (as sent) and the poll's result on the board
    poll_result: float | None = None  # the val loss the teacher's page recorded
    cpu_poll: float = 0.0  # server CPU seconds while every student opened the board and sent a prediction
    result_shown: float | None = None  # seconds from the teacher's click to the result recorded


@dataclass
class Report:
    n: int
    sessions: list[Session]
    peak_bytes: int
    cpu_visits: float
    cpu_trainings: float
    room: RoomCount | None = None
    cpu_start: float = 0.0  # the server's start and warm-up, with the teacher's screen open: once per server

    @property
    def views(self) -> int:
        """The first round's: every page of every student (the board's, with a room, is counted apart)."""
        return sum(path in s.first_chart for s in self.sessions for path in PAGES)

    def problems(self) -> list[str]:
        out = [f"session {s.index}: {s.error}" for s in self.sessions if s.error]
        out += [f"session {s.index} {page}: exception: {text}" for s in self.sessions for page, text in s.exceptions]
        out += [f"session {s.index} {page}: no chart" for s in self.sessions
                for page, t in s.first_chart.items() if t is None]
        return out


def run_on_own_thread(coroutine):
    # Playwright's sync API (the browser tests, in the same pytest process) keeps an event loop
    # running on the main thread, where asyncio.run refuses to start; a thread of our own has none.
    result = {}

    def target():
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as error:  # handed back to the caller below
            result["error"] = error

    thread = threading.Thread(target=target, name="classroom")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def run(n: int, train: bool = True, shipped: bool = True, room: bool = False, ray: bool = False) -> Report:
    """room: the class joins one class room first (opened in the server's store, as the CLI's
    `room create` does), and the board is read at the end; ray: the server trains on a local Ray."""
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "cache", Path(folder) / "streamlit.log", shipped=shipped, ray=ray)
        store = opened = None
        try:
            server.wait_healthy()
            if room:
                from makemore.data import WordDataset
                from makemore.rooms import RoomStore
                from makemore.rooms.words import room_list

                store = RoomStore(server.db_url)  # on the lectures' list, the default: the shipped models apply
                opened = store.create_room(f"A class of {n}", *room_list(WordDataset.from_file(ROOT / "data" / "names.txt")))
            sessions = [Session(i) for i in range(n)]
            chromium = low_priority(CHROMIUM, Path(folder))
            spent = run_on_own_thread(classroom(server.url, sessions, server, train, chromium, room=opened))
            time.sleep(0.5)
            count = None
            if opened is not None:
                board = store.board(opened.code)
                posted = {r.nickname for r in board.runs}
                poll = board.polls[0] if board.polls else None
                sent = {s.nickname: 2.0 + s.index / 100 for s in sessions if s.predicted_in is not None}
                got = {p.nickname: p.value for p in poll.predictions} if poll else {}
                count = RoomCount(len(board.members), len(board.runs),
                                  sum(s.nickname in posted for s in sessions if s.trained_in is not None),
                                  spent["cpu_board"], len(got),
                                  poll is not None and poll.result is not None and len(sent) == n
                                  and all(abs(got.get(name, -1) - value) < 1e-9 for name, value in sent.items()),
                                  poll.result if poll else None, spent["cpu_poll"], spent["result_shown"])
            return Report(n, sessions, server.peak_bytes, spent["cpu_visits"], spent["cpu_trainings"], count,
                          spent["cpu_start"])
        finally:
            if store is not None:
                store.close()
            server.stop()


def summary(report: Report) -> str:
    lines = [f"N = {report.n}: peak memory of the server's process tree {report.peak_bytes / 1e9:.2f} GB; "
             f"server CPU for {report.views} page views {report.cpu_visits:.1f} s "
             f"({report.cpu_visits / max(1, report.views):.2f} s a view); for {report.n} trainings "
             f"{report.cpu_trainings:.1f} s; before the class, the server's start and warm-up "
             f"{report.cpu_start:.1f} s",
             f"  {'page':12} {'median':>8} {'worst':>8}   time to the first chart"]
    for path in PAGES + ([BOARD] if report.room is not None else []):
        times = [s.first_chart.get(path) for s in report.sessions]
        got = [t for t in times if t is not None]
        median = f"{statistics.median(got):.2f} s" if got else "—"
        worst = f"{max(got):.2f} s" if got and len(got) == len(times) else "no chart"
        lines.append(f"  {path:12} {median:>8} {worst:>8}")
    back = [s.slider_back for s in report.sessions if s.slider_back is not None]
    if back:
        lines.append(f"  a slider moved back onto the shipped setting (MLP page): median {statistics.median(back):.2f} s, "
                     f"worst {max(back):.2f} s to the model's result")
    trained = [s.trained_in for s in report.sessions if s.trained_in is not None]
    if trained:
        lines.append(f"  own training (MLP, 500 steps): {len(trained)} of {report.n} finished; median "
                     f"{statistics.median(trained):.1f} s, worst {max(trained):.1f} s from the click")
    if report.room is not None:
        joined = [s.joined_in for s in report.sessions if s.joined_in is not None]
        finished = sum(s.trained_in is not None for s in report.sessions)
        lines.append(f"  class room: {len(joined)} of {report.n} joined by its link"
                     + (f" (median {statistics.median(joined):.1f} s, worst {max(joined):.1f} s)" if joined else "")
                     + f"; its board: {report.room.members} members, {report.room.runs} runs, the own training of "
                     f"{report.room.students_with_a_run} of the {finished} students whose training finished")
        # an open board redraws every 5 s (live_board's run_every) until this student's chart came
        open_seconds = sum(s.first_chart.get(BOARD) or 0.0 for s in report.sessions)
        board_runs = report.n + open_seconds / 5
        lines.append(f"  the board's round: server CPU {report.room.cpu_board:.1f} s for {report.n} views, about "
                     f"{board_runs:.0f} runs of the board (each open board redraws every 5 s): "
                     f"{report.room.cpu_board / board_runs:.2f} s a run")
        sent = [s.predicted_in for s in report.sessions if s.predicted_in is not None]
        result = report.room.poll_result
        lines.append(f"  a poll: {len(sent)} of {report.n} students sent a prediction"
                     + (f" (median {statistics.median(sent):.1f} s, worst {max(sent):.1f} s from opening the board)"
                        if sent else "")
                     + f"; on the board {report.room.predictions} predictions and "
                     + (f"the result, val {result:.4f}" if result is not None else "no result")
                     + (f" ({report.room.result_shown:.1f} s from the teacher's click)"
                        if report.room.result_shown is not None else "")
                     + f": every prediction and the result there: {'yes' if report.room.poll_complete else 'NO'}")
        # each student's tab: the board's page run, the prediction's, and the board's redraws meanwhile
        poll_runs = 2 * len(sent) + sum(sent) / 5
        lines.append(f"  the poll's round: server CPU {report.room.cpu_poll:.1f} s, about {poll_runs:.0f} page runs "
                     f"(the board opened, the prediction sent, the board's redraws): "
                     f"{report.room.cpu_poll / max(1.0, poll_runs):.2f} s a page view")
    queued = [s.queue_lines[0] for s in report.sessions if s.queue_lines]
    if queued:
        lines.append(f"  {len(queued)} waited in the queue; e.g. \"{queued[-1][:160]}\"")
    problems = report.problems()
    lines.append(f"  exceptions and missing charts: {len(problems)}")
    lines += [f"    {p}" for p in problems[:20]]
    return "\n".join(lines)


def main(argv=None) -> list[Report]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[1, 30], help="class sizes to run, in turn")
    parser.add_argument("--no-training", action="store_true", help="only visit the pages")
    parser.add_argument("--room", action="store_true",
                        help="the class joins one class room by its join link first; the board is read at the end")
    parser.add_argument("--first-visits", action="store_true",
                        help="only the first visitor: each page's first visit through the sidebar, on a fresh server")
    parser.add_argument("--think", type=float, default=0.0,
                        help="with --first-visits: seconds on each page, once it has run, before the next click")
    parser.add_argument("--shipped-dir", type=Path,
                        help="the shipped models from this folder, not data/models (e.g. while those are rebuilt)")
    parser.add_argument("--ray", action="store_true",
                        help="the server trains on a one-machine Ray cluster it starts (MAKEMORE_RAY_ADDRESS=local)")
    args = parser.parse_args(argv)
    shipped = args.shipped_dir or True
    if args.first_visits:
        report = run_first_visits(shipped, think=args.think)
        print(first_visits_summary(report), flush=True)
        return [report]
    reports = []
    for n in args.sessions:
        report = run(n, train=not args.no_training, shipped=shipped, room=args.room, ray=args.ray)
        print(summary(report), flush=True)
        reports.append(report)
    return reports


if __name__ == "__main__":
    main()
