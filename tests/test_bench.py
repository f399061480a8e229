"""bench/stages.py, the one benchmark table: its quick mode runs every stage with a reference recipe
(no timing is asserted anywhere in the tests)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import stages  # noqa: E402  (bench/stages.py)

from makemore.models import MODELS  # noqa: E402


def test_the_quick_run_has_a_row_for_every_stage_with_a_reference_recipe(names_path, tmp_path, capsys):
    out = tmp_path / "table.md"
    text = stages.main(["--quick", "--data", str(names_path), "--markdown", str(out)])
    assert out.read_text().strip() == text.strip()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    expected = [name for name, spec in MODELS.items() if spec.lecture is not None]
    assert [row.split("`")[1] for row in rows] == expected
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 8 and cells[1].split(" (")[0] == MODELS[cells[0].strip("`")].lecture.source
        assert float(cells[2].split()[0]) > 0 and float(cells[6].split(',')[0]) > 0  # a target and a final val
