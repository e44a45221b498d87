"""Run as a script (a subprocess: a ClassAd freed too early segfaults the interpreter, see
../shared/infra/htcondor_validate.py): parse a submit description with the official bindings'
own parser, expand its queue statement and build the job ads exactly as condor_submit would,
with no pool. Prints {"items": [...], "ads": [{attribute: str(value)}]} as JSON, or exits 1
with the parser's message."""

import json
import os
import sys
import warnings

os.environ.setdefault("CONDOR_CONFIG", "/dev/null")
KEYS = ("ProcId", "Cmd", "Arguments", "JobUniverse", "WantContainer", "WantDocker", "ContainerImage", "DockerImage", "RequestCpus",
        "RequestMemory", "RequestDisk", "RequestGPUs", "GPUsMinCapability", "GPUsMinMemory", "Requirements",
        "WantGPULab", "GPUJobLength", "FreightRun", "FreightTask", "ShouldTransferFiles", "TransferInput",
        "TransferOutput", "Iwd", "Out", "Err", "UserLog", "SuccessCheckpointExitCode", "TransferCheckpoint",
        "AllowedExecuteDuration", "JobBatchName", "IsBuildJob")


def main(path: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import htcondor
    try:
        sub = htcondor.Submit(open(path, encoding="utf-8").read())
        items = list(sub.itemdata() or [])
        ads = list(sub.jobs(count=1, itemdata=iter(items)) if items else sub.jobs(count=1))
        out = [{key: str(ad[key]) for key in KEYS if key in ad} for ad in ads]  # read while alive
        qargs, commands = sub.getQArgs(), dict(sub)  # cluster-level ones (max_materialize) are not in proc ads
    except Exception as exc:  # the bindings' own errors: unknown universe, bad syntax ...
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"items": items, "ads": out, "qargs": qargs, "submit": commands}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
