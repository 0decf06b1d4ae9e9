"""Images in and out, safely: header checks, atomic writes, documented casts.

The command line (:mod:`convolab.cli`) reads an image, convolves it and
writes another.  Three things can go wrong on the way, and this module is
where each is prevented:

* **A huge or hostile input.**  A small compressed file can declare a
  gigantic image (a *decompression bomb*: a 50 KB PNG of 2**32 pixels).
  :func:`read_image` reads the shape the file's header declares
  (:func:`image_info`: numpy's ``.npy`` header, TIFF tags through
  tifffile, Pillow's lazy ``Image.open`` for PNG, JPEG and the other Pillow
  formats) and refuses more than ``max_pixels`` pixels *before* decoding.
  The limit defaults to :data:`DEFAULT_MAX_PIXELS` (2**28), or the
  environment variable ``CONVOLAB_MAX_PIXELS``.
* **A destroyed file.**  :func:`check_output` refuses to write over an input
  (resolved paths are compared, so ``./a.png`` and a symbolic link to it are
  the same file) and refuses an existing output unless ``force=True``.
  :func:`write_image` writes to a temporary file in the output's folder and
  renames it over the target with :func:`os.replace`, which is atomic: an
  interrupted run leaves either the old file or the complete new one, never a
  half-written one, and the temporary file is removed on error.
* **A silently wrong cast.**  Filtering a ``uint8`` image gives real numbers,
  possibly negative (Sobel) or above 255 (sharpening).  :func:`cast_output`
  applies one documented rule and says what it did (:class:`Cast`):

  ============  ==============================================================
  ``dtype``     the output's dtype
  ============  ==============================================================
  ``'auto'``    integer input whose result fits its range (after rounding):
                the input's dtype.  Otherwise ``float32`` (or the result's
                float dtype) where the format holds floats (``.npy``,
                ``.tif``), else the input's integer dtype with ``scale``
                applied, and a note.  Float input: the result's dtype; a
                format without floats (PNG, JPEG) needs an explicit dtype.
                Derived images (a spectrum, a score map: ``input_dtype=None``)
                are ``float32``, or ``uint8`` rescaled where floats do not fit.
  ``'same'``    the input's dtype.
  a name        ``'uint8'``, ``'uint16'``, ``'float32'``, ``'float64'``...
  ============  ==============================================================

  Into an integer dtype, ``scale='clip'`` (default) rounds to the nearest
  integer and saturates at the dtype's limits (OpenCV's ``saturate_cast``);
  ``scale='rescale'`` maps the result's ``[min, max]`` linearly onto the
  dtype's ``[0, max]`` (``[min, max]`` for signed types), for viewing.  Into a
  float dtype ``'rescale'`` maps onto ``[0, 1]``.  NaN becomes 0 in an
  integer output.

Formats: PNG (uint8, uint16), JPEG and BMP (uint8), TIFF (any real dtype,
``float32`` included) through imageio, and ``.npy`` (any dtype, exact).
Colour images are arrays of shape ``(H, W, C)``.  imageio (and its plugins
Pillow and tifffile) is imported only when a file is read or written.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from convolab import io
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, 'ramp.png')
>>> io.write_image(path, np.arange(12, dtype=np.uint8).reshape(3, 4))
>>> io.image_info(path)
ImageInfo(shape=(3, 4), dtype=dtype('uint8'), format='PNG')
>>> io.read_image(path).sum().item()
66
>>> io.write_image(path, np.zeros((3, 4), np.uint8))
Traceback (most recent call last):
...
convolab.errors.ConvolabError: output=... already exists; allowed: a new file, or force=True (--force) to replace it
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence

import numpy as np

from .errors import ConvolabError, format_bytes

__all__ = ["DEFAULT_MAX_PIXELS", "WRITE_FORMATS", "ImageInfo", "Cast", "max_pixels_limit",
           "image_info", "read_image", "check_output", "atomic_file", "atomic_directory",
           "write_image", "cast_output", "load_kernel"]

#: The default limit on decoded image size, in pixels (samples per channel).
DEFAULT_MAX_PIXELS = 2 ** 28

#: Output extensions and the dtypes each can hold (``None``: any real dtype;
#: ``.npy`` holds complex too).
WRITE_FORMATS: dict[str, tuple[str, ...] | None] = {
    ".png": ("uint8", "uint16"),
    ".jpg": ("uint8",), ".jpeg": ("uint8",),
    ".bmp": ("uint8",),
    ".tif": None, ".tiff": None,
    ".npy": None,
}

_TIFF = (".tif", ".tiff")

# Pillow modes -> (dtype, channels) as imageio decodes them ('P' becomes RGB(A))
_PIL_MODES = {"1": ("bool", 1), "L": ("uint8", 1), "P": ("uint8", 3), "RGB": ("uint8", 3),
              "RGBA": ("uint8", 4), "LA": ("uint8", 2), "PA": ("uint8", 4), "CMYK": ("uint8", 4),
              "YCbCr": ("uint8", 3), "I": ("int32", 1), "F": ("float32", 1),
              "I;16": ("uint16", 1), "I;16B": ("uint16", 1), "I;16L": ("uint16", 1)}


class ImageInfo(NamedTuple):
    """What a file's header declares: ``shape`` (channels last), ``dtype`` and
    the ``format`` name ('NPY', 'TIFF', or Pillow's name such as 'PNG')."""

    shape: tuple
    dtype: np.dtype
    format: str


class Cast(NamedTuple):
    """The result of :func:`cast_output`: the ``array`` to write and a
    ``note`` saying what was chosen (``None`` when nothing needs saying)."""

    array: np.ndarray
    note: str | None


# ---------------------------------------------------------------------------
# the size limit


def max_pixels_limit(value: Any = None) -> int:
    """The decoded-size limit in pixels: ``value``, else ``CONVOLAB_MAX_PIXELS``,
    else :data:`DEFAULT_MAX_PIXELS`.

    Examples
    --------
    >>> max_pixels_limit(1000)
    1000
    >>> max_pixels_limit() == DEFAULT_MAX_PIXELS or 'CONVOLAB_MAX_PIXELS' in os.environ
    True
    """
    name = "max_pixels"
    if value is None:
        text = os.environ.get("CONVOLAB_MAX_PIXELS")
        if text is None or not text.strip():
            return DEFAULT_MAX_PIXELS
        name, value = "CONVOLAB_MAX_PIXELS", text.strip()
        try:
            value = int(value)
        except ValueError:
            pass
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ConvolabError(f"{name}={value!r} is not allowed; allowed: an integer >= 1 "
                            f"(default {DEFAULT_MAX_PIXELS} = 2**28)")
    return int(value)


def _pixels(shape: Sequence[int]) -> int:
    """Samples per channel: a trailing axis of at most 4 in a 3-D shape is channels."""
    shape = tuple(shape)
    if len(shape) == 3 and shape[-1] <= 4:
        shape = shape[:-1]
    return math.prod(shape)


# ---------------------------------------------------------------------------
# reading


def _existing_file(path: Any, what: str = "input") -> Path:
    p = Path(os.fspath(path))
    if not p.exists():
        raise ConvolabError(f"{what}={str(p)!r} does not exist; allowed: an existing file")
    if p.is_dir():
        raise ConvolabError(f"{what}={str(p)!r} is a folder; allowed: an image file "
                            "(.png, .jpg, .tif, .npy, ...)")
    return p


def _npy_header(p: Path) -> tuple[tuple, np.dtype]:
    with open(p, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as err:
            raise ConvolabError(f"cannot read {str(p)!r} as a .npy file: "
                                f"{' '.join(str(err).split())}") from None
    if dtype.hasobject:
        raise ConvolabError(f"{str(p)!r} holds Python objects (dtype {dtype}); allowed: "
                            "numeric arrays (objects would need pickle, which is unsafe)")
    return tuple(shape), dtype


def image_info(path: Any) -> ImageInfo:
    """The shape and dtype a file declares, read from its header without decoding.

    Parameters
    ----------
    path : str or path
        A ``.npy`` file, a TIFF (``.tif``/``.tiff``), or any image Pillow can
        open (PNG, JPEG, BMP, GIF, WebP, ...; the content decides, not the
        extension).

    Returns
    -------
    ImageInfo
        ``shape`` with channels last (a grey image is 2-D), ``dtype`` as
        :func:`read_image` will return it, and ``format``.  For a
        multi-image file, the first image.

    Raises
    ------
    ConvolabError
        A missing file, or one that is not an image.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.npy')
    >>> np.save(path, np.zeros((2, 3, 4), np.float32))
    >>> image_info(path)
    ImageInfo(shape=(2, 3, 4), dtype=dtype('float32'), format='NPY')
    """
    p = _existing_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        shape, dtype = _npy_header(p)
        return ImageInfo(shape, dtype, "NPY")
    if suffix in _TIFF:
        try:
            import tifffile
        except ImportError:        # Pillow reads TIFF too
            tifffile = None
        if tifffile is not None:
            try:
                with tifffile.TiffFile(p) as tif:
                    series = tif.series[0]
                    return ImageInfo(tuple(series.shape), np.dtype(series.dtype), "TIFF")
            except Exception as err:
                raise ConvolabError(f"cannot read {str(p)!r} as a TIFF image: "
                                    f"{' '.join(str(err).split())}") from None
    try:
        from PIL import Image
    except ImportError:
        raise ConvolabError("reading images needs Pillow and imageio "
                            "(pip install 'convolab[image]')") from None
    try:
        # lazy: reads the header only; Pillow's own bomb check is off here
        # because the size is checked against our limit right after
        with _pillow_limit(None), Image.open(p) as im:
            width, height = im.size
            mode, fmt = im.mode, im.format or "image"
    except Exception as err:
        raise ConvolabError(f"cannot read {str(p)!r} as an image: "
                            f"{' '.join(str(err).split())}") from None
    dtype, channels = _PIL_MODES.get(mode, ("uint8", 3))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return ImageInfo(shape, np.dtype(dtype), fmt)


@contextlib.contextmanager
def _pillow_limit(pixels: int | None) -> Iterator[None]:
    """Let Pillow decode up to our own (already checked) limit: its built-in
    bomb check would otherwise refuse images above about 179 million pixels.
    ``None`` turns Pillow's check off (for reading a header)."""
    try:
        from PIL import Image
    except ImportError:
        yield
        return
    import warnings
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None if pixels is None or saved is None else max(pixels, saved)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_image(path: Any, *, max_pixels: Any = None) -> np.ndarray:
    """Read an image (or a ``.npy`` array) after checking its declared size.

    Parameters
    ----------
    path : str or path
        PNG, JPEG, TIFF (float32 included), BMP, GIF (first frame), ... or
        ``.npy``.
    max_pixels : int, optional, keyword-only
        Refuse an image declaring more pixels (samples per channel) than
        this, before decoding it.  Default: :func:`max_pixels_limit`.

    Returns
    -------
    ndarray
        ``(H, W)`` for grey, ``(H, W, C)`` for colour; the file's dtype
        (1-bit images become ``uint8`` 0/1).  A ``.npy`` file is returned
        as stored.

    Raises
    ------
    ConvolabError
        A missing file, a file that is not an image, an empty image, or one
        above the size limit.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.npy')
    >>> np.save(path, np.ones((100, 100)))
    >>> read_image(path).shape
    (100, 100)
    >>> read_image(path, max_pixels=1000)
    Traceback (most recent call last):
    ...
    convolab.errors.ConvolabError: input=... declares shape (100, 100), 10000 pixels; allowed: at most max_pixels=1000 (raise it with --max-pixels or CONVOLAB_MAX_PIXELS)
    """
    limit = max_pixels_limit(max_pixels)
    info = image_info(path)
    p = Path(os.fspath(path))
    pixels = _pixels(info.shape)
    if pixels > limit:
        raise ConvolabError(f"input={str(p)!r} declares shape {info.shape}, {pixels} pixels; "
                            f"allowed: at most max_pixels={limit} (raise it with --max-pixels "
                            "or CONVOLAB_MAX_PIXELS)")
    if math.prod(info.shape) == 0:
        raise ConvolabError(f"input={str(p)!r} is empty (shape {info.shape}); allowed: an "
                            "image with at least one pixel")
    if info.format == "NPY":
        try:
            array = np.load(p, allow_pickle=False)
        except Exception as err:
            raise ConvolabError(f"cannot read {str(p)!r} as a .npy file: "
                                f"{' '.join(str(err).split())}") from None
    else:
        try:
            import imageio.v3 as iio
        except ImportError:
            raise ConvolabError("reading images needs imageio "
                                "(pip install 'convolab[image]')") from None
        plugin = "tifffile" if info.format == "TIFF" else "pillow"
        try:
            with _pillow_limit(limit):
                array = np.asarray(iio.imread(p, index=0, plugin=plugin))
        except Exception as err:
            raise ConvolabError(f"cannot decode {str(p)!r} ({info.format}): "
                                f"{' '.join(str(err).split())}") from None
        # the decoded size is checked too (a header can lie)
        if _pixels(array.shape) > limit:
            raise ConvolabError(f"input={str(p)!r} decoded to shape {array.shape}; allowed: "
                                f"at most max_pixels={limit}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if array.dtype.kind not in "uifc":
        raise ConvolabError(f"input={str(p)!r} has dtype {array.dtype}; allowed: numeric "
                            "arrays")
    return array


# ---------------------------------------------------------------------------
# safe writing


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def check_output(path: Any, *, inputs: Sequence[Any] = (), force: bool = False,
                 formats: Sequence[str] | None = tuple(WRITE_FORMATS)) -> Path:
    """Check that ``path`` may be written, before any work is done.

    Refused: an output that is one of ``inputs`` (after resolving ``..`` and
    symbolic links, and hard links to the same file), an existing output
    unless ``force``, an output whose folder does not exist, and (unless
    ``formats`` is None) an extension not in ``formats``.

    Parameters
    ----------
    path : str or path
        The output.
    inputs : sequence of str or path, optional, keyword-only
        Files the command reads; ``None`` entries are skipped.
    force : bool, optional, keyword-only
        Allow replacing an existing file (never an input, never a folder).
    formats : sequence of str or None, optional, keyword-only
        Allowed extensions (default: :data:`WRITE_FORMATS`).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> a = os.path.join(folder, 'a.png')
    >>> open(a, 'wb').close()
    >>> check_output(os.path.join(folder, 'b.png'), inputs=[a]).name
    'b.png'
    >>> check_output(os.path.join(folder, '.', 'a.png'), inputs=[a], force=True)
    Traceback (most recent call last):
    ...
    convolab.errors.ConvolabError: output=... is the input ...; allowed: a file that is not an input (convolab never overwrites its inputs)
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise ConvolabError("output='' is not allowed; allowed: a file name")
    p = Path(text)
    if formats is not None and _suffix(p) not in formats:
        raise ConvolabError(f"output={text!r} has extension {p.suffix!r}; allowed: "
                            f"{', '.join(formats)}")
    target = p.resolve()
    for inp in inputs:
        if inp is None:
            continue
        q = Path(os.fspath(inp))
        same = q.resolve() == target
        if not same and q.exists() and p.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(q, p)
        if same:
            raise ConvolabError(f"output={text!r} is the input {os.fspath(inp)!r}; allowed: a "
                                "file that is not an input (convolab never overwrites its "
                                "inputs)")
    folder = target.parent
    if not folder.is_dir():
        raise ConvolabError(f"output={text!r}: the folder {str(p.parent)!r} does not exist; "
                            "allowed: a file in an existing folder")
    if p.is_dir():
        raise ConvolabError(f"output={text!r} is a folder; allowed: a file name")
    if (p.exists() or p.is_symlink()) and not force:
        raise ConvolabError(f"output={text!r} already exists; allowed: a new file, or "
                            "force=True (--force) to replace it")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: Any) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``.

    The temporary file lives in the same folder (so :func:`os.replace` is an
    atomic rename on the same file system), is hidden (``.name.XXXX.tmp.ext``,
    keeping the extension so writers pick the right format), and is removed
    if the block raises, including on ``KeyboardInterrupt``.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_file(os.path.join(folder, 'out.txt')) as tmp:
    ...     _ = tmp.write_text('done')
    >>> os.listdir(folder)
    ['out.txt']
    """
    p = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".tmp{p.suffix}",
                               dir=p.parent if str(p.parent) else ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())      # mkstemp makes 0600; a new file gets the umask
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _is_zarr_store(p: Path) -> bool:
    return any((p / name).exists() for name in (".zarray", ".zgroup", "zarr.json"))


@contextlib.contextmanager
def atomic_directory(path: Any, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path`` (a zarr store); on success
    move it to ``path``, replacing an existing zarr store when ``force``.

    Only a folder that is a zarr store is ever replaced (a folder holding
    ``.zarray``, ``.zgroup`` or ``zarr.json``), never any other folder.  On
    error the temporary folder is removed.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_directory(os.path.join(folder, 'out.zarr')) as tmp:
    ...     _ = (tmp / 'zarr.json').write_text('{}')
    >>> os.listdir(folder)
    ['out.zarr']
    """
    import shutil

    p = Path(os.fspath(path))
    if p.exists() or p.is_symlink():
        if not force:
            raise ConvolabError(f"output={str(p)!r} already exists; allowed: a new name, or "
                                "force=True (--force) to replace it")
        if not (p.is_dir() and not p.is_symlink() and _is_zarr_store(p)):
            raise ConvolabError(f"output={str(p)!r} exists and is not a zarr store; allowed: "
                                "a new name (only a zarr store is ever replaced)")
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    aside = None
    try:
        yield tmp
        if p.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".old", dir=p.parent))
            os.replace(p, aside / "store")
        os.replace(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None and (aside / "store").exists() and not p.exists():
            os.replace(aside / "store", p)        # put the old store back
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def _check_format(p: Path, array: np.ndarray) -> np.ndarray:
    suffix = _suffix(p)
    if suffix not in WRITE_FORMATS:
        raise ConvolabError(f"output={str(p)!r} has extension {p.suffix!r}; allowed: "
                            f"{', '.join(WRITE_FORMATS)}")
    allowed = WRITE_FORMATS[suffix]
    if suffix == ".npy":
        if array.dtype.kind not in "biufc":
            raise ConvolabError(f"array has dtype {array.dtype}; allowed in .npy: numeric")
        return array
    if array.dtype.kind not in "biuf":
        raise ConvolabError(f"array has dtype {array.dtype}; allowed in {suffix}: real "
                            "numbers (use .npy for complex values)")
    if allowed is not None and array.dtype.name not in allowed:
        raise ConvolabError(f"array has dtype {array.dtype}; allowed in {suffix}: "
                            f"{', '.join(allowed)} (.tif and .npy hold any real dtype)")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if allowed is not None:
        channels = (1, 3) if suffix in (".jpg", ".jpeg", ".bmp") else (1, 2, 3, 4)
        c = 1 if array.ndim == 2 else array.shape[-1] if array.ndim == 3 else 0
        if c not in channels:
            raise ConvolabError(f"array has shape {array.shape}; allowed in {suffix}: (H, W) "
                                f"or (H, W, C) with C in {channels} (use .tif or .npy)")
    return array


def write_image(path: Any, array: Any, *, force: bool = False,
                inputs: Sequence[Any] = ()) -> None:
    """Write an image (or ``.npy``) atomically, never over an input.

    Parameters
    ----------
    path : str or path
        ``.png`` (uint8, uint16), ``.jpg``/``.jpeg``/``.bmp`` (uint8),
        ``.tif``/``.tiff`` (any real dtype), ``.npy`` (any numeric dtype).
    array : array_like
        ``(H, W)`` or ``(H, W, C)``, already in a dtype the format holds
        (:func:`cast_output` makes it so).
    force : bool, optional, keyword-only
        Replace an existing file.
    inputs : sequence, optional, keyword-only
        Files that must not be overwritten (see :func:`check_output`).

    Raises
    ------
    ConvolabError
        See :func:`check_output`; also a dtype or shape the format cannot hold.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> write_image(os.path.join(folder, 'x.tif'), np.full((2, 2), 0.5, np.float32))
    >>> read_image(os.path.join(folder, 'x.tif')).dtype
    dtype('float32')
    >>> write_image(os.path.join(folder, 'x.png'), np.full((2, 2), 0.5))
    Traceback (most recent call last):
    ...
    convolab.errors.ConvolabError: array has dtype float64; allowed in .png: uint8, uint16 (.tif and .npy hold any real dtype)
    >>> sorted(os.listdir(folder))
    ['x.tif']
    """
    p = check_output(path, inputs=inputs, force=force)
    a = _check_format(p, np.asarray(array))
    suffix = _suffix(p)
    with atomic_file(p) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, a, allow_pickle=False)
        else:
            try:
                import imageio.v3 as iio
            except ImportError:
                raise ConvolabError("writing images needs imageio "
                                    "(pip install 'convolab[image]')") from None
            plugin = "tifffile" if suffix in _TIFF else "pillow"
            iio.imwrite(tmp, a, plugin=plugin, extension=suffix)


# ---------------------------------------------------------------------------
# the output cast


_SCALES = ("clip", "rescale")


def _target_dtype(text: Any) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "biuf" or dtype.kind == "b":
        raise ConvolabError(f"output_dtype={text!r} is not allowed; allowed: 'auto', 'same', "
                            "or a real dtype such as 'uint8', 'uint16', 'float32', 'float64'")
    return dtype


def _fits(result: np.ndarray, dtype: np.dtype) -> bool:
    if result.size == 0:
        return True
    if result.dtype.kind in "iu" and np.can_cast(result.dtype, dtype):
        return True
    info = np.iinfo(dtype)
    with np.errstate(invalid="ignore"):
        r = np.rint(result)
    return bool(np.isfinite(r).all() and r.min() >= info.min and r.max() <= info.max)


def _to_integer(result: np.ndarray, dtype: np.dtype, scale: str) -> tuple[np.ndarray, str | None]:
    info = np.iinfo(dtype)
    r = np.asarray(result, dtype=np.float64)
    if scale == "rescale":
        finite = r[np.isfinite(r)]
        lo_out = 0 if info.min == 0 else info.min
        if finite.size == 0:
            return np.zeros(r.shape, dtype), None
        lo, hi = float(finite.min()), float(finite.max())
        if hi > lo:
            r = lo_out + (r - lo) * ((info.max - lo_out) / (hi - lo))
        else:
            r = np.full(r.shape, float(lo_out))
        out = np.nan_to_num(np.rint(r), nan=0.0, posinf=info.max, neginf=lo_out)
        out = np.clip(out, lo_out, info.max).astype(dtype)
        return out, (f"rescaled the result's range [{lo:.6g}, {hi:.6g}] onto "
                     f"[{lo_out}, {info.max}] ({dtype.name})")
    with np.errstate(invalid="ignore"):
        rounded = np.rint(r)
    nan = np.isnan(rounded)
    below, above = rounded < info.min, rounded > info.max
    clipped = int(below.sum() + above.sum())
    out = np.clip(np.where(nan, 0.0, rounded), info.min, info.max).astype(dtype)
    notes = []
    if clipped:
        notes.append(f"{clipped} of {r.size} values were outside [{info.min}, {info.max}] and "
                     f"were clipped ({dtype.name}); use a .tif/.npy output, "
                     "--output-dtype float32 or --scale rescale to keep them")
    if nan.any():
        notes.append(f"{int(nan.sum())} NaN values became 0")
    return out, "; ".join(notes) or None


def cast_output(result: Any, path: Any, *, input_dtype: Any = None, output_dtype: Any = "auto",
                scale: str = "clip") -> Cast:
    """Cast a computed result to the dtype it is written in, by the module's rule.

    Parameters
    ----------
    result : array_like
        The computed (real) result.
    path : str or path
        The output; its extension says which dtypes fit (:data:`WRITE_FORMATS`).
    input_dtype : dtype, optional, keyword-only
        The dtype of the input image.  ``None`` for a derived image (a
        spectrum, a score map) that has no input dtype to keep.
    output_dtype : str or dtype, optional, keyword-only
        ``'auto'`` (default), ``'same'`` or a dtype name; see the module's
        table.
    scale : {'clip', 'rescale'}, optional, keyword-only
        How values outside an integer dtype's range are treated.

    Returns
    -------
    Cast
        ``array`` (in the chosen dtype) and ``note`` (what was done, or
        None).

    Examples
    --------
    >>> import numpy as np
    >>> r = np.array([[-20.4, 100.6], [254.5, 300.0]])
    >>> cast_output(r, 'out.png', input_dtype=np.uint8).array
    array([[  0, 101],
           [254, 255]], dtype=uint8)
    >>> cast_output(r, 'out.tif', input_dtype=np.uint8).array.dtype
    dtype('float32')
    >>> cast_output(r, 'out.png', input_dtype=np.uint8, scale='rescale').array
    array([[  0,  96],
           [219, 255]], dtype=uint8)
    >>> cast_output([[1.2, 3.7]], 'out.png', input_dtype=np.uint8).array
    array([[1, 4]], dtype=uint8)
    """
    r = np.asarray(result)
    p = Path(os.fspath(path))
    suffix = _suffix(p)
    if suffix not in WRITE_FORMATS:
        raise ConvolabError(f"output={str(p)!r} has extension {p.suffix!r}; allowed: "
                            f"{', '.join(WRITE_FORMATS)}")
    if not isinstance(scale, str) or scale not in _SCALES:
        from .errors import not_one_of
        raise not_one_of("scale", scale, _SCALES)
    if r.dtype.kind == "c":
        if suffix != ".npy" or output_dtype not in ("auto", "same"):
            raise ConvolabError(f"the result is complex ({r.dtype}); allowed: a .npy output "
                                "with output_dtype='auto'")
        return Cast(r, None)
    allowed = WRITE_FORMATS[suffix]
    floats_fit = allowed is None
    in_dtype = None if input_dtype is None else np.dtype(input_dtype)
    if in_dtype is not None and in_dtype.kind == "b":
        in_dtype = np.dtype(np.uint8)
    result_float = r.dtype if r.dtype.kind == "f" else np.dtype(np.float64)
    note = None
    if isinstance(output_dtype, str) and output_dtype == "same":
        if in_dtype is None:
            raise ConvolabError("output_dtype='same' needs an input dtype; this output is "
                                "derived from the input, allowed: 'auto' or a dtype name")
        target = in_dtype
    elif isinstance(output_dtype, str) and output_dtype == "auto":
        if in_dtype is None:                          # a derived image
            if floats_fit:
                target = np.dtype(np.float32)
            else:
                target, scale = np.dtype(np.uint8), "rescale"
        elif in_dtype.kind in "iu":
            if _fits(r, in_dtype) or not floats_fit:
                target = in_dtype
            else:
                target = np.dtype(np.float32)
                note = (f"the result spans [{np.nanmin(r):.6g}, {np.nanmax(r):.6g}], outside "
                        f"{in_dtype.name}; wrote float32")
        else:                                         # float input
            if not floats_fit:
                raise ConvolabError(
                    f"the result is {result_float.name} (from a {in_dtype.name} input) and "
                    f"{suffix} holds only {', '.join(allowed)}; allowed: a .tif/.npy output, "
                    "or an explicit output dtype (--output-dtype uint8 with --scale clip or "
                    "rescale)")
            target = np.result_type(result_float, np.float32)     # float16 -> float32
    else:
        target = _target_dtype(output_dtype)
    if not floats_fit and target.name not in allowed:
        raise ConvolabError(f"output dtype {target.name} does not fit {suffix}; allowed there: "
                            f"{', '.join(allowed)} (.tif and .npy hold any real dtype)")
    if target.kind in "iu":
        out, cast_note = _to_integer(r, target, scale)
        notes = [n for n in (note, cast_note) if n]
        return Cast(out, "; ".join(notes) or None)
    out = r.astype(target)
    if scale == "rescale":
        finite = out[np.isfinite(out)]
        if finite.size and finite.max() > finite.min():
            lo, hi = finite.min(), finite.max()
            out = ((out - lo) / (hi - lo)).astype(target)
            note = f"rescaled the result's range [{lo:.6g}, {hi:.6g}] onto [0, 1]"
    return Cast(out, note)


# ---------------------------------------------------------------------------
# kernels from files


def load_kernel(path: Any) -> np.ndarray:
    """Read a kernel from ``.npy``, or from ``.txt``/``.csv`` text (one row per line).

    Text files take whitespace- or comma-separated numbers (``.csv``: commas)
    and ``#`` comments; a text kernel is always 2-D.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'k.csv')
    >>> _ = open(path, 'w').write('0,1,0\\n1,-4,1\\n0,1,0\\n')
    >>> load_kernel(path)
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    from .kernels import MAX_TAPS

    p = _existing_file(path, "kernel_file")
    suffix = _suffix(p)
    if suffix == ".npy":
        shape, _ = _npy_header(p)
        if math.prod(shape) > MAX_TAPS:
            raise ConvolabError(f"kernel_file={str(p)!r} has shape {shape}; allowed: at most "
                                f"{MAX_TAPS} taps ({format_bytes(8 * MAX_TAPS)} of float64)")
        k = np.load(p, allow_pickle=False)
    elif suffix in (".txt", ".csv"):
        if p.stat().st_size > 64 * 2**20:
            raise ConvolabError(f"kernel_file={str(p)!r} is larger than 64 MiB; allowed: a "
                                "smaller text kernel, or .npy")
        text = p.read_text(errors="replace")
        if suffix == ".txt":
            text = text.replace(",", " ")
        try:
            k = np.loadtxt(text.splitlines(), delimiter="," if suffix == ".csv" else None,
                           ndmin=2, dtype=np.float64)
        except ValueError as err:
            raise ConvolabError(f"cannot read kernel_file={str(p)!r} as numbers: "
                                f"{' '.join(str(err).split())}") from None
    else:
        raise ConvolabError(f"kernel_file={str(p)!r} has extension {p.suffix!r}; allowed: "
                            ".npy, .txt, .csv")
    if k.size == 0:
        raise ConvolabError(f"kernel_file={str(p)!r} holds an empty kernel (shape {k.shape})")
    if k.dtype.kind not in "biuf":
        raise ConvolabError(f"kernel_file={str(p)!r} has dtype {k.dtype}; allowed: real numbers")
    k = k.astype(np.float64)
    if not np.isfinite(k).all():
        raise ConvolabError(f"kernel_file={str(p)!r} holds NaN or infinite values; allowed: "
                            "finite numbers")
    return k
