"""Benchmark: neuron-level extraction of real CNNs at the input size they are used at, streamed to disk.

For ``resnet18`` and ``squeezenet1_0`` (written in ``bench_extraction_models.py``; random weights) at 224x224
(``--quick``: 64x64), each in a fresh subprocess: ``GraphTransform(x, directory=...).extract(model)``, then
``summarize`` and ``collapse`` (one vertex per output channel) read the chunks back. Printed: edges, vertices,
seconds, edges/s over the whole extraction (tracing included) and inside the convolutions alone, peak RSS of
the subprocess (``VmHWM``; and over its summaries, from ``os.wait4``), bytes per edge on disk; the targets are peak
RSS <= 4 GiB and >= 50 M edges/s for convolutions. Side by side, as a ratio: the same extraction with the edges
generated and dropped (what the edge generation alone does), and a bare ``ndarray.tofile`` (the disk's speed).

Run: ``.venv/bin/python benchmarks/bench_extraction_scale.py [--quick] [--dir /tmp]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
import torch
from bench_extraction_models import resnet18, squeezenet1_0
from deepstruct.transform import GraphTransform, collapse, summarize
from deepstruct.transform import neurons

conv = {{"seconds": 0.0, "edges": 0}}
counted = {{"edges": 0}}
if {count_only!r}:  # generation alone: the sink counts and drops every piece
    from deepstruct.transform.storage import EdgeSink
    def drop(self, sources, targets, weights=None):
        counted["edges"] += int(sources.shape[0])
        self._fill += int(sources.shape[0])
    EdgeSink.add = drop
    EdgeSink._flush = lambda self: None
original = neurons._Builder.op_conv
def timed(self, call, inputs, outs):
    before, t0 = self.sink.num_edges, time.perf_counter()
    original(self, call, inputs, outs)
    conv["seconds"] += time.perf_counter() - t0
    conv["edges"] += self.sink.num_edges - before
neurons._Builder.op_conv = timed

with torch.random.fork_rng(devices=[]):
    torch.manual_seed(0)
    model = {{"resnet18": resnet18, "squeezenet1_0": squeezenet1_0}}[{name!r}]()
x = torch.randn(1, 3, {size}, {size}, generator=torch.Generator().manual_seed(0))
t0 = time.perf_counter()
graph = GraphTransform(x, directory=None if {count_only!r} else {out!r}).extract(model)
seconds = time.perf_counter() - t0
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
extract_peak = int(status[0]) * 1024 / 2**30  # this process's peak RSS so far (kB)
if {count_only!r}:
    print(json.dumps({{"edges": counted["edges"], "seconds": seconds, "conv": conv, "extract_peak": extract_peak}}))
    sys.exit(0)
t0 = time.perf_counter()
summary = summarize(graph)
summary_s = time.perf_counter() - t0
t0 = time.perf_counter()
small = collapse(graph)
collapse_s = time.perf_counter() - t0
nxg = small.to_networkx()
print(json.dumps({{"edges": graph.num_edges, "vertices": graph.num_vertices, "chunks": graph.num_chunks,
                  "seconds": seconds, "conv": conv, "extract_peak": extract_peak, "disk": graph.disk_bytes,
                  "summary_s": summary_s,
                  "collapse_s": collapse_s, "collapsed": [nxg.number_of_nodes(), nxg.number_of_edges()],
                  "dtype": str(next(graph.chunks())[0].dtype), "complete": graph.complete,
                  "max_in": len(summary.in_degree_histogram) - 1,
                  "conv1_density": summary.layers[1].density}}))
"""


def run_child(name: str, size: int, out: Path, count_only: bool = False) -> tuple[dict, float]:
    """The child's report and its own peak RSS in GiB (``os.wait4``: the rusage of that one child)."""
    code = CHILD.format(bench=str(Path(__file__).parent), name=name, size=size, out=str(out), count_only=count_only)
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=stdout, stderr=stderr, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} at {size}: {stderr.read()[-2000:]}")
        report = json.loads(stdout.read().strip().splitlines()[-1])
    return report, usage.ru_maxrss * 1024 / 2**30  # ru_maxrss is in KiB on Linux


def disk_speed(directory: Path, nbytes: int = 1 << 30) -> float:
    """Bytes per second of a bare ``tofile`` of ``nbytes`` (written then removed)."""
    data = np.ones(nbytes // 4, dtype=np.int32)
    path = directory / "bare.bin"
    t0 = time.perf_counter()
    data.tofile(path)
    seconds = time.perf_counter() - t0
    path.unlink()
    return nbytes / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64x64 inputs instead of 224x224")
    parser.add_argument("--dir", default=None, help="where to write the graphs (removed afterwards)")
    args = parser.parse_args()
    size = 64 if args.quick else 224
    root = Path(tempfile.mkdtemp(prefix="bench-extraction-", dir=args.dir))
    try:
        print(f"{'model':<15}{'size':>5}{'edges':>15}{'vertices':>11}{'seconds':>9}{'M edges/s':>11}"
              f"{'conv M/s':>10}{'peak GiB':>10}{'B/edge':>8}")
        print("(M edges/s: the whole extraction, tracing included; conv M/s: inside the convolutions; peak GiB: "
              "VmHWM of the subprocess after the extraction)")
        reports = {}
        for name in ("resnet18", "squeezenet1_0"):
            out = root / name
            r, peak = run_child(name, size, out)
            reports[name] = r
            rate = r["edges"] / r["seconds"]
            conv_rate = r["conv"]["edges"] / max(r["conv"]["seconds"], 1e-9)
            print(f"{name:<15}{size:>5}{r['edges']:>15,}{r['vertices']:>11,}{r['seconds']:>9.1f}{rate / 1e6:>11.1f}"
                  f"{conv_rate / 1e6:>10.1f}{r['extract_peak']:>10.2f}{r['disk'] / r['edges']:>8.2f}")
            print(f"  {r['chunks']} chunks of {r['dtype']}; complete={r['complete']}; max in-degree {r['max_in']}; "
                  f"summary {r['summary_s']:.1f} s, collapse to channels {r['collapse_s']:.1f} s -> networkx "
                  f"{r['collapsed'][0]:,} vertices, {r['collapsed'][1]:,} edges (peak RSS over all: {peak:.2f} GiB)")
            shutil.rmtree(out)
        print("\nside by side: the same extraction with edges generated and dropped (no disk), and a bare write")
        speed = disk_speed(root)
        print(f"bare ndarray.tofile of 1 GiB: {speed / 2**20:.0f} MiB/s = {speed / 8 / 1e6:.1f} M edges/s at 8 B/edge")
        for name in ("resnet18", "squeezenet1_0"):
            g, _ = run_child(name, size, root / name, count_only=True)
            r = reports[name]
            conv_disk = r["conv"]["edges"] / r["conv"]["seconds"]
            conv_gen = g["conv"]["edges"] / g["conv"]["seconds"]
            assert g["edges"] == r["edges"], (g["edges"], r["edges"])
            print(f"{name:<15} conv M edges/s: generated {conv_gen / 1e6:6.1f}, streamed to disk "
                  f"{conv_disk / 1e6:6.1f} (ratio {conv_disk / conv_gen:.2f}; disk-bound at {speed / 8 / 1e6:.1f}); "
                  f"peak {g['extract_peak']:.2f} GiB")
        print("targets: peak RSS <= 4 GiB, >= 50 M edges/s for convolutions")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
