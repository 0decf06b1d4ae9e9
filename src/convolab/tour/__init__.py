"""The convolab tour: a static HTML report that answers every seed question by experiment.

The three seed documents (see the project's seed notes) ask what convolution
in a neural network really computes: whether it is convolution or
correlation, a sum of element-wise products or a dot product, why the FFT
matters, how frequency filtering, diffusion and a stochastic reading explain
it, and whether a CNN cares about the flip.  :func:`run` answers each
question with an experiment that runs at that moment (on this machine, with
the installed versions), and writes one page, ``index.html``, with the
answers, their measured numbers and figures (``figures/*.png``) beside it,
plus the numbers as JSON (``tour.json``).

>>> import convolab.tour
>>> [e.__name__ for e in convolab.tour.EXPERIMENTS]
['flip', 'dot_product', 'why_fft', 'frequency', 'diffusion', 'stochastic', 'matching', 'learning']

The command line runs it as ``convolab tour --out DIR [--force] [--quick]``.
The pieces:

* :mod:`convolab.tour.experiments`: one function per seed question, each
  returning a :class:`~convolab.tour.experiments.Section` (numbers and
  figures to draw);
* :mod:`convolab.tour.report`: the HTML writer;
* :mod:`convolab.tour.data`: the built-in images (shipped with
  scikit-image, or generated);
* :mod:`convolab.plot`: the figures (matplotlib, imported when drawing).

Nothing here prints; progress is reported through a callback.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import time
import uuid
from typing import Any, Callable

from ..errors import ConvolabError
from .experiments import EXPERIMENTS, Section

__all__ = ["run", "run_experiments", "EXPERIMENTS", "Section", "MARKER"]

#: the file that marks a folder as a tour report (``force=True`` replaces only those)
MARKER = "tour.json"

Progress = Callable[[str, int, int], Any]


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConvolabError(f"{name}={value!r} is not allowed; allowed: True or False")
    return value


def _check_out_dir(out_dir: Any, force: bool) -> pathlib.Path:
    try:
        out = pathlib.Path(os.fspath(out_dir))
    except TypeError:
        raise ConvolabError(f"out_dir={out_dir!r} is not allowed; allowed: a path (str or "
                            "os.PathLike) to a folder that does not exist or is empty") from None
    if str(out) in ("", "."):
        out = pathlib.Path.cwd()
    out = out.absolute()
    if out.exists():
        if not out.is_dir():
            raise ConvolabError(f"out_dir={str(out)!r} is a file; allowed: a folder that does "
                                "not exist or is empty (force=True replaces a folder, never a "
                                "file)")
        entries = list(out.iterdir())
        if entries and not force:
            raise ConvolabError(f"out_dir={str(out)!r} is not empty ({len(entries)} entries); "
                                "allowed: a folder that does not exist or is empty, or "
                                "force=True to replace an earlier tour report")
        if entries and not (out / MARKER).is_file():
            # force replaces a report, not whatever folder happens to be named
            raise ConvolabError(f"out_dir={str(out)!r} is not empty and holds no {MARKER}, so it "
                                "is not an earlier tour report; force=True replaces only "
                                "those: choose an empty or new folder")
    return out


def run_experiments(*, quick: bool = False, progress: Progress | None = None
                    ) -> list[Section]:
    """Run every experiment, in the report's order, and return their sections.

    Parameters
    ----------
    quick : bool, optional, keyword-only
        Small sizes and few repeats (a few seconds in all).
    progress : callable, optional, keyword-only
        Called as ``progress(title, i, n)`` before experiment ``i`` (from 0)
        of ``n`` starts.

    Examples
    --------
    >>> from convolab.tour import run_experiments
    >>> seen = []
    >>> sections = run_experiments(quick=True, progress=lambda *a: seen.append(a[1:]))
    >>> len(sections), seen[0], seen[-1]
    (8, (0, 8), (7, 8))
    """
    quick = _check_flag("quick", quick)
    sections = []
    for i, experiment in enumerate(EXPERIMENTS):
        if progress is not None:
            progress(experiment.__name__, i, len(EXPERIMENTS))
        sections.append(experiment(quick=quick))
    return sections


def _draw_figures(sections: list[Section], folder: pathlib.Path
                  ) -> tuple[dict[str, tuple[str, int, int]], str]:
    """Draw and save every section's figures; returns ``{name: (src, w, h)}`` and a note."""
    try:
        from .. import plot
        import matplotlib  # noqa: F401
    except ImportError:
        return {}, ("matplotlib is not installed, so this report has no figures; install it "
                    "(the 'plot' extra) and run the tour again to see them.")
    from .report import png_size

    folder.mkdir()
    found = {}
    for s in sections:
        for spec in s.figures:
            path = plot.save(spec.draw(), folder / f"{spec.name}.png")
            w, h = png_size(path)
            found[spec.name] = (f"{folder.name}/{path.name}", w, h)
    return found, ""


