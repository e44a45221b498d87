"""Imports of one source text: the fast path must agree with a full parse, contexts decide
optional vs hard, and a text that does not parse still yields its imports and a warning."""

import ast
import textwrap

import pytest

from freight.deps.pyast import imports_in_tree
from freight.deps.pyfast import NeedsFullParse, fast_imports, has_calls
from freight.deps.pysource import imports_in_source


def imports(source: str) -> dict[str, str]:
    found, warnings = imports_in_source(textwrap.dedent(source))
    assert warnings == []
    return {module: reason for module, _, reason in found}


def full_parse(source: str) -> list:
    return sorted(set(imports_in_tree(ast.parse(source), 0, has_calls(source))))


TRICKY = [
    '''"""Doc.\n\n    import fake_in_docstring\n"""\nimport os\n''',
    "def f(\n    a,\n):\n    import json\n    return a\n",
    "class A:\n    def m(self):\n        try:\n            import ujson\n        except ImportError:\n            ujson = None\n",
    "x = '''\n'''; y = \"\"\"\nimport fake\n\"\"\"\nimport real\n",
    "s = \"'''\"\nimport after_quote\n",
    "try: import one_liner\nexcept ImportError: pass\n",
    "import a; import b\n",
    "from pkg import (\n    x,\n    y as z,\n)\nimport c\n",
    "from pkg \\\n    import w\n",
    "if True:\n    pass\nelse:\n    import in_else\n",
    "for i in range(3):\n    import in_loop\nelse:\n    import in_for_else\n",
    "@decorator(\n    1,\n)\ndef g():\n    import in_decorated\n",
    "def h():\n    x = call(\n1)\n    import after_dedented_continuation\n",
    "async def k():\n    async with lock:\n        import in_async\n",
    "match x:\n    case 1:\n        import in_case\n",
    "m = importlib.import_module('dyn.mod')\n",
    "def t():\n    r = '''\nimport not_real\n'''\n    import real_one\n",
    "def f():\n    try:\n        import a\n    except ImportError:\n        pass\n    import b\n",
    "try:\n    def f():\n        import a\nexcept ImportError:\n    pass\n",
    "class C:\n    async def m(self):\n        if TYPE_CHECKING:\n            import t\n        import u\n",
    "def f():\n    with try_import() as _imports:\n        import opt\n    with open(p) as h:\n        import hard\n",
    "if is_torch_available():\n    import torch\nelse:\n    torch = None\n",
    "try:\n    import x\nexcept OptionalDependencyNotAvailable:\n    pass\n",
    # Block headers kilobytes above the import (the long-distance search of pyfast.py).
    "def f():\n" + "    x = 1\n" * 400
    + "    try:\n        import far_opt\n    except ImportError:\n        pass\n    import far_lazy\n",
    "class K:\n" + "".join(f"    def m{i}(self):\n        return {i}\n" for i in range(300))
    + "    def last(self):\n        if TYPE_CHECKING:\n            import tc\n        import lazy\n",
    'def d():\n    """\nimport fake\nnot code at column 0\n    """\n' + "    y = 2\n" * 600
    + "    import deep\n",
]


@pytest.mark.parametrize("source", TRICKY)
def test_fast_path_finds_what_a_full_parse_finds(source):
    assert sorted(set(fast_imports(source))) == full_parse(source)


def test_fast_path_gives_up_on_unpaired_triple_quotes():
    with pytest.raises(NeedsFullParse):
        fast_imports('x = """never closed\nimport a\n')


def test_imports_in_triple_quoted_strings_are_not_imports():
    assert imports('"""\nimport numpy\n"""\nimport os\n') == {"os": ""}


def test_module_level_imports_are_hard_and_from_imports_name_submodules():
    found = imports("import numpy as np, pandas\nfrom google.cloud import storage, bigquery\n")
    assert found == {
        "numpy": "", "pandas": "", "google.cloud.storage": "", "google.cloud.bigquery": "",
    }


def test_relative_imports_keep_their_dots():
    found = imports("from . import sibling\nfrom ..pkg import thing\nfrom .m import *\n")
    assert found == {".sibling": "", "..pkg.thing": "", ".m": ""}


def test_try_except_import_error_makes_the_body_optional_not_the_fallback():
    found = imports(
        """
        try:
            import ujson as json
        except ImportError:
            import simplejson as json
        """
    )
    assert found == {"ujson": "try/except ImportError", "simplejson": ""}


