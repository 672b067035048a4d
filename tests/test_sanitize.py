"""tests/sanitize.cfg, applied exactly as nbval applies it (its own parser, in order)."""

import re

import pytest
from nbval.plugin import get_sanitize_patterns

from conftest import ROOT

PATTERNS = get_sanitize_patterns((ROOT / "tests" / "sanitize.cfg").read_text())


def sanitize(text: str) -> str:
    for regex, replace in PATTERNS:
        text = re.sub(regex, replace, text)
    return text


def test_the_file_has_the_three_rules():
    assert len(PATTERNS) == 3


@pytest.mark.parametrize(
    "figure", ["<Figure size 900x420 with 2 Axes>", "<Figure size 640x480 with 1 Axes>"]
)
def test_a_figure_repr_becomes_figure(figure):
    # The address rule must not eat the "0x4" of "900x420" first.
    assert sanitize(figure) == "<Figure>"


def test_figures_of_other_sizes_compare_equal():
    assert sanitize("<Figure size 900x420 with 2 Axes>") == sanitize(
        "<Figure size 1000x500 with 3 Axes>"
    )


@pytest.mark.parametrize(
    "text",
    ["<function f at 0x7f3a2b1c9d00>", "<object at 0x55d1c2a3b4e8>", "(0x7F3A2B1C9D00)"],
)
def test_a_memory_address_is_masked(text):
    assert "0xADDRESS" in sanitize(text)
    assert re.search(r"0x[0-9a-fA-F]{6,}", sanitize(text)) is None


@pytest.mark.parametrize(
    "text", ["900x420", "shape 3x3", "0x10 = 16", "rank 0x", "eps 2.2e-16", "b = 0xff"]
)
def test_ordinary_numbers_are_left_alone(text):
    assert sanitize(text) == text


def test_a_timeit_line_is_masked():
    assert sanitize("1.23 ms ± 45.6 µs per loop") == "TIMING per loop"
