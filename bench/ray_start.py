"""Starting a Ray cluster inside one Slurm job: freight's launcher vs Ray's documented sbatch
example, side by side, on the CI's two-node Slurm (`bash ci/slurm.sh up`: nodes n1 and n2).

- freight: `freight run --target slurm --nodes 2 --ray --env current driver.py`: free ports
  picked per node, the head polled until every node has joined, the cluster stopped at the end.
- Ray's example: doc/source/cluster/doc_code/slurm-basic.sh from "Deploying on Slurm"
  (docs.ray.io): the head with `srun -w HEAD ray start --head --port=6379 --block &`, `sleep 10`,
  then per worker `srun -w NODE ray start --address … --block &` and `sleep 5`, then the driver.
  Copied as documented except for `--num-gpus` (this cluster's jobs have no GPUs), the path
  of `ray` (this interpreter's) and `RAY_AUTH_MODE=token`: with Ray 2.60 and a token in
  ~/.ray/auth_token, `ray start` turns token authentication on and the driver, without it,
  is refused ("InvalidAuthToken"). freight's launcher makes a token per job.

Both run the same driver: it connects, waits until both nodes are alive (the documented script
only hopes so after its sleeps), runs 100 small tasks, and prints the time it saw the cluster
complete. **up** = that time minus when the job's script began (freight: the task wrapper's
start in state.json, which starts the launcher at once; the documented script: its first line,
in a file). **total** = seconds from submitting to the job's end, as a user waits for it.

Run: `.venv/bin/python bench/ray_start.py [--repeat 3] [--markdown]` with a Python that has
freight and ray. Raw figures: bench/_work/ray-start-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = WORK / "ray-start-results.json"
MULTI_CONF = Path(os.environ.get("FREIGHT_CI_SLURM_MULTI", "/var/lib/freight-ci/slurm-multi")) / "slurm.conf"
PY = sys.executable
NODES = 2
DRIVER = """\
import json, os, sys, time, ray
ray.init(address=os.environ.get("RAY_ADDRESS") or os.environ["ip_head"])
while sum(1 for node in ray.nodes() if node["Alive"]) < {nodes}:
    time.sleep(0.1)
up = time.time()
@ray.remote
def square(x):
    return x * x
