"""The documents a user reads: tables equal to what docs/build.py makes from the committed results, every link to a
file of the repository resolving, and no words about how the project was built, anywhere a user reads."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgedigits import cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import build  # noqa: E402  (docs/build.py)

# Words that describe the making of the project, not the product: never in README, docs, help or model texts.
PROCESS_WORDS = re.compile(r"issue[ -]?[0-9]|(first|last|previous|next|this|earlier) session|seed 00|thesis|"
                           r"this machine|this VM|build machine", re.I)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "CHANGELOG.md"]


def committed_stale(docs: dict[str, str], tmp: Path) -> list[str] | None:
    """The documents among `docs` (path in the repository -> text) that differ from what the committed sources give
    (the tree as `git archive HEAD` has it, with these texts), or None outside a git checkout."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"], capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    for relative, text in docs.items():
        (tmp / relative).write_text(text)
    check = subprocess.run([sys.executable, str(tmp / "docs" / "build.py"), "--check", "--no-figure"],
                           capture_output=True, text=True)
    assert check.returncode == 0 or (check.returncode == 1 and "out of date:" in check.stderr), check.stderr[-3000:]
    return [relative for relative in docs if relative in check.stderr]


def test_documents_equal_what_their_results_files_give(tmp_path):
    """Each table equals what docs/build.py makes of its results file. The main job (`make demo`) rewrites the
    lenet manifest with the running CPU's timings, so a document may instead equal what the committed sources give."""
    stale = [doc for doc in build.DOCUMENTS if doc.read_text() != build.render(doc.read_text(), doc.name)]
    if stale:
        still = committed_stale({str(d.relative_to(ROOT)): d.read_text() for d in stale}, tmp_path)
        assert still is not None and not still, (f"{', '.join(d.name for d in stale)} differ from their sources: "
                                                 f"run python docs/build.py")


def test_the_committed_sources_check_finds_a_stale_document(tmp_path):
    original = (ROOT / "README.md").read_text()
    block = build.BLOCK.search(original)
    changed = original.replace(block.group("body"), block.group("body").replace("9", "8", 1), 1)
    assert committed_stale({"README.md": changed}, tmp_path) in (None, ["README.md"])


def test_every_table_is_used_once_and_names_its_source_and_cpu():
    used = [m.group("name") for doc in build.DOCUMENTS for m in build.BLOCK.finditer(doc.read_text())]
    assert sorted(used) == sorted(build.TABLES), "each table in exactly one document"
    for name, make in build.TABLES.items():
        first = make().splitlines()[0]
        assert first.startswith("Source: `") or first.startswith("lenet keeps"), name
        if name != "recipe-keys":  # the recipe table comes from code, not from a measurement
            assert "measured on" in first or "scored on" in first, f"{name} does not say where it was measured"


def test_a_changed_result_changes_the_document(tmp_path, monkeypatch):
    text = (ROOT / "docs" / "over-parameterization.md").read_text()
    real = build.load
    monkeypatch.setattr(build, "load", lambda rel: {**real(rel), "machine": {"cpu": "Other CPU", "features": ["avx2"]}}
                        if "sparsity" in rel else real(rel))
    assert "measured on Other CPU" in build.render(text) and build.render(text) != text


def test_readme_is_a_short_product_page():
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 220
    first = "\n".join(readme[:80])
    for needed in ("pip install edgedigits", "make demo", "make test", "```python", "docs/embedding.md",
                   "edgedigits predict"):
        assert needed in first, f"'{needed}' not in the README's first 80 lines"


def test_links_in_documents_point_at_files_that_exist():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#]+?)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def help_texts(group=cli.cli, prefix=()):
    """Every command's --help output, subcommands included."""
    runner = CliRunner()
    yield " ".join(prefix) or "edgedigits", runner.invoke(cli.cli, [*prefix, "--help"]).output
    for name, command in getattr(group, "commands", {}).items():
        yield from help_texts(command, (*prefix, name))


def test_no_process_words_where_a_user_reads():
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in DOCS}
    texts.update({str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "edgedigits").rglob("*.py")})
    texts.update({f"{name} --help": out for name, out in help_texts()})
    models = subprocess.run([sys.executable, "-m", "edgedigits", "models"], capture_output=True, text=True, cwd=ROOT)
    assert models.returncode == 0 and "lenet" in models.stdout
    texts["edgedigits models"] = models.stdout
    assert len([k for k in texts if k.endswith("--help")]) >= 15  # every command, the sweep kinds too
    found = {where: m.group(0) for where, text in texts.items() if (m := PROCESS_WORDS.search(text))}
    assert found == {}


def test_the_process_word_check_catches_them():
    for text in ("as in issue 6", "the issue-6 rule", "seed 003's plots", "measured on this machine", "the thesis'"):
        assert PROCESS_WORDS.search(text), text


@pytest.mark.parametrize("name", ["LICENSE", "CHANGELOG.md"])
def test_license_and_changelog_ship(name):
    text = (ROOT / name).read_text()
    assert ("Apache License" in text and "Version 2.0" in text) if name == "LICENSE" else "## 0.1.0" in text


def test_readme_python_snippet_prints_what_predict_prints():
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "156 288"  # what `edgedigits predict examples/digits.jpg` prints after the name


def test_the_limits_page_states_every_limit():
    """docs/limits.md says each bound of edgedigits/limits.py with its value, so the two cannot drift apart."""
    from edgedigits import limits

    text = (ROOT / "docs" / "limits.md").read_text()
    bounds = {name: value for name, value in vars(limits).items() if name.startswith("MAX_")}
    assert len(bounds) >= 15
    missing = [name for name, value in bounds.items()
               if not re.search(rf"(?<![\d,.]){re.escape(f'{value:,.0f}')}(?![\d,])", text)]
    assert missing == []