def run(out_dir: str | os.PathLike, *, progress: Progress | None = None, quick: bool = False,
        force: bool = False) -> pathlib.Path:
    """Run the tour and write its report; return the path of ``index.html``.

    The report is built in a temporary folder beside ``out_dir`` and renamed
    into place at the end, so ``out_dir`` never holds half a report.

    Parameters
    ----------
    out_dir : str or path-like
        Folder for ``index.html``, ``figures/*.png`` and ``tour.json``.  It
        must not exist or be empty, unless ``force=True``.
    progress : callable, optional, keyword-only
        Called as ``progress(step, i, n)`` before step ``i`` (from 0) of
        ``n`` starts, and as ``progress('done', n, n)`` at the end: one step
        per experiment (its function name, e.g. ``'why_fft'``), then
        ``'figures'`` and ``'report'``.
    quick : bool, optional, keyword-only
        Small sizes, one repeat, a one-epoch CNN: a few seconds instead of
        about half a minute.  The answers hold in both modes.
    force : bool, optional, keyword-only
        Replace an existing non-empty ``out_dir`` that holds an earlier tour
        report (it has ``tour.json``).  A folder that does not look like a
        report is never replaced.

    Returns
    -------
    pathlib.Path
        The absolute path of ``index.html``.

    Raises
    ------
    ConvolabError
        ``out_dir`` is a file, or not empty without ``force=True``, or not a
        tour report with ``force=True``; ``quick``/``force`` not bools;
        ``progress`` not callable.

    Examples
    --------
    >>> import os, tempfile
    >>> import convolab.tour
    >>> out = os.path.join(tempfile.mkdtemp(), 'tour')
    >>> page = convolab.tour.run(out, quick=True)
    >>> page.name, (page.parent / 'figures').is_dir(), (page.parent / 'tour.json').is_file()
    ('index.html', True, True)
    >>> convolab.tour.run(out, quick=True)      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convolab.errors.ConvolabError: out_dir='...tour' is not empty (3 entries); ...
    """
    quick = _check_flag("quick", quick)
    force = _check_flag("force", force)
    if progress is not None and not callable(progress):
        raise ConvolabError(f"progress={progress!r} is not allowed; allowed: None or a callable "
                            "progress(step, i, n)")
    out = _check_out_dir(out_dir, force)
    from . import report

    start = time.perf_counter()
    steps = len(EXPERIMENTS) + 2

    def step(name: str, i: int, _n: int = 0) -> None:
        if progress is not None:
            progress(name, i, steps)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        sections = run_experiments(quick=quick, progress=step)
        step("figures", steps - 2)
        figures, note = _draw_figures(sections, tmp / "figures")
        step("report", steps - 1)
        total = time.perf_counter() - start
        machine = report.machine_info(quick=quick)
        page = report.render(sections, machine=machine, total_seconds=total, figures=figures,
                             figure_note=note)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        record = {"machine": machine, "total_seconds": total, "quick": quick,
                  "sections": [{"key": s.key, "title": s.title, "seed": s.seed,
                                "seconds": s.seconds, "note": s.note,
                                "figures": [f"figures/{f.name}.png" for f in s.figures
                                            if f.name in figures],
                                "numbers": s.numbers} for s in sections]}
        (tmp / MARKER).write_text(json.dumps(record, indent=1, ensure_ascii=False),
                                  encoding="utf-8")
        os.chmod(tmp, 0o755)            # mkdtemp makes it private; a report is for reading
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    step("done", steps)
    return out / "index.html"
