"""Figures for convolution results, drawn with matplotlib (imported lazily).

The tour (:mod:`convolab.tour`) draws every figure with these functions, and
they serve anyone who wants to look at a convolution: images side by side
with colorbars, an im2col matrix product with its numbers written in the
cells, timing curves on log axes, error curves and template-matching boxes.

Every function returns a :class:`matplotlib.figure.Figure` built directly
(not through ``pyplot``), so nothing depends on a display or on the global
backend, no window opens and no figure stays registered anywhere: the
figure is freed as soon as it is no longer referenced.  :func:`save` writes
it as a PNG (the Agg renderer) and clears it.  Importing this module does not
import matplotlib; the first figure does.

Sizes are in inches and default to about 6 x 4 in at 110 dpi (660 x 440
pixels), readable in a report column.
"""

from __future__ import annotations

import math
import os
import pathlib
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import ConvolabError

__all__ = ["DPI", "new_figure", "save", "images", "matrix_product", "timings", "curves",
           "match_result", "filter_rows"]

#: resolution of saved figures, dots per inch
DPI = 110


def new_figure(width: float = 6.0, height: float = 4.0, nrows: int = 1, ncols: int = 1,
               **subplot_kw: Any) -> tuple[Any, np.ndarray]:
    """A figure with a grid of axes, laid out by matplotlib's constrained layout.

    Parameters
    ----------
    width, height : float
        Size in inches (0.5 to 40).
    nrows, ncols : int
        The grid of axes.
    **subplot_kw
        Passed to ``Figure.subplots`` (``sharex=True``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : ndarray of Axes, shape ``(nrows, ncols)``

    Examples
    --------
    >>> from convolab.plot import new_figure
    >>> fig, axes = new_figure(4, 3, 1, 2)
    >>> axes.shape, [float(v) for v in fig.get_size_inches()]
    ((1, 2), [4.0, 3.0])
    """
    from matplotlib.figure import Figure

    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, (int, float)) or not 0.5 <= value <= 40:
            raise ConvolabError(f"{name}={value!r} is not allowed; allowed: inches from 0.5 to 40")
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def save(fig: Any, path: str | os.PathLike, *, dpi: int = DPI) -> pathlib.Path:
    """Write ``fig`` as a PNG file and clear it (its memory is released).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or path-like
        The file to write; its folder must exist.
    dpi : int, optional, keyword-only
        Dots per inch (default :data:`DPI`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> from convolab.plot import new_figure, save
    >>> fig, ax = new_figure(2, 1)
    >>> path = save(fig, os.path.join(tempfile.mkdtemp(), 'blank.png'), dpi=50)
    >>> path.read_bytes()[:8] == b'\\x89PNG\\r\\n\\x1a\\n'
    True
    """
    path = pathlib.Path(path)
    fig.savefig(path, dpi=dpi, format="png", facecolor="white", bbox_inches="tight",
                pad_inches=0.08)
    fig.clear()
    return path


def _colorbar(fig: Any, artist: Any, ax: Any, label: str = "") -> None:
    cb = fig.colorbar(artist, ax=ax, fraction=0.046, pad=0.03)
    if label:
        cb.set_label(label)


