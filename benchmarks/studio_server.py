"""Every graph in langgraph.json, served by LangGraph's dev server and run from its documented minimal input.

    pip install -e '.[studio]'             # langgraph-cli[inmem]: not a test dependency (it brings ~30 packages)
    python benchmarks/studio_server.py [--port 2124] [--keep DIR]

Starts `langgraph dev` on 127.0.0.1 (offline: nothing leaves the machine), asks it for each graph's input, output
and context JSON Schemas, runs each graph once through the SDK with the input from
`foleydesigner.standalone.example_inputs()` and an empty context (so the run makes its own work folder), and checks
that the run wrote its trace there. Prints one line per graph; exits 1 if any graph failed. The unit tests check the
same schemas and inputs without the server (tests/test_studio.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from foleydesigner.standalone import example_inputs  # noqa: E402


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"langgraph dev exited with {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as r:  # noqa: S310 (localhost)
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"langgraph dev did not answer on {url} within {timeout_s:.0f} s")


async def _run_all(url: str) -> list[dict[str, Any]]:
    from langgraph_sdk import get_client

    client = get_client(url=url)
    rows = []
    for graph_id, inputs in example_inputs().items():
        row: dict[str, Any] = {"graph": graph_id}
        try:
            (assistant,) = await client.assistants.search(graph_id=graph_id, limit=1)
            schemas = await client.assistants.get_schemas(assistant["assistant_id"])
            row["schemas"] = all(schemas.get(k) for k in ("input_schema", "output_schema", "context_schema"))
            t0 = time.perf_counter()
            out = await client.runs.wait(None, graph_id, input=json.loads(json.dumps(inputs)))
            row["run_s"] = round(time.perf_counter() - t0, 2)
            work = Path(out["work_dir"])
            trace = [json.loads(s) for s in (work / "trace.jsonl").read_text().splitlines()]
            row.update(work_dir=str(work), trace_rows=len(trace), nodes=len({t["node"] for t in trace}),
                       files=sorted(p.name for p in work.iterdir() if not p.name.startswith(".")))
            row["ok"] = row["schemas"] and row["trace_rows"] > 0
        except Exception as exc:  # a report, not a crash: the other graphs still run
            row.update(ok=False, error=f"{exc.__class__.__name__}: {exc}"[:300])
        rows.append(row)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=2124)
    ap.add_argument("--keep", type=Path, help="keep the runs' work folders here (default: removed)")
    args = ap.parse_args()
    exe = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which("langgraph")
    if exe is None:
        print("langgraph-cli is not installed: pip install -e '.[studio]'", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{args.port}"
    log = tempfile.NamedTemporaryFile("w+b", prefix="langgraph-dev-", suffix=".log", delete=False)
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(args.port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(url, proc)
        startup = time.perf_counter() - t0
        rows = asyncio.run(_run_all(url))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"langgraph dev ready in {startup:.1f} s (log: {log.name})")
    for r in rows:
        if r["ok"]:
            print(f"{r['graph']:<14} ok  schemas in/out/context  run {r['run_s']:>6.2f} s  trace rows {r['trace_rows']:>3} "
                  f"from {r['nodes']:>2} nodes  files {', '.join(r['files'])}")
        else:
            print(f"{r['graph']:<14} FAILED {r.get('error', r)}")
        work = Path(r.get("work_dir", ""))
        if r.get("work_dir") and args.keep:
            shutil.copytree(work, args.keep / r["graph"], dirs_exist_ok=True)
        if r.get("work_dir"):
            shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
