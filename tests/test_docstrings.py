"""Every public function of mlnotes says where in the book it is derived.

The docstring must cite a label of the book (``:eq:``, ``:prf:ref:``, ``:ref:`` or
``:numref:``); the nitpicky book build then checks that the label exists, so the API
page links every function to its chapter.
"""

import importlib
import inspect
import re

import pytest

MODULES = ["calculus", "linear", "nn", "gmm", "datasets"]
CITATION = re.compile(r":(eq|prf:ref|ref|numref):`[^`]+`")


def _public_functions():
    for name in MODULES:
        module = importlib.import_module(f"mlnotes.{name}")
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj) and not attr.startswith("_"):
                yield f"mlnotes.{name}.{attr}", obj


@pytest.mark.parametrize(("qualname", "func"), list(_public_functions()), ids=lambda v: v if isinstance(v, str) else "")
def test_public_function_cites_the_book(qualname, func):
    doc = inspect.getdoc(func) or ""
    assert doc, f"{qualname} has no docstring"
    assert CITATION.search(doc), f"{qualname}: cite the equation, lemma or section it implements"


def test_every_module_declares_its_public_names():
    for name in MODULES:
        module = importlib.import_module(f"mlnotes.{name}")
        assert getattr(module, "__all__", None), f"mlnotes.{name} has no __all__"
