#!/usr/bin/env bash
# Run an evolution on a Ray cluster with `ray job submit`.
#
# On the cluster every node needs deepstruct installed (pip install -e . or a wheel), or pass it with
# --runtime-env-json '{"working_dir": ".", "pip": ["deepstruct"]}'. Inside a Ray job, RAY_ADDRESS is set, so
# `deepstruct evolve` joins the cluster instead of starting a local instance (--address does the same by hand).
set -euo pipefail
RAY_DASHBOARD=${RAY_DASHBOARD:-http://127.0.0.1:8265}

# A local try-out "cluster": ray start --head --num-cpus 4 ; then run this script ; then ray stop
ray job submit --address "$RAY_DASHBOARD" --working-dir . -- \
    deepstruct evolve --config examples/evolve_nsga2.toml --generations 20 --population 32 \
    --out "runs/cluster-$(date +%Y%m%d-%H%M%S)" --no-progress

# Without a job: join a running cluster from this machine
#   deepstruct evolve --config examples/evolve_nsga2.toml --address auto
