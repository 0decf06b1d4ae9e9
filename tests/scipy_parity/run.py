"""Run scipy's own tests for the convolution functions against convolab.

``make scipy-parity`` runs this.  It takes the ``test_signaltools.py`` that is
installed with scipy, replaces scipy.signal's ``convolve``, ``correlate``,
``fftconvolve``, ``oaconvolve``, ``convolve2d``, ``correlate2d``,
``choose_conv_method`` and ``correlation_lags`` by convolab's (the plugin
``convolab_patch.py``), runs the test classes for those functions and prints
the counts.  Tests excluded on purpose are listed below with the reason, and
in docs/scipy-parity.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

#: the test classes and functions that exercise the replaced functions
SELECT = ("TestConvolve or TestConvolve2d or TestFFTConvolve or TestOAConvolve or "
          "TestAllFreqConvolves or test_convolve_longdtype_input or TestCorrelate or "
          "TestCorrelateReal or TestCorrelateComplex or TestCorrelate2d or "
          "test_correlation_lags or test_choose_conv_method")

#: tests that check a behaviour convolab changes on purpose
EXCLUDED: dict[str, str] = {
    "TestFFTConvolve::test_fft_nan":
        "expects scipy's RuntimeWarning that its FFT path spread one NaN over the whole "
        "output; convolab's FFT keeps NaN on the kernel footprint (the direct result), "
        "so there is nothing to warn about",
}


def main() -> int:
    import scipy
    import scipy.signal.tests

    test_file = Path(scipy.signal.tests.__file__).parent / "test_signaltools.py"
    here = Path(__file__).resolve().parent
    select = f"({SELECT})" + "".join(f" and not {t.split('::')[-1]}" for t in EXCLUDED)
    args = [sys.executable, "-m", "pytest", str(test_file), "-p", "convolab_patch",
            "-p", "no:cacheprovider", "-q", "-k", select, "-rfE",
            "-W", "ignore::convolab.errors.ConvolabWarning"]
    workers = os.environ.get("PARITY_WORKERS", "2")
    if workers != "1":
        args += ["-n", workers]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(here), os.environ.get("PYTHONPATH")])))
    print(f"scipy {scipy.__version__}: running {test_file.name} against convolab", flush=True)
    proc = subprocess.run(args, cwd=here, env=env, capture_output=True, text=True)
    sys.stdout.write(proc.stdout[-6000:])
    sys.stderr.write(proc.stderr[-3000:])
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?|deselected|skipped|xfailed)", summary)}
    print("\nscipy-parity summary")
    for key in ("passed", "failed", "error", "errors", "skipped", "xfailed", "deselected"):
        if key in counts:
            print(f"  {key:>10}: {counts[key]}")
    print(f"  {'excluded':>10}: {len(EXCLUDED)} (see docs/scipy-parity.md)")
    for test_id, reason in EXCLUDED.items():
        print(f"    - {test_id}: {reason}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