def images(panels: Sequence[np.ndarray], titles: Sequence[str], *, suptitle: str = "",
           cmaps: Sequence[str] | str = "gray", colorbar: bool = True,
           symmetric: Sequence[bool] = (),
           units: str = "", panel_size: float = 2.6, ncols: int | None = None,
           annotate: Sequence[bool] = (), fmt: str = "{:.3g}",
           vlim: tuple[float, float] | None = None,
           axis_labels: Sequence[tuple[str, str] | None] = (),
           extents: Sequence[tuple[float, float, float, float] | None] = ()) -> Any:
    """Images side by side, each with its title and (optionally) a colorbar.

    Parameters
    ----------
    panels : sequence of 2-D arrays
    titles : sequence of str
        One per panel.
    suptitle : str, optional
        Title of the whole figure.
    cmaps : str or sequence of str, optional
        A colormap for all panels or one per panel (default grey).
    colorbar : bool, optional
        Draw a colorbar beside every panel (default True).
    symmetric : sequence of bool, optional
        Per panel: centre the colour scale on 0 (for signed results such as
        edges and differences); the default is False for every panel.
    units : str, optional
        Label of the colorbars (e.g. ``'grey level'``).
    panel_size : float, optional
        Inches per panel (default 2.6).
    ncols : int, optional
        Panels per row (default: all in one row).
    annotate : sequence of bool, optional
        Per panel: write every value in its cell (for small kernels); the
        default is False for every panel.
    fmt : str, optional
        Format of the written values (default ``'{:.3g}'``).
    vlim : (float, float), optional
        One colour scale ``(vmin, vmax)`` for every panel that is not
        ``symmetric`` (to compare panels by eye).
    axis_labels : sequence of (str, str) or None, optional
        Per panel ``(xlabel, ylabel)``; default ``('x (pixels)', 'y (pixels)')``.
    extents : sequence of (left, right, bottom, top) or None, optional
        Per panel data coordinates of the image's edges (``imshow``'s
        ``extent``), e.g. frequencies for a spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.plot import images
    >>> fig = images([np.eye(4), -np.eye(4)], ['I', '-I'], symmetric=[False, True])
    >>> len(fig.axes)          # two images and two colorbars
    4
    """
    panels = [np.asarray(p, dtype=float) for p in panels]
    if len(titles) != len(panels):
        raise ConvolabError(f"titles has {len(titles)} entries for {len(panels)} panels; "
                            "allowed: one title per panel")
    n = len(panels)
    ncols = n if ncols is None else max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    extra = 0.45 if colorbar else 0.0
    fig, axes = new_figure(ncols * (panel_size + extra), nrows * panel_size + 0.6, nrows, ncols)
    cmap_list = [cmaps] * n if isinstance(cmaps, str) else list(cmaps)
    sym = list(symmetric) + [False] * (n - len(symmetric))
    ann = list(annotate) + [False] * (n - len(annotate))
    labels = list(axis_labels) + [None] * (n - len(axis_labels))
    ext = list(extents) + [None] * (n - len(extents))
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_axis_off()
            continue
        p = panels[i]
        kw: dict[str, Any] = {"cmap": cmap_list[i], "interpolation": "nearest"}
        if sym[i]:
            lim = float(np.nanmax(np.abs(p))) or 1.0
            kw.update(vmin=-lim, vmax=lim)
            if cmap_list[i] == "gray":
                kw["cmap"] = "RdBu_r"
        elif vlim is not None:
            kw.update(vmin=vlim[0], vmax=vlim[1])
        if ext[i] is not None:
            kw["extent"] = ext[i]
        art = ax.imshow(p, **kw)
        if ext[i] is None and max(p.shape) <= 12:      # a kernel: one tick per tap
            ax.set_xticks(range(p.shape[1]))
            ax.set_yticks(range(p.shape[0]))
        if ann[i]:
            for (r, c), v in np.ndenumerate(p):
                ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=7,
                        color=_text_colour(art, v))
        ax.set_title(titles[i], fontsize=10)
        xl, yl = labels[i] or ("x (pixels)", "y (pixels)")
        ax.set_xlabel(xl, fontsize=8)
        ax.set_ylabel(yl, fontsize=8)
        ax.tick_params(labelsize=7)
        if colorbar:
            _colorbar(fig, art, ax, units)
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def _text_colour(artist: Any, value: float) -> str:
    """White on dark cells, black on light ones (the cell colour's luma)."""
    r, g, b, _ = artist.cmap(artist.norm(value))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def _annotated(ax: Any, a: np.ndarray, title: str, cmap: str = "Blues", fmt: str = "{:g}") -> None:
    """A small matrix drawn as coloured cells with the value written in each."""
    a = np.atleast_2d(np.asarray(a))
    art = ax.imshow(a, cmap=cmap, interpolation="nearest", aspect="equal")
    size = 8 if max(a.shape) <= 12 else 6 if max(a.shape) <= 30 else 0
    if size:
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=size,
                    color=_text_colour(art, v))
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def matrix_product(left: np.ndarray, right: np.ndarray, result: np.ndarray, *,
                   titles: Sequence[str] = ("W", "X", "W @ X"), suptitle: str = "",
                   layout: str = "row") -> Any:
    """Draw ``left @ right = result`` as annotated matrices.

    The picture of im2col: every receptive field flattened into a column of
    ``right``, every filter flattened into a row of ``left``, and one matrix
    product gives every output at once.

    Parameters
    ----------
    left, right, result : 2-D arrays
        ``(a, k)``, ``(k, n)`` and ``(a, n)``.
    titles : three str, optional
        Titles of the three matrices.
    suptitle : str, optional
    layout : {'row', 'stacked'}, optional
        ``'row'`` (default): the three side by side, as the formula reads.
        ``'stacked'``: ``left`` on top of ``right`` transposed (one column per
        row of ``left`` and ``right.T`` lines up: each output is the dot
        product of a row of ``left`` with a row below it), ``result``
        transposed beside it; better when ``k`` is large.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.plot import matrix_product
    >>> w, x = np.ones((1, 3)), np.arange(6).reshape(3, 2)
    >>> fig = matrix_product(w, x, w @ x)
    >>> [ax.get_title() for ax in fig.axes]
    ['W', 'X', 'W @ X']
    >>> len(matrix_product(w, x, w @ x, layout='stacked').axes)
    3
    """
    from matplotlib.figure import Figure

    if layout not in ("row", "stacked"):
        raise ConvolabError(f"layout={layout!r} is not one of ['row', 'stacked']")
    mats = [np.atleast_2d(np.asarray(m)) for m in (left, right, result)]
    if layout == "row":
        widths = [max(m.shape[1], 1) for m in mats]
        height = max(m.shape[0] for m in mats)
        fig = Figure(figsize=(min(11.0, 2.0 + 0.32 * sum(widths)), min(8.0, 1.2 + 0.3 * height)),
                     layout="constrained")
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": widths})
        for ax, m, title in zip(axes, mats, titles):
            _annotated(ax, m, title)
    else:
        (a, k), n = mats[0].shape, mats[1].shape[1]
        fig = Figure(figsize=(min(11.0, 1.5 + 0.3 * (k + a)), min(8.0, 1.6 + 0.3 * (a + n))),
                     layout="constrained")
        grid = fig.add_gridspec(2, 2, width_ratios=[k, max(a, 4)], height_ratios=[a, n])
        _annotated(fig.add_subplot(grid[0, 0]), mats[0], titles[0])
        _annotated(fig.add_subplot(grid[1, 0]), mats[1].T, titles[1])
        _annotated(fig.add_subplot(grid[1, 1]), mats[2].T, titles[2])
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def timings(kernel_sizes: Sequence[int], seconds: Mapping[str, Sequence[float]],
            operations: Mapping[str, Sequence[float]], *, image_size: int,
            crossover: float | None = None, op_crossover: float | None = None) -> Any:
    """Measured times next to operation counts, both against the kernel size, log axes.

    Parameters
    ----------
    kernel_sizes : sequence of int
        The kernel side ``n`` of each measurement (an ``n x n`` kernel).
    seconds : mapping of str to sequence of float
        Median seconds per algorithm (plotted in milliseconds).
    operations : mapping of str to sequence of float
        Estimated multiply-adds per algorithm.
    image_size : int
        The image side ``N``, for the titles.
    crossover, op_crossover : float, optional
        Kernel sizes where the FFT becomes faster (measured, and by the
        counts); drawn as vertical lines.

    Examples
    --------
    >>> from convolab.plot import timings
    >>> fig = timings([3, 9], {'direct': [1e-3, 9e-3], 'fft': [3e-3, 3e-3]},
    ...               {'direct': [9, 81], 'fft': [30, 30]}, image_size=64, crossover=5.2)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['kernel size n (an n x n kernel)', 'kernel size n (an n x n kernel)']
    """
    fig, axes = new_figure(10.5, 4.2, 1, 2)
    ks = np.asarray(kernel_sizes, dtype=float)
    styles = {"direct": ("o-", "tab:blue"), "fft": ("s-", "tab:orange"),
              "auto": ("^--", "tab:green")}
    ax = axes[0, 0]
    def style(name: str) -> tuple[str, Any]:
        return styles.get(name.split(":")[0].strip(), ("d-", None))

    for name, values in seconds.items():
        marker, color = style(name)
        ax.plot(ks, np.asarray(values) * 1e3, marker, color=color, label=name)
    if crossover is not None:
        ax.axvline(crossover, color="grey", ls=":", lw=1.5,
                   label=f"measured crossover, n = {crossover:.3g}")
    ax.set_title(f"measured on this machine ({image_size}x{image_size} image, 'same')",
                 fontsize=10)
    ax.set_ylabel("median time (ms)")
    ax = axes[0, 1]
    for name, values in operations.items():
        marker, color = style(name)
        ax.plot(ks, values, marker, color=color, label=name)
    if op_crossover is not None:
        ax.axvline(op_crossover, color="grey", ls=":", lw=1.5,
                   label=f"counts cross at n = {op_crossover:.3g}")
    ax.set_title("operation counts: O(n²N²) against O(N² log N)", fontsize=10)
    ax.set_ylabel("multiply-adds (estimated)")
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    for ax in axes.ravel():
        ax.set_xscale("log")
        ax.set_yscale("log")
        # the measured sizes as plain numbers: log-scale labels like 3x10^0 crowd
        ax.xaxis.set_major_locator(FixedLocator(ks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("kernel size n (an n x n kernel)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def curves(x: Sequence[float], ys: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str,
           title: str = "", logx: bool = False, logy: bool = False,
           styles: Mapping[str, str] | None = None, width: float = 6.0,
           height: float = 4.0) -> Any:
    """Several curves over the same x values, with labelled axes and a legend.

    Parameters
    ----------
    x : sequence of float
    ys : mapping of str to sequence of float
        Label -> values (each as long as ``x``; a value may also be a pair
        ``(x_values, y_values)`` for a curve on its own x values).
    xlabel, ylabel : str
        Axis labels, with units.
    title : str, optional
    logx, logy : bool, optional
        Logarithmic axes.
    styles : mapping of str to str, optional
        Matplotlib format strings per label (``'k--'``); default ``'o-'``.
    width, height : float, optional
        Inches.

    Examples
    --------
    >>> from convolab.plot import curves
    >>> fig = curves([1, 10, 100], {'error': [1, 0.3, 0.1]}, xlabel='n', ylabel='RMS',
    ...              logx=True, logy=True)
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_ylabel()
    ('log', 'RMS')
    """
    fig, axes = new_figure(width, height)
    ax = axes[0, 0]
    styles = dict(styles or {})
    for label, values in ys.items():
        if isinstance(values, tuple) and len(values) == 2:
            xv, yv = values
        else:
            xv, yv = x, values
        ax.plot(np.asarray(xv, dtype=float), np.asarray(yv, dtype=float),
                styles.get(label, "o-"), label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def match_result(scene: np.ndarray, score: np.ndarray, template: np.ndarray,
                 found: Sequence[int], planted: Sequence[int] | None = None, *,
                 score_label: str = "score") -> Any:
    """Template matching at a glance: the template, the score map and the scene with boxes.

    ``found`` and ``planted`` are top-left corners ``(row, column)`` of the
    template in the scene (the score map's index of the best match).

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.plot import match_result
    >>> fig = match_result(np.zeros((8, 8)), np.zeros((6, 6)), np.ones((3, 3)), (2, 1), (2, 1))
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['template', 'score map', 'scene: found (box) and planted (+)']
    """
    from matplotlib.patches import Rectangle

    fig, axes = new_figure(10.5, 3.9, 1, 3, gridspec_kw={"width_ratios": [0.55, 1, 1]})
    m, n = np.asarray(template).shape
    ax = axes[0, 0]
    ax.imshow(template, cmap="gray", interpolation="nearest")
    ax.set_title("template")
    ax = axes[0, 1]
    art = ax.imshow(score, cmap="magma", interpolation="nearest")
    ax.plot(found[1], found[0], "c+", ms=14, mew=2)
    ax.set_title("score map")
    _colorbar(fig, art, ax, score_label)
    ax = axes[0, 2]
    ax.imshow(scene, cmap="gray", interpolation="nearest")
    ax.add_patch(Rectangle((found[1] - 0.5, found[0] - 0.5), n, m, fill=False, ec="cyan", lw=2,
                           label="found"))
    if planted is not None:
        ax.plot(planted[1] + (n - 1) / 2, planted[0] + (m - 1) / 2, "r+", ms=12, mew=2,
                label="planted (centre)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("scene: found (box) and planted (+)")
    for ax in axes.ravel():
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def filter_rows(rows: Mapping[str, np.ndarray], *, suptitle: str = "", cell: float = 0.9) -> Any:
    """Banks of 2-D filters, one bank per row, on one symmetric colour scale per row.

    Parameters
    ----------
    rows : mapping of str to ndarray
        Row label -> filters of shape ``(count, kh, kw)``.
    suptitle : str, optional
    cell : float, optional
        Inches per filter.

    Examples
    --------
    >>> import numpy as np
    >>> from convolab.plot import filter_rows
    >>> fig = filter_rows({'a': np.ones((3, 2, 2)), 'b': -np.ones((3, 2, 2))})
    >>> len(fig.axes)         # 2 rows x 3 filters, plus a colorbar per row
    8
    """
    banks = {k: np.asarray(v, dtype=float) for k, v in rows.items()}
    count = max(b.shape[0] for b in banks.values())
    fig, axes = new_figure(max(3.0, cell * count + 2.6), cell * len(banks) + 0.9, len(banks), count)
    for r, (label, bank) in enumerate(banks.items()):
        lim = float(np.abs(bank).max()) or 1.0
        art = None
        for c in range(count):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < bank.shape[0]:
                art = ax.imshow(bank[c], cmap="RdBu_r", vmin=-lim, vmax=lim,
                                interpolation="nearest")
            if c == 0:
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
        if art is not None:
            _colorbar(fig, art, list(axes[r]), "weight")
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig
