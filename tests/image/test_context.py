"""The build context filter: secrets, environments and checkpoints never enter an image."""

from freight.image import context


def make_tree(root, paths):
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{rel}\n")


def left_paths(found):
    return {item.path for item in found.left_out}


def test_secrets_environments_and_checkpoints_are_left_out_and_reported(tmp_path):
    make_tree(tmp_path, [
        "train.py", "pkg/model.py", ".env", ".env.example", "id_rsa", "id_rsa.pub", "certs/tls.pem",
        "api.key", ".netrc", ".git-credentials", ".git/config", ".aws/credentials",
        ".config/gcloud/credentials.db", ".config/app.toml", "credentials.json",
        "nb/.ipynb_checkpoints/a-checkpoint.ipynb", "nb/a.ipynb", ".venv/bin/python",
        "myenv/pyvenv.cfg", "myenv/lib/x.py", "condaenv/conda-meta/history",
        "pkg/__pycache__/m.cpython-311.pyc", ".freight/runs/x/job.json",
    ])
    found = context.collect(tmp_path)
    assert found.files == [".config/app.toml", ".env.example", "id_rsa.pub", "nb/a.ipynb",
                           "pkg/model.py", "train.py"]
    assert left_paths(found) == {
        ".env", "id_rsa", "certs/tls.pem", "api.key", ".netrc", ".git-credentials", ".git/",
        ".aws/", ".config/gcloud/", "credentials.json", "nb/.ipynb_checkpoints/", ".venv/",
        "myenv/", "condaenv/", "pkg/__pycache__/", ".freight/",
    }
    reasons = {item.path: item.reason for item in found.left_out}
    assert reasons[".env"] == reasons["id_rsa"] == context.SECRET
    assert reasons["myenv/"] == context.ENVIRONMENT


def test_dockerignore_is_honoured_with_negation_and_double_star(tmp_path):
    make_tree(tmp_path, ["train.py", "data/big.bin", "data/keep.txt", "logs/a/b.log",
                         "src/x.log", "notes.md"])
    (tmp_path / ".dockerignore").write_text("# comment\ndata\n!data/keep.txt\n**/*.log\n*.md\n")
    found = context.collect(tmp_path)
    assert found.files == [".dockerignore", "data/keep.txt", "train.py"]
    assert {"data/big.bin", "logs/a/b.log", "src/x.log", "notes.md"} <= left_paths(found)
    assert all("matched by .dockerignore" in item.reason for item in found.left_out)


def test_containerignore_is_read_before_dockerignore(tmp_path):
    make_tree(tmp_path, ["a.py", "b.py"])
    (tmp_path / ".containerignore").write_text("a.py\n")
    (tmp_path / ".dockerignore").write_text("b.py\n")
    assert "b.py" in context.collect(tmp_path).files
    assert "a.py" not in context.collect(tmp_path).files


def test_ignore_file_cannot_let_a_secret_in(tmp_path):
    make_tree(tmp_path, ["train.py", ".env"])
    (tmp_path / ".dockerignore").write_text("!.env\n")
    assert ".env" not in context.collect(tmp_path).files


def test_links_to_outside_the_project_stay_out(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret\n")
    project = tmp_path / "project"
    make_tree(project, ["train.py"])
    (project / "link.txt").symlink_to(outside)
    (project / "inner.py").symlink_to(project / "train.py")
    found = context.collect(project)
    assert found.files == ["inner.py", "train.py"]
    assert left_paths(found) == {"link.txt"}


def test_only_limits_to_given_files_still_filtered(tmp_path):
    make_tree(tmp_path, ["run.py", "other.py", ".env"])
    found = context.collect(tmp_path, only=["run.py", ".env"])
    assert found.files == ["run.py"] and left_paths(found) == {".env"}
