"""Which of scipy's ndimage tests the parity run selects, and why the others are left out.

``scipy/ndimage/tests/test_filters.py`` tests every filter of scipy.ndimage.
convolab.ndimage provides the linear ones (``REPLACED``); a test is selected
when its name is in ``SELECTED`` and, if it is parametrized with filter
functions, every such function is one of ``REPLACED``.  Everything else is
deselected: ``EXCLUDED`` lists the tests of the replaced functions that are
left out on purpose (with the reason); ``OUT_OF_SCOPE`` the tests of
functions convolab.ndimage does not provide.
"""

#: the scipy.ndimage functions replaced by convolab.ndimage's
REPLACED = ("correlate", "convolve", "correlate1d", "convolve1d", "gaussian_filter",
            "gaussian_filter1d", "uniform_filter", "uniform_filter1d", "sobel", "prewitt",
            "laplace", "gaussian_laplace")

#: test functions (names without parameters) that exercise the replaced functions
SELECTED = frozenset(
    [f"test_correlate{i:02d}" for i in range(1, 27)]
    + ["test_correlate01_overlap", "test_correlate_mode_sequence",
       "test_correlate_complex_kernel", "test_correlate_complex_kernel_cval",
       "test_correlate_complex_kernel_invalid_cval", "test_correlate1d_complex_kernel",
       "test_correlate1d_complex_kernel_cval", "test_correlate_complex_input",
       "test_correlate1d_complex_input", "test_correlate1d_complex_input_cval",
       "test_correlate_complex_input_and_kernel", "test_correlate_complex_input_and_kernel_cval",
       "test_correlate1d_complex_input_and_kernel",
       "test_correlate1d_complex_input_and_kernel_cval"]
    + [f"test_gauss{i:02d}" for i in range(1, 7)]
    + ["test_gauss_memory_overlap", "test_filter_axes", "test_derivative_filter_axes",
       "test_correlate_convolve_axes", "test_filter_axes_kwargs",
       "test_filter_weights_subset_axes_origins", "test_filter_invalid_axes",
       "test_filter_invalid_footprint_ndim", "test_filter_tuple_length_mismatch"]
    + [f"test_prewitt{i:02d}" for i in range(1, 5)]
    + [f"test_sobel{i:02d}" for i in range(1, 5)]
    + ["test_laplace01", "test_laplace02", "test_gaussian_laplace01", "test_gaussian_laplace02",
       "test_generic_laplace01"]
    + ["test_uniform01", "test_uniform01_complex", "test_uniform02", "test_uniform03",
       "test_uniform04", "test_uniform05", "test_uniform06", "test_uniform06_complex"]
    + [f"test_extend{i:02d}" for i in range(1, 11)]
    + ["test_gh_5430", "test_gaussian_kernel1d", "test_orders_gauss", "test_valid_origins2",
       "test_bad_convolve_and_correlate_origins", "test_multiple_modes",
       "test_multiple_modes_sequentially", "test_multiple_modes_prewitt",
       "test_multiple_modes_sobel", "test_multiple_modes_laplace",
       "test_multiple_modes_gaussian_laplace", "test_multiple_modes_uniform",
       "test_gaussian_radius", "test_gaussian_radius_invalid",
       "test_uniform_filter1d_roundoff_errors",
       # TestThreading: the replaced functions writing into slices of one array from threads
       "TestThreading::test_correlate1d", "TestThreading::test_correlate",
       "TestThreading::test_uniform_filter1d"]
)

#: tests of the replaced functions left out on purpose: test name -> reason
EXCLUDED: dict[str, str] = {
    "test_gaussian_filter_float16":
        "expects scipy's RuntimeError for float16 input; convolab filters float16 "
        "(summing in float64 and storing float16), a deliberate difference",
    "test_gaussian_truncate":
        "counts the exact zeros outside the kernel's support after filtering a delta; for "
        "sigma=5, truncate=5 (51 taps on 100 samples) the planner runs the passes by FFT, "
        "whose round-off leaves values of about 1e-17 there instead of exact zeros "
        "(method='direct' gives ndimage's exact zeros). A deliberate difference: large "
        "kernels go through the FFT",
}

#: functions of scipy.ndimage that convolab.ndimage does not provide; tests of
#: them (or parametrized with them) are out of scope
OUT_OF_SCOPE = ("minimum_filter", "maximum_filter", "minimum_filter1d", "maximum_filter1d",
                "median_filter", "rank_filter", "percentile_filter", "generic_filter",
                "generic_filter1d", "vectorized_filter", "gaussian_gradient_magnitude",
                "generic_gradient_magnitude")
