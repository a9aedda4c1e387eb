#!/usr/bin/env bash
# Run an evolution on a Ray cluster with `ray job submit`.
#
# Set-up (README, "A multi-node Ray cluster"): `pip install "deepstruct[cluster]"` (Ray's job CLI and dashboard
# need ray[default]) on the machine that submits and on the head node; deepstruct and torch on every node.
# Ray >= 2.60 clusters use token authentication: this shell needs the cluster's token (~/.ray/auth_token, or
# RAY_AUTH_TOKEN), or RAY_AUTH_MODE=disabled on every process of a trusted, closed network.
#
# Inside a Ray job RAY_ADDRESS is set, so `deepstruct evolve` joins the cluster instead of starting a local
# instance (--address does the same by hand).
#
# A local try-out: ray start --head --num-cpus 4 ; examples/ray_job_submit.sh ; ray stop
set -euo pipefail
RAY_DASHBOARD=${RAY_DASHBOARD:-http://127.0.0.1:8265}

if ! python -c "import aiohttp, aiohttp_cors" 2>/dev/null; then
    echo "ray_job_submit.sh: Ray's job CLI needs ray[default]: pip install \"deepstruct[cluster]\"" >&2
    exit 1
fi

ray job submit --address "$RAY_DASHBOARD" --working-dir . -- \
    deepstruct evolve --config examples/evolve_nsga2.toml --generations "${GENERATIONS:-20}" \
    --population "${POPULATION:-32}" --out "runs/cluster-$(date +%Y%m%d-%H%M%S)" --no-progress

# Without a job: join a running cluster from this machine
#   deepstruct evolve --config examples/evolve_nsga2.toml --address auto
