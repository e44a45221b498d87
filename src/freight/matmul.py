"""`freight bench matmul`: the TACC seed's matrix-multiplication scaling test, on this machine,
inside an image, or as a freight job on any target; the image/host ratio is the container's
overhead.

    host = run_matmul(MatmulRequest(sizes=[2048, 4096]))
    boxed = run_matmul(MatmulRequest(sizes=[2048, 4096], image=IMAGE, engine="podman"))
    overhead(host, boxed)  -> {2048: 0.99, 4096: 1.0}

Every place runs the same script (freight/data/matmul_bench.py) in a fresh process with the
same thread limits, so only where it runs differs. An image without numpy can borrow the
host's when that is safe (same Python minor version, numpy from a manylinux wheel, which
carries its own OpenBLAS): the image then runs the very same BLAS, which is what an overhead
figure needs. Otherwise a one-line error says to use an image with numpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from freight.errors import FreightError, InputError

SCRIPT = "matmul_bench.py"
LIB_DIR = "pylib"  # in the work folder: where the host's numpy is bound in
MISSING_EXIT = 3
BLAS_PREFIXES = ("OPENBLAS_", "GOTO", "MKL_", "OMP_", "BLIS_")  # the script's "numpy/torch/GPU missing" exit code
PROBE = ("import importlib.util as u, json, sys; print(json.dumps({'python': list(sys.version_info[:2]), "
         "'numpy': u.find_spec('numpy') is not None, 'torch': u.find_spec('torch') is not None}))")


@dataclass
class MatmulRequest:
    sizes: list[int] = field(default_factory=lambda: [2048, 4096, 8192])
    repeat: int = 3
    gpu: bool = False
    threads: int | None = None  # BLAS threads; None: the CPUs this process may use
    image: str | None = None
    engine: str | None = None
    lend_numpy: bool = True  # an image without numpy may borrow the host's (when safe)


@dataclass
class MatmulRow:
    size: int
    memory_mb: float
    seconds: float
    gflops: float


@dataclass
class MatmulResult:
    where: str  # "host", "podman localhost/img:tag", "slurm run 3f2a…"
    library: str
    device: str
    rows: list[MatmulRow]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"where": self.where, "library": self.library, "device": self.device, "notes": self.notes,
                "rows": [row.__dict__ for row in self.rows]}


def script_text() -> str:
    return resources.files("freight").joinpath("data", SCRIPT).read_text(encoding="utf-8")


def check_request(request: MatmulRequest, target: str | None = None) -> None:
    """Bad input said before anything runs (the host's own measurement takes a while): the
    sizes, an --engine that is unknown or has no --image to run, a target that does not exist."""
    check_sizes(request.sizes)
    if request.engine is not None:
        from freight.engines import get_engine

        if request.image is None:
            raise InputError(f"--engine {request.engine} runs --image, and no --image is given",
                             fix="add --image REF, or drop --engine")
        get_engine(request.engine)
    if target is not None:
        from freight.sched import get_target

        get_target(target)


def check_sizes(sizes: list[int]) -> None:
    """Refuse sizes that are not positive or whose three float32 matrices do not fit in memory."""
    if not sizes or any(size <= 0 for size in sizes):
        raise InputError(f"matrix sizes must be positive whole numbers, got {sizes}", fix="e.g. --sizes 2048,4096,8192")
    need = 3 * max(sizes) ** 2 * 4
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if need > 0.8 * free:
        raise InputError(f"a {max(sizes)}x{max(sizes)} multiplication needs {need / 1e9:.1f} GB and "
                         f"{free / 1e9:.1f} GB is free", fix="use smaller --sizes")


def thread_env(threads: int | None) -> dict[str, str]:
    """The same BLAS settings everywhere: the host's tuning variables (OPENBLAS_CORETYPE picks
    the kernel: a forced Haswell kernel is half as fast as AVX-512 on this CI machine, and an
    engine does not pass the host's environment in) and the thread count."""
    count = str(threads or len(os.sched_getaffinity(0)))
    tuning = {name: value for name, value in os.environ.items() if name.startswith(BLAS_PREFIXES)}
    return {**tuning, **{name: count for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}


def script_args(request: MatmulRequest) -> list[str]:
    args = ["--sizes", ",".join(map(str, request.sizes)), "--repeat", str(request.repeat)]
    return [*args, "--gpu"] if request.gpu else args


def run_matmul(request: MatmulRequest) -> MatmulResult:
    """The benchmark on this machine (request.image None) or inside request.image."""
    check_sizes(request.sizes)
    with tempfile.TemporaryDirectory(prefix="freight-matmul-", dir=_shared_tmp()) as work:
        script = Path(work) / SCRIPT
        script.write_text(script_text(), encoding="utf-8")
        if request.image is None:
            argv = [sys.executable, str(script), *script_args(request)]
            return _finish("host", _run(argv, {**os.environ, **thread_env(request.threads)}))
        return _run_in_image(request, Path(work), script)


def _run_in_image(request: MatmulRequest, work: Path, script: Path) -> MatmulResult:
    from freight.engines import pick_engine
    from freight.engines.base import parse_mounts
    from freight.engines.wrap import engine_env

    engine = pick_engine(request.engine, image=request.image)
    host_env = engine_env(dict(os.environ))
    probe = _probe_image(engine, request.image, work, host_env)
    mounts, env, notes = [str(work)], {**thread_env(request.threads), "PYTHONDONTWRITEBYTECODE": "1"}, []
    if not request.gpu and not probe["numpy"]:
        lent, note = lend_host_numpy(probe["python"], work, request)
        mounts += lent
        env["PYTHONPATH"] = str(work / LIB_DIR)
        notes.append(note)
    engine.prepare(request.image, parse_mounts(mounts, str(work)))
    argv = engine.exec_argv(request.image, ["python3", str(script), *script_args(request)], mounts=mounts,
                            env=env, workdir=str(work), gpus=1 if request.gpu else 0)
    result = _finish(f"{engine.name} {request.image}", _run(argv, host_env))
    result.notes += notes
    return result


def _probe_image(engine, image: str, work: Path, host_env: dict[str, str]) -> dict:
    """The image's Python version and whether it has numpy and torch."""
    argv = engine.exec_argv(image, ["python3", "-c", PROBE], mounts=[str(work)], env={}, workdir=str(work))
    done = subprocess.run(argv, capture_output=True, text=True, env=host_env, stdin=subprocess.DEVNULL)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise FreightError(f"cannot run python3 in image {image} with {engine.name}: {_last_line(done)}",
                           fix="use an image with python3, or check the image reference") from None


def lend_host_numpy(image_python: list[int], work: Path, request: MatmulRequest) -> tuple[list[str], str]:
    """Mounts that put the host's numpy in the image (under work/pylib), when that is safe."""
    fix = "use an image with numpy installed (add `pip install numpy` to its recipe)"
    if not request.lend_numpy:
        raise FreightError(f"image {request.image} has no numpy", fix=fix)
    try:
        import numpy
    except ImportError:
        raise FreightError(f"image {request.image} has no numpy, and neither has this Python to lend it", fix=fix) from None
    package = Path(numpy.__file__).parent
    libs = package.parent / "numpy.libs"  # a manylinux wheel's own OpenBLAS: no system BLAS needed
    here = list(sys.version_info[:2])
    if list(image_python) != here:
        raise FreightError(f"image {request.image} has no numpy and its Python {image_python[0]}.{image_python[1]} "
                           f"cannot load this Python {here[0]}.{here[1]}'s numpy", fix=fix)
    if not libs.is_dir():
        raise FreightError(f"image {request.image} has no numpy and this one ({package}) is not from a "
                           "self-contained wheel", fix=fix)
    mounts = []
    for source in (package, libs):
        target = work / LIB_DIR / source.name
        target.mkdir(parents=True, exist_ok=True)  # ch-run binds only onto existing folders
        mounts.append(f"{source}:{target}")
    return mounts, f"numpy {numpy.__version__} lent from the host (the image has none): the same BLAS runs on both sides"


def _run(argv: list[str], env: dict[str, str]) -> list[dict]:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if done.returncode == MISSING_EXIT:
        gpu = "--gpu" in argv
        fix = ("run on a GPU node with torch built for CUDA (an image such as pytorch/pytorch:*-cuda*)" if gpu
               else "use an image or environment with numpy")
        raise FreightError(_last_line(done).removeprefix("matmul_bench: "), fix=fix)
    if done.returncode != 0:
        raise FreightError(f"the matmul benchmark failed (exit {done.returncode}): {_last_line(done)}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _last_line(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


def _finish(where: str, measured: list[dict]) -> MatmulResult:
    rows = [MatmulRow(m["size"], m["memory_mb"], m["seconds"], m["gflops"]) for m in measured]
    first = measured[0] if measured else {}
    return MatmulResult(where, first.get("library", ""), first.get("device", ""), rows)


def _shared_tmp() -> str | None:
    """/tmp: ch-run shares the host's /tmp, so the work folder exists inside any image."""
    return "/tmp" if os.path.isdir("/tmp") else None


def overhead(host: MatmulResult, boxed: MatmulResult) -> dict[int, float]:
    """size -> GFLOPS in the image / GFLOPS on the host (1.0: no overhead)."""
    on_host = {row.size: row.gflops for row in host.rows}
    return {row.size: row.gflops / on_host[row.size] for row in boxed.rows if on_host.get(row.size)}


def plot(results: list[MatmulResult], path: Path) -> Path:
    """GFLOPS against matrix size, one line per place (matplotlib, the `plot` extra)."""
    from freight.runs.results import _matplotlib_figure, _save

    figure = _matplotlib_figure()(figsize=(6, 4))
    axes = figure.add_subplot()
    for result in results:
        axes.plot([r.size for r in result.rows], [r.gflops for r in result.rows], marker="o", label=result.where)
    axes.set_xlabel("matrix size n (n x n, float32)")
    axes.set_ylabel("GFLOPS")
    axes.set_title("Matrix multiplication scaling")
    axes.legend()
    axes.grid(True, alpha=0.3)
    return _save(figure, Path(path))



def submit_matmul(request: MatmulRequest, target: str, project: Path) -> MatmulResult:
    """The benchmark as a freight job on `target` (slurm, sge, local, …), waited for; the
    table comes from what the task reported. The script is written under the project's
    .freight/bench/, which the job's folder binding carries to the node and into the image."""
    import freight.api

    check_sizes(request.sizes)
    work = Path(project).resolve() / ".freight" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    (work / SCRIPT).write_text(script_text(), encoding="utf-8")
    settings: dict = {"target": target, "env": "current", "env_vars": thread_env(request.threads),
                      "name": "bench-matmul", "gpus": 1 if request.gpu else None}
    notes = []
    if request.image:
        settings.update(image=request.image, engine=request.engine)
        notes = _job_numpy(request, work, settings)
    run = freight.api.run(str(work / SCRIPT), script_args(request), cwd=project, wait=True, **settings)
    return _job_result(run, target, notes)


def _job_numpy(request: MatmulRequest, work: Path, settings: dict) -> list[str]:
    """Lend the host's numpy to the job's image too, when the image lacks it (checked here)."""
    from freight.engines import pick_engine
    from freight.engines.wrap import engine_env

    if request.gpu:
        return []
    engine = pick_engine(request.engine, image=request.image)
    probe = _probe_image(engine, request.image, work, engine_env(dict(os.environ)))
    if probe["numpy"]:
        return []
    mounts, note = lend_host_numpy(probe["python"], work, request)
    settings["mounts"] = mounts
    settings["env_vars"] = {**settings["env_vars"], "PYTHONPATH": str(work / LIB_DIR), "PYTHONDONTWRITEBYTECODE": "1"}
    return [note]


def _job_result(run, target: str, notes: list[str]) -> MatmulResult:
    row = run.results()[0]
    if row.get("state") != "succeeded" or "gflops" not in row:
        raise FreightError(f"the matmul job (run {run.id}) ended {row.get('state')} without results",
                           fix=f"see its log: freight logs {run.id}")
    measured = [{"size": s, "memory_mb": m, "seconds": t, "gflops": g}
                for s, m, t, g in zip(row["size"], row["memory_mb"], row["seconds"], row["gflops"])]
    result = _finish(f"{target} run {run.id}", measured)
    result.library, result.device, result.notes = row.get("library", ""), row.get("device", ""), notes
    return result
