import subprocess
import sys


def test_genomes_operators_and_the_batch_plan_do_not_import_torch_or_ray():
    code = ("import sys, deepstruct.genomes, deepstruct.operators, deepstruct.batch_plan, deepstruct.evo.batching; "
            "bad = [m for m in ('torch', 'ray') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
