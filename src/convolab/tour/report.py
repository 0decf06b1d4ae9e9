"""The tour's HTML writer: one static page, no network, readable without scripts.

:func:`render` turns the :class:`~convolab.tour.experiments.Section` list
into one HTML5 document: a header with the machine the numbers were measured
on, a table of contents, then one ``<section>`` per seed question with the
seed's words, the answer, a table of measured numbers and the figures.  The
CSS is inline; the figures are PNG files beside the page
(``figures/*.png``), referenced by relative paths; there is no script, no
external font and no remote URL, so the page reads the same offline.

Every measured value sits in a cell ``<td class="value" data-key="...">``
whose key is the :class:`~convolab.tour.experiments.Row` key, so that a
program (or a test) can read the numbers back from the page.
"""

from __future__ import annotations

import datetime
import html
import os
import platform
import struct
from typing import Any, Mapping, Sequence

from .experiments import SEEDS, Section, format_value

__all__ = ["CSS", "machine_info", "png_size", "render"]

#: the page's style sheet (inline in the page)
CSS = """
:root { --ink: #1d232a; --muted: #5b6570; --rule: #d8dde3; --accent: #0b5cad; --bg: #ffffff;
        --panel: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: var(--bg);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
header, main, footer, nav { max-width: 1100px; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.5rem; }
h1 { font-size: 1.9rem; margin: 0 0 .3rem; }
h2 { font-size: 1.4rem; margin: 0 0 .4rem; border-bottom: 2px solid var(--rule);
     padding-bottom: .25rem; }
.lead { color: var(--muted); margin-top: 0; }
nav ol { columns: 2; padding-left: 1.4rem; }
nav a, footer a { color: var(--accent); }
section { margin: 2.2rem 0; }
.seed { color: var(--muted); font-size: .92rem; margin: .2rem 0; }
blockquote { margin: .5rem 0; padding: .5rem .9rem; background: var(--panel);
             border-left: 4px solid var(--accent); }
blockquote p { margin: 0; }
.answer { font-size: 1.02rem; }
.note { padding: .5rem .9rem; background: #fff4e0; border-left: 4px solid #d08a00; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; width: 100%; }
caption { text-align: left; color: var(--muted); padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .5rem; text-align: left;
         vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.value { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
           white-space: nowrap; }
td.value.long { white-space: normal; word-break: break-word; }
table.machine { width: auto; }
table.machine th { background: none; font-weight: 600; padding-right: 1.2rem; }
figure { margin: 1rem 0 1.6rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: .88rem; margin-top: .35rem; }
footer { color: var(--muted); font-size: .85rem; padding-bottom: 2rem; border-top: 1px solid
         var(--rule); padding-top: .8rem; }
:lang(zh) { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
            "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .92em; }
"""


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """Width and height of a PNG file, read from its header.

    Raises
    ------
    ValueError
        If the file is not a PNG.

    Examples
    --------
    >>> import os, tempfile, zlib, struct
    >>> from convolab.tour.report import png_size
    >>> def chunk(kind, data):
    ...     return (struct.pack('>I', len(data)) + kind + data
    ...             + struct.pack('>I', zlib.crc32(kind + data)))
    >>> header = struct.pack('>IIBBBBB', 3, 2, 8, 0, 0, 0, 0)     # 3 x 2 pixels, grey
    >>> png = (b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', header)
    ...        + chunk(b'IDAT', zlib.compress(b'\\x00\\x00\\x00\\x00' * 2)) + chunk(b'IEND', b''))
    >>> path = os.path.join(tempfile.mkdtemp(), 'tiny.png')
    >>> with open(path, 'wb') as f:
    ...     _ = f.write(png)
    >>> png_size(path)
    (3, 2)
    """
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{os.fspath(path)!r} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def _version(module: str) -> str:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:
        return "not installed"


def machine_info(*, quick: bool = False) -> dict[str, str]:
    """Where and when the numbers were measured: date, machine, CPU count, versions.

    Examples
    --------
    >>> from convolab.tour.report import machine_info
    >>> info = machine_info()
    >>> sorted(info)[:4]
    ['CPU cores', 'Python', 'convolab', 'date']
    >>> int(info['CPU cores']) >= 1
    True
    """
    import numpy
    import scipy

    import convolab

    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip(),
        "machine": f"{platform.system()} {platform.release()}, {platform.machine()}",
        "processor": platform.processor() or platform.machine(),
        "CPU cores": str(os.cpu_count() or 1),
        "Python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "convolab": convolab.__version__,
        "matplotlib": _version("matplotlib"),
        "mode": "quick (small sizes, few repeats)" if quick else "full",
    }
    if hasattr(os, "getloadavg"):
        try:
            load = os.getloadavg()
            info["load average"] = ", ".join(f"{v:.2f}" for v in load) + " (1, 5, 15 min)"
        except OSError:
            pass
    return info


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _value_cell(key: str, value: Any) -> str:
    text = format_value(value)
    cls = "value long" if len(text) > 40 else "value"
    return f'<td class="{cls}" data-key="{_e(key)}">{_e(text)}</td>'


