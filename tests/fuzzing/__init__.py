"""Seeded corpora of hostile files, shared by the fuzz tests and the offline fuzz benchmarks.

Everything is a pure function of the seed (a ``numpy.random.Generator`` made from it). The tests import this
package as ``tests.fuzzing``; the benchmarks put the repository root on ``sys.path`` and do the same.
"""

from tests.fuzzing.byte_mutations import BYTE_MUTATIONS, mutate_bytes
from tests.fuzzing.genome_files import FuzzCase, Outcome, genome_corpus, load_case, seed_files, seed_genomes
from tests.fuzzing.genome_graphml import GRAPHML_MUTATIONS
from tests.fuzzing.genome_json import JSON_MUTATIONS

__all__ = ["BYTE_MUTATIONS", "JSON_MUTATIONS", "GRAPHML_MUTATIONS", "FuzzCase", "Outcome", "seed_genomes",
           "seed_files", "genome_corpus", "load_case", "mutate_bytes"]
