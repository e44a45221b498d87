"""Reading notebooks: IPython syntax becomes parseable Python with the same lines, `pip
install` lines become requirements, Colab-only code is removed with a warning."""

import ast
from pathlib import Path

import nbformat
import pytest

from freight.deps import notebook as notebook_module
from freight.deps.notebook import cell_text, read_notebook
from freight.errors import InputError

PROJECTS = Path(__file__).parent.parent / "projects"


def notebook(tmp_path: Path, *sources: str, name: str = "nb.ipynb") -> Path:
    """A v4 notebook file with a markdown cell first, then one code cell per source."""
    cells = [nbformat.v4.new_markdown_cell("# title")]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    path = tmp_path / name
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    return path


def test_code_cells_keep_their_notebook_index_and_line_count(tmp_path):
    sources = ["import numpy as np\n%matplotlib inline\n!ls -l", "x = !ls\nfor i in x:\n    !echo {i}"]
    code = read_notebook(notebook(tmp_path, *sources))
    assert [c.index for c in code.cells] == [1, 2]
    for cell, source in zip(code.cells, sources):
        assert cell.source.count("\n") == source.count("\n")
        ast.parse(cell.source)  # every cell is valid Python now
    assert code.cells[0].source.splitlines()[0] == "import numpy as np"
    assert code.cells[1].source.splitlines()[2] == "    pass  # !echo {i}"


def test_pip_install_lines_become_requirements_with_pins(tmp_path):
    code = read_notebook(notebook(
        tmp_path,
        "!pip install -q -U torch==2.1.0 'transformers>=4.30' > /dev/null 2>&1",
        "%pip install --upgrade pandas\n!python -m pip install scikit-learn[all]",
        "!pip3 install --no-cache-dir -i https://example.org/simple einops",
        "pip install tqdm",  # Colab's automagic: no `!` needed there
    ))
    assert code.pip_requirements == [
        "torch==2.1.0", "transformers>=4.30", "pandas", "scikit-learn[all]", "einops", "tqdm"
    ]
    assert any("--index-url" in w or "-i https://example.org/simple" in w for w in code.warnings)


def test_later_pin_wins_but_bare_name_keeps_earlier_pin(tmp_path):
    code = read_notebook(notebook(
        tmp_path, "!pip install torch==2.0 numpy", "!pip install torch numpy==1.26.4"
    ))
    assert code.pip_requirements == ["torch==2.0", "numpy==1.26.4"]


def test_git_url_with_egg_becomes_direct_reference_and_plain_url_is_warned(tmp_path):
    code = read_notebook(notebook(
        tmp_path,
        "!pip install git+https://github.com/org/lib.git#egg=lib git+https://github.com/org/x.git",
    ))
    assert code.pip_requirements == ["lib @ git+https://github.com/org/lib.git"]
    assert any("git+https://github.com/org/x.git" in w and "cell 2, line 1" in w
               for w in code.warnings)


def test_requirements_file_and_variables_are_warned_not_guessed(tmp_path):
    code = read_notebook(notebook(tmp_path, "!pip install -r requirements.txt {extra}"))
    assert code.pip_requirements == []
    assert len(code.warnings) == 2


def test_apt_installs_and_load_ext_are_reported(tmp_path):
    code = read_notebook(notebook(
        tmp_path, "!apt-get update -qq\n!sudo apt-get install -y -qq ffmpeg libsm6\n%load_ext tensorboard"
    ))
    assert code.apt_packages == ["ffmpeg", "libsm6"]
    assert code.load_ext == ["tensorboard"]


def test_bang_inside_a_string_or_open_bracket_is_python(tmp_path):
    source = 's = """\n!not a shell line\n"""\nt = (1,\n%2)'
    code = read_notebook(notebook(tmp_path, source))
    assert code.cells[0].source == source


def test_timing_magics_keep_their_statement(tmp_path):
    code = read_notebook(notebook(tmp_path, "%time x = f()\n%timeit -n 10 -r 3 g(x)"))
    assert code.cells[0].source == "x = f()\ng(x)"


def test_cell_magics_python_body_kept_other_bodies_commented(tmp_path):
    code = read_notebook(notebook(tmp_path, "%%time\nimport torch", "%%bash\nimport x"))
    assert code.cells[0].source == "# %%time\nimport torch"
    assert code.cells[1].source == "# %%bash\n# import x"


def test_drive_mount_removed_with_warning_naming_file_cell_and_paths(tmp_path):
    path = notebook(
        tmp_path,
        "from google.colab import drive\ndrive.mount('/content/drive')",
        "df = load('/content/drive/MyDrive/data/train.csv')",
    )
    code = read_notebook(path)
    assert code.cells[0].source.startswith("# Colab only: from google.colab import drive")
    assert code.data_paths == ["/content/drive/MyDrive/data/train.csv"]
    [warning] = code.warnings
    assert warning.startswith(f"{path}: cell 2, line 2: Google Drive mount removed")
    assert warning.endswith("/content/drive/MyDrive/data/train.csv")


def test_colab_import_guarded_by_try_except_is_kept(tmp_path):
    source = "try:\n    from google.colab import drive\nexcept ImportError:\n    drive = None"
    code = read_notebook(notebook(tmp_path, source))
    assert code.cells[0].source == source
    assert code.warnings == []


def test_v3_notebook_is_read(tmp_path):
    code = read_notebook(PROJECTS / "nb_v3" / "legacy.ipynb")
    assert [c.index for c in code.cells] == [1, 2]
    assert "import numpy as np" in code.cells[0].source
    assert code.pip_requirements == ["numpy==1.26.4"]


def test_syntax_error_cell_is_left_for_the_scanner(tmp_path):
    code = read_notebook(notebook(tmp_path, 'import os\nprint "python 2"'))
    assert code.cells[0].source == 'import os\nprint "python 2"'


@pytest.mark.parametrize("content, problem", [
    ('{"cells": [', "not a readable notebook"),
    ('{"just": "json"}', "not a readable notebook"),
    ("[1, 2]", "not a readable notebook"),
])
def test_broken_notebooks_are_one_line_input_errors(tmp_path, content, problem):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_notebook(path)
    message = caught.value.one_line()
    assert message.startswith(f"{path}: {problem}") and "\n" not in message


def test_missing_notebook_is_input_error(tmp_path):
    with pytest.raises(InputError, match="notebook not found"):
        read_notebook(tmp_path / "nope.ipynb")


# ---- reading v4 notebooks without nbformat (it takes a tenth of a second to import) ----


@pytest.mark.parametrize("name", ["cell_magics", "colab", "magics", "pseudo", "shell"])
def test_plain_v4_reading_gives_the_cells_nbformat_gives(name):
    path = next((PROJECTS / f"nb_{name}").glob("*.ipynb"))
    plain = notebook_module._plain_v4(path)
    assert plain is not None
    read = nbformat.read(str(path), as_version=4)
    assert [(c.cell_type, cell_text(c)) for c in plain.cells] == \
        [(c.cell_type, cell_text(c)) for c in read.cells]


@pytest.mark.parametrize("name", ["nb_v3/legacy.ipynb", "nb_broken/broken.ipynb"])
def test_other_versions_and_broken_files_are_left_to_nbformat(name):
    assert notebook_module._plain_v4(PROJECTS / name) is None


def test_a_v4_notebook_nbformat_would_refuse_is_left_to_it(tmp_path):
    path = tmp_path / "no_metadata.ipynb"
    path.write_text('{"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", '
                    '"source": "import os"}]}')
    assert notebook_module._plain_v4(path) is None
    with pytest.raises(InputError, match="not a readable notebook"):
        read_notebook(path)
