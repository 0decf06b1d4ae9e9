"""pytest plugin: replace scipy.ndimage's linear filters by convolab.ndimage's.

Loaded with ``-p convolab_ndimage_patch``.  Its ``pytest_configure`` runs
before scipy's test module is imported, so the module's ``ndimage.correlate``
(looked up on the ``scipy.ndimage`` module, also inside parametrize
decorators) is convolab's.  Nothing happens on import, so collecting this
file elsewhere (``--doctest-modules``) replaces nothing.

* scipy's test decorators look functions up in its array-API capabilities
  table, so convolab's functions get the entries of the functions they
  replace.
* ``scipy.ndimage._filters._gaussian_kernel1d`` is replaced too, so that
  ``test_gaussian_kernel1d`` checks convolab's Gaussian kernel.
* scipy's own filters that build on the replaced ones (``_filters``'
  internal calls, e.g. ``gaussian_gradient_magnitude``) keep scipy's.
* convolab's direct algorithm calls ``scipy.ndimage.correlate`` as its
  compiled loop when numba is missing; that call keeps scipy's function.
* ``pytest_collection_modifyitems`` keeps only the tests chosen in
  ``selection.py``.
"""

import inspect

ORIGINAL = {}


def pytest_configure(config):
    import scipy.ndimage
    from scipy._lib import _array_api
    from scipy.ndimage import _filters

    import convolab.ndimage as ours
    from selection import REPLACED

    table = _array_api.xp_capabilities_table
    for name in REPLACED:
        original = getattr(scipy.ndimage, name)
        ORIGINAL[name] = original
        mine = getattr(ours, name)
        if original in table:
            table[mine] = table[original]
        setattr(scipy.ndimage, name, mine)
    _filters._gaussian_kernel1d = ours._gaussian_kernel1d
    _keep_scipy_in_direct_algorithm(ORIGINAL["correlate"])


def _keep_scipy_in_direct_algorithm(scipy_correlate):
    """convolab's direct algorithm looks ``scipy.ndimage.correlate`` up when it
    runs (without numba); give it scipy's function, not the replacement,
    which would plan the same problem again."""
    from convolab.algorithms import direct

    run = direct._run_ndimage
    source = inspect.getsource(run)
    if "ndimage.correlate(" not in source:       # the direct algorithm changed: nothing to do
        return
    import types

    fake_ndimage = types.SimpleNamespace(correlate=scipy_correlate)
    fake_scipy = types.SimpleNamespace(ndimage=fake_ndimage)
    builtins = dict(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))
    real_import = builtins["__import__"]

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "scipy" and fromlist and "ndimage" in fromlist and level == 0:
            return fake_scipy
        return real_import(name, globals, locals, fromlist, level)

    builtins["__import__"] = guarded_import
    namespace = dict(run.__globals__)
    namespace["__builtins__"] = builtins
    direct._run_ndimage = types.FunctionType(run.__code__, namespace, run.__name__,
                                             run.__defaults__, run.__closure__)


def _function_params(item):
    """Names of scipy.ndimage functions an item is parametrized with."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return set()
    names = set()
    for value in callspec.params.values():
        if callable(value) and getattr(value, "__name__", None):
            names.add(value.__name__)
    return names


def _test_name(item):
    name = item.originalname if hasattr(item, "originalname") else item.name.split("[")[0]
    cls = item.cls.__name__ if getattr(item, "cls", None) is not None else None
    return name, (f"{cls}::{name}" if cls else name)


def pytest_collection_modifyitems(session, config, items):
    import convolab.ndimage as ours
    import scipy.ndimage
    from selection import EXCLUDED, OUT_OF_SCOPE, REPLACED, SELECTED

    if scipy.ndimage.correlate is not ours.correlate:
        raise RuntimeError("scipy.ndimage is not using convolab's functions")
    keep, drop = [], []
    for item in items:
        name, qualified = _test_name(item)
        chosen = (name in SELECTED or qualified in SELECTED) and name not in EXCLUDED
        if chosen and "TestThreading" in qualified and qualified not in SELECTED:
            chosen = False
        params = _function_params(item)
        if params & set(OUT_OF_SCOPE) or (params and not params <= set(REPLACED)):
            chosen = False
        (keep if chosen else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