def _section(i: int, s: Section, figures: Mapping[str, tuple[str, int, int]]) -> list[str]:
    out = [f'<section id="{_e(s.key)}">',
           f"<h2>{i}. {_e(s.title)}</h2>",
           f'<p class="seed">From {_e(" and ".join(SEEDS[k] for k in s.seed.split("/")))}</p>',
           f'<blockquote lang="{_e(s.quote_lang)}"><p>{_e(s.quote)}</p></blockquote>',
           f'<p class="question"><strong>The question.</strong> {_e(s.question)}</p>',
           f'<p class="answer"><strong>The answer, measured.</strong> {_e(s.answer)}</p>']
    if s.note:
        out.append(f'<p class="note">{_e(s.note)}</p>')
    if s.rows:
        out += ['<table class="numbers">',
                f"<caption>Measured just now ({s.seconds:.2f} s for this section)</caption>",
                "<thead><tr><th>quantity</th><th>measured</th><th>compare with</th></tr></thead>",
                "<tbody>"]
        for r in s.rows:
            out.append(f"<tr><td>{_e(r.label)}</td>{_value_cell(r.key, r.value)}"
                       f"<td>{_e(r.comment)}</td></tr>")
        out += ["</tbody>", "</table>"]
    for spec in s.figures:
        if spec.name not in figures:
            continue
        src, w, h = figures[spec.name]
        out += ["<figure>",
                f'<img src="{_e(src)}" width="{w}" height="{h}" alt="{_e(spec.caption)}">',
                f"<figcaption>{_e(spec.caption)}</figcaption>",
                "</figure>"]
    out.append("</section>")
    return out


def render(sections: Sequence[Section], *, machine: Mapping[str, str], total_seconds: float,
           figures: Mapping[str, tuple[str, int, int]] | None = None,
           figure_note: str = "") -> str:
    """The whole report as an HTML5 document.

    Parameters
    ----------
    sections : sequence of Section
        The answered questions, in order.
    machine : mapping of str to str
        The header's table (see :func:`machine_info`).
    total_seconds : float
        Run time of the whole tour, shown in the header.
    figures : mapping, optional
        Figure name -> ``(relative path, width, height)`` of its PNG; a
        section's figures missing here are left out.
    figure_note : str, optional
        Shown in the header when figures could not be drawn.

    Returns
    -------
    str

    Examples
    --------
    >>> from convolab.tour.experiments import Section
    >>> from convolab.tour.report import render
    >>> s = Section('demo', 'A title', '001', 'cita', 'es', 'A question?', answer='Yes.')
    >>> _ = s.add('x', 'a number', 0.5, 'compare')
    >>> page = render([s], machine={'date': 'today'}, total_seconds=1.0)
    >>> page.startswith('<!DOCTYPE html>'), 'data-key="demo.x">0.5</td>' in page
    (True, True)
    """
    figures = dict(figures or {})
    out = ["<!DOCTYPE html>",
           '<html lang="en">',
           "<head>",
           '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>convolab tour: the seed questions, answered by experiment</title>",
           f"<style>{CSS}</style>",
           "</head>",
           "<body>",
           "<header>",
           "<h1>convolab tour</h1>",
           '<p class="lead">The questions of the three seed documents, each answered by an '
           "experiment that ran when this page was written: the numbers below were measured on "
           "the machine described here, and the figures drawn from them.</p>",
           '<table class="machine">',
           "<caption>Where and when</caption>",
           "<tbody>"]
    for k, v in machine.items():
        out.append(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>")
    out.append(f'<tr><th>total run time</th><td data-key="tour.total_seconds">'
               f"{total_seconds:.1f} s</td></tr>")
    out += ["</tbody>", "</table>"]
    if figure_note:
        out.append(f'<p class="note">{_e(figure_note)}</p>')
    out += ["</header>", "<nav>", "<h2>Questions</h2>", "<ol>"]
    for s in sections:
        out.append(f'<li><a href="#{_e(s.key)}">{_e(s.title)}</a> (seed {_e(s.seed)})</li>')
    out += ["</ol>", "</nav>", "<main>"]
    for i, s in enumerate(sections, 1):
        out += _section(i, s, figures)
    out += ["</main>",
            "<footer>",
            "<p>Written by <code>convolab tour</code> (<code>python -m convolab tour --out DIR"
            "</code>); run it again to measure again.</p>",
            "</footer>",
            "</body>",
            "</html>", ""]
    return "\n".join(out)