@pytest.mark.parametrize("handler", ["ImportError", "ModuleNotFoundError", "Exception", "(ValueError, ImportError)", ""])
def test_handlers_that_catch_import_errors(handler):
    source = f"try:\n    import fancy\nexcept {handler}:\n    pass\n"
    assert imports(source) == {"fancy": "try/except ImportError"}


def test_try_with_other_handler_keeps_the_import_hard():
    assert imports("try:\n    import fancy\nexcept KeyError:\n    pass\n") == {"fancy": ""}


def test_type_checking_block_is_optional_but_its_else_is_not():
    found = imports(
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from pandas import DataFrame
        else:
            import numpy
        """
    )
    assert found["pandas.DataFrame"] == "if TYPE_CHECKING"
    assert found["numpy"] == ""


def test_find_spec_guard_and_probe_are_optional():
    found = imports(
        """
        import importlib.util
        if importlib.util.find_spec("cupy") is not None:
            import cupy
        """
    )
    assert found["cupy"] == "find_spec guard"


def test_string_imports_count_with_their_context():
    found = imports(
        """
        import importlib
        yaml = importlib.import_module("yaml")
        req = __import__("requests")
        def f(name):
            return importlib.import_module(name)  # not a constant: nothing to record
        try:
            extra = importlib.import_module("extra.sub")
        except ImportError:
            extra = None
        """
    )
    assert found["yaml"] == "" and found["requests"] == ""
    assert found["extra.sub"] == "try/except ImportError"
    assert "name" not in found


def test_platform_branches_are_optional_python_version_branches_are_not():
    found = imports(
        """
        import sys
        if sys.version_info < (3, 11):
            import tomli
        if sys.platform == "win32":
            import winreg
        """
    )
    assert found["tomli"] == ""
    assert found["winreg"] == "platform branch"


def test_colab_only_branch_is_optional_and_its_else_is_not():
    found = imports(
        """
        if "google.colab" in sys.modules:
            from IPython import display
        else:
            import local_only
        """
    )
    assert found == {"IPython.display": "Colab-only branch", "local_only": ""}


def test_library_idioms_for_optional_dependencies():
    found = imports(
        """
        if is_torch_available():
            import torch
        if _TORCHVISION_AVAILABLE:
            import torchvision
        try:
            import diffusers_extra
        except OptionalDependencyNotAvailable:
            pass
        with try_import() as _imports:
            import plotly
        """
    )
    assert found == {
        "torch": "availability check",
        "torchvision": "availability check",
        "diffusers_extra": "try/except ImportError",
        "plotly": "suppress(ImportError)",
    }


def test_import_inside_a_function_is_marked_lazy_and_guards_inside_win():
    found = imports(
        """
        def f():
            import scipy.stats
            try:
                import ujson
            except ImportError:
                pass
        class A:
            import inclass
            async def g(self):
                import inasync
        """
    )
    assert found == {
        "scipy.stats": "imported inside a function",
        "ujson": "try/except ImportError",
        "inclass": "",
        "inasync": "imported inside a function",
    }


def test_line_numbers_point_at_the_statement():
    source = "# header\n\nimport os\n\n\ndef f():\n    try:\n        import ujson\n    except ImportError:\n        pass\n"
    found, _ = imports_in_source(source)
    assert sorted((module, line) for module, line, _ in found) == [("os", 3), ("ujson", 8)]


def test_python2_file_warns_and_recovers_imports_by_line_scan():
    found, warnings = imports_in_source("import urllib2\nfrom StringIO import StringIO\nprint 'hi'\n")
    assert {module for module, _, _ in found} == {"urllib2", "StringIO.StringIO"}
    assert len(warnings) == 1
    line, message = warnings[0]
    assert line == 3 and "does not parse" in message


def test_python2_import_inside_a_docstring_is_not_recovered():
    found, _ = imports_in_source('"""\nimport fake\n"""\nimport real\nprint "x"\n')
    assert [module for module, _, _ in found] == ["real"]


def test_null_bytes_warn_and_are_scanned_without_them():
    found, warnings = imports_in_source("import os\nimport numpy\x00\n")
    assert [module for module, _, _ in found] == ["os", "numpy"]
    assert warnings[0] == (2, "contains null bytes; scanned without them")


def test_windows_line_endings():
    assert imports("import a\r\nif b:\r\n    import b\r\n") == {"a": "", "b": ""}