assert sum(ray.get([square.remote(i) for i in range(100)])) == sum(i * i for i in range(100))
print(json.dumps({{"up": up}}), flush=True)
"""
# Ray's slurm-basic.sh as documented (see the module docstring for the two changes).
RAY_DOC_SCRIPT = """\
#!/bin/bash
#SBATCH --job-name=ray-doc
#SBATCH --cpus-per-task=1
#SBATCH --nodes={nodes}
#SBATCH --tasks-per-node=1
#SBATCH --output={out}
python3 -c 'import time; print(time.time())' > {began}
export PATH={bindir}:$PATH
export RAY_AUTH_MODE=token  # Ray 2.60 turns tokens on for `ray start`, but not for the driver
nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
nodes_array=($nodes)
head_node=${{nodes_array[0]}}
head_node_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address)
if [[ "$head_node_ip" == *" "* ]]; then
IFS=' ' read -ra ADDR <<<"$head_node_ip"
if [[ ${{#ADDR[0]}} -gt 16 ]]; then
  head_node_ip=${{ADDR[1]}}
else
  head_node_ip=${{ADDR[0]}}
fi
fi
port=6379
ip_head=$head_node_ip:$port
export ip_head
srun --nodes=1 --ntasks=1 -w "$head_node" \\
    ray start --head --node-ip-address="$head_node_ip" --port=$port \\
    --num-cpus "${{SLURM_CPUS_PER_TASK}}" --block &
sleep 10
worker_num=$((SLURM_JOB_NUM_NODES - 1))
for ((i = 1; i <= worker_num; i++)); do
    node_i=${{nodes_array[$i]}}
    srun --nodes=1 --ntasks=1 -w "$node_i" \\
        ray start --address "$ip_head" \\
        --num-cpus "${{SLURM_CPUS_PER_TASK}}" --block &
    sleep 5
done
{py} -u {driver}
"""


def slurm_env() -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": str(MULTI_CONF), "NO_COLOR": "1"}


def driver_up(stdout_text: str) -> float:
    return [json.loads(line) for line in stdout_text.splitlines() if line.startswith('{"up"')][-1]["up"]


def run_freight(folder: Path) -> dict[str, float]:
    (folder / "driver.py").write_text(DRIVER.format(nodes=NODES))
    began = time.time()
    done = subprocess.run([PY, "-m", "freight", "run", "--json", "--target", "slurm", "--nodes", str(NODES),
                           "--ray", "--env", "current", "driver.py"], cwd=folder, env=slurm_env(),
                          capture_output=True, text=True, timeout=900)
    total = time.time() - began
    record = json.loads(done.stdout)
    task = Path(record["run_dir"]) / "tasks" / "0"
    if record["tasks"][0]["state"] != "succeeded":
        raise SystemExit(f"freight's run failed:\n{(task / 'stderr.log').read_text()[-3000:]}")
    started = json.loads((task / "state.json").read_text())["started"]
    return {"up": driver_up((task / "stdout.log").read_text()) - started, "total": total}


def run_ray_doc(folder: Path) -> dict[str, float]:
    (folder / "driver.py").write_text(DRIVER.format(nodes=NODES))
    out, began_file = folder / "ray-doc.out", folder / "began"
    script = folder / "ray-doc.sbatch"
    script.write_text(RAY_DOC_SCRIPT.format(nodes=NODES, out=out, began=began_file, bindir=Path(PY).parent,
                                            py=PY, driver=folder / "driver.py"))
    began = time.time()
    done = subprocess.run(["sbatch", "--wait", str(script)], cwd=folder, env=slurm_env(),
                          capture_output=True, text=True, timeout=900)
    total = time.time() - began
    if done.returncode != 0 or '{"up"' not in out.read_text():
        raise SystemExit(f"Ray's documented script failed:\n{done.stderr}\n{out.read_text()[-3000:]}")
    return {"up": driver_up(out.read_text()) - float(began_file.read_text()), "total": total}


METHODS = {"freight --ray": run_freight, "Ray docs sbatch (sleep 10 + 5/worker)": run_ray_doc}


def wait_idle(limit_s: float = 300) -> None:
    """Until every node is idle: a job that is still ending must not delay the next method's."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=slurm_env(), capture_output=True,
                                text=True).stdout.split()
        if states and set(states) == {"idle"}:
            return
        time.sleep(0.5)
    raise SystemExit("the two-node Slurm never became idle")


def measure(repeat: int) -> dict[str, list[dict[str, float]]]:
    results: dict[str, list[dict[str, float]]] = {name: [] for name in METHODS}
    for round_number in range(repeat):
        for name, method in METHODS.items():  # alternating, so a busy moment hits both
            wait_idle()
            with tempfile.TemporaryDirectory(prefix="ray-start-") as folder:
                results[name].append(method(Path(folder)))
            print(f"round {round_number + 1}: {name}: {results[name][-1]}", file=sys.stderr)
    return results


def table(results: dict[str, list[dict[str, float]]], markdown: bool) -> str:
    base = {key: statistics.median(r[key] for r in results["freight --ray"]) for key in ("up", "total")}
    rows = [("method", "runs", "cluster up (s, median)", "ratio to freight", "submit → done (s, median)", "ratio")]
    for name, runs in results.items():
        up = statistics.median(r["up"] for r in runs)
        total = statistics.median(r["total"] for r in runs)
        rows.append((name, str(len(runs)), f"{up:.1f}", f"{up / base['up']:.2f}", f"{total:.1f}",
                     f"{total / base['total']:.2f}"))
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * len(rows[0]))
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--from-results", action="store_true", help="print the last results again")
    args = parser.parse_args()
    if args.from_results:
        results = json.loads(RESULTS.read_text())
    else:
        if not MULTI_CONF.exists():
            raise SystemExit(f"no two-node Slurm ({MULTI_CONF}): run `bash ci/slurm.sh up` as root")
        results = measure(args.repeat)
        WORK.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1))
    print(table(results, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
