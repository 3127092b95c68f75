#!/usr/bin/env bash
# The whole test suite: unit tests, the real binary end to end on the local pool and under
# mpirun. HPO_TEST_SLURM=1 adds the tests against a real Slurm (they install and start one:
# a one-node cluster, then a three-node cluster built from Linux namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
# OpenMPI refuses to run as root without these; tests oversubscribe the cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=1
# setup.sh installed mpirun and python3, and `cargo test` builds the examples: a test that
# finds one of them missing fails instead of skipping.
export HPO_REQUIRE_MPI=1 HPO_REQUIRE_EXAMPLES=1 HPO_REQUIRE_PYTHON=1

cargo test --no-fail-fast

if [ "${HPO_TEST_SLURM:-0}" = 1 ] && [ -x tests/slurm/run.sh ]; then
    tests/slurm/run.sh
    tests/slurm/nodes.sh
fi

if [ "${HPO_TEST_SUITE:-0}" = 1 ]; then
    benches/suite/run --quick
    # The large-pool benchmarks' quick forms: they run, and print their tables.
    cargo bench --bench bo_scale -- --quick
    cargo bench --bench pool_sim -- --quick
fi
