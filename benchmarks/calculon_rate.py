#!/usr/bin/env python3
"""Measure Calculon's layout-search rate (execution configurations evaluated/s): the peer figure
of issue 12's layout-search benchmark (README, Performance). Written with a helper; it runs
Calculon, not costspec (Calculon's code style: two-space indents).

Usage:
  python3 calculon_rate.py CALCULON_CHECKOUT [options]

Needs only a Calculon checkout (github.com/calculon-ai/calculon) and its
Python deps (psutil, numpy; pandas is imported by calculon.llm). Nothing
from costspec is used.

Defaults reproduce the completed search of the report (gpt3-13B, 8 A100s,
max batch 4, --no-tp-overlap --no-dp-overlap: 34,960 configs, ~10 min on
2 cores). The large-case sample of the report:
  python3 calculon_rate.py CHECKOUT --skip search,loop \
      --model models/gpt3-175B.json --num-procs 1024 --max-batch-size 1536 \
      --sample-n 300

Three measurements (each can be skipped):
  1. search : runs Calculon's own CLI `llm-optimal-execution` as a
              subprocess (wall-clock timed), and parses the counts it logs
              ("Total executions", "Good executions", "Bad executions",
              "Calculation rate").
  2. loop   : one fixed execution (the repo's examples/ file) evaluated N
              times in a loop in this process -> evals/s on one core.
  3. sample : N configurations drawn uniformly at random (seeded) from the
              FULL llm-optimal-execution search space of the given
              model/system/num_procs/max_batch_size, evaluated with exactly
              the per-configuration code of OptimalExecution.search
              (Llm(); compile(); run(); get_stats_json()) on one core.
              Gives the single-core rate over a representative good/bad mix
              and an extrapolated wall time for the full exhaustive search.
"""

import argparse
import itertools
import logging
import os
import random
import re
import subprocess
import sys
import time


def parse_args():
  ap = argparse.ArgumentParser()
  ap.add_argument('checkout', help='path to a calculon checkout')
  ap.add_argument('--python', default=sys.executable,
                  help='python with psutil/numpy/pandas for the CLI run')
  ap.add_argument('--model', default='models/gpt3-13B.json')
  ap.add_argument('--system', default='systems/a100_80g.json')
  ap.add_argument('--num-procs', type=int, default=8)
  ap.add_argument('--max-batch-size', type=int, default=4)
  ap.add_argument('--datatype', default='float16',
                  help='a100_80g.json only defines float16 rates')
  ap.add_argument('--cpus', type=int, default=2)
  ap.add_argument('--search-flags', default='--no-tp-overlap --no-dp-overlap',
                  help='extra llm-optimal-execution flags, e.g. "-m" '
                  '(mbs-break) or "" for the fully exhaustive search')
  ap.add_argument('--search-timeout', type=float, default=1800)
  ap.add_argument('--loop-n', type=int, default=300)
  ap.add_argument('--sample-n', type=int, default=1000)
  ap.add_argument('--seed', type=int, default=1)
  ap.add_argument('--commit', default=None,
                  help='commit to report if the checkout is not a git work tree')
  ap.add_argument('--skip', default='',
                  help='comma list of steps to skip: search,loop,sample')
  return ap.parse_args()


def git_commit(path):
  try:
    return subprocess.check_output(['git', '-C', path, 'rev-parse', 'HEAD'],
                                   stderr=subprocess.DEVNULL,
                                   text=True).strip()
  except Exception:
    return 'unknown (not a git work tree)'


def run_search(a):
  import tempfile
  out_json = os.path.join(tempfile.mkdtemp(prefix='calculon-'), 'optimal.json')
  cmd = [a.python, os.path.join(a.checkout, 'bin', 'calculon'),
         'llm-optimal-execution', a.model, str(a.num_procs),
         str(a.max_batch_size), a.datatype, a.system,
         out_json, '-c', str(a.cpus)]
  cmd += a.search_flags.split()
  env = dict(os.environ, PYTHONPATH=a.checkout)
  print('search cmd (cwd=%s): PYTHONPATH=%s %s'
        % (a.checkout, a.checkout, ' '.join(cmd)), flush=True)
  t0 = time.perf_counter()
  p = subprocess.run(cmd, cwd=a.checkout, env=env, capture_output=True,
                     text=True, timeout=a.search_timeout)
  wall = time.perf_counter() - t0
  out = p.stdout + p.stderr
  def grab(pat):
    m = re.search(pat, out)
    return float(m.group(1)) if m else None
  tot = grab(r'Total executions: (\d+)')
  good = grab(r'Good executions: (\d+)')
  bad = grab(r'Bad executions: (\d+)')
  rate = grab(r'Calculation rate: ([\d.]+)')
  best = grab(r'Best sample rate: ([\d.eE+-]+)')
  print('  exit code           :', p.returncode)
  print('  total executions    :', int(tot) if tot else tot)
  print('  good / bad          :', good and int(good), '/', bad and int(bad))
  print('  best sample rate    :', best, 'samples/s')
  print('  wall (incl. startup): %.1f s' % wall)
  if tot:
    print('  configs/s (wall)    : %.1f total, %.1f per core'
          % (tot / wall, tot / wall / a.cpus))
  print('  calculon-reported   :', rate, 'calcs/s (pool time only)')
  return dict(total=tot, good=good, bad=bad, wall=wall, rate=rate)


def setup_calculon(a):
  sys.path.insert(0, a.checkout)
  import calculon  # noqa
  from calculon.llm import Llm
  from calculon import System
  app = Llm.Application(calculon.io.read_json_file(
    os.path.join(a.checkout, a.model)))
  syst = System(calculon.io.read_json_file(os.path.join(a.checkout, a.system)))
  return calculon, Llm, OptimalExecutionRef(), app, syst


class OptimalExecutionRef:
  def __getattr__(self, k):
    from calculon.llm import OptimalExecution
    return getattr(OptimalExecution, k)


def evaluate(Llm, app, syst, exe_json):
  """Identical to the body of OptimalExecution.search."""
  try:
    model = Llm(app, logging.Logger('sub'))
    model.compile(syst, Llm.Execution.from_json(exe_json))
    model.run(syst)
    model.get_stats_json(False)
    return True
  except Llm.Error:
    return False


def run_loop(a):
  calculon, Llm, _, app, syst = setup_calculon(a)
  exe = calculon.io.read_json_file(os.path.join(
    a.checkout, 'examples', '3072_t4_p64_d12_mbs4_full.json'))
  model_file = 'models/megatron-1T.json'   # the example is for megatron-1T
  app1 = Llm.Application(calculon.io.read_json_file(
    os.path.join(a.checkout, model_file)))
  evaluate(Llm, app1, syst, exe)   # warm-up
  t0 = time.perf_counter()
  for _ in range(a.loop_n):
    evaluate(Llm, app1, syst, exe)
  dt = time.perf_counter() - t0
  print('loop: %s + examples/3072_t4_p64_d12_mbs4_full.json + %s, N=%d'
        % (model_file, a.system, a.loop_n))
  print('  %.4f s total, %.2f ms/eval, %.1f evals/s (1 core)'
        % (dt, 1e3 * dt / a.loop_n, a.loop_n / dt))
  return a.loop_n / dt


def enumerate_space(a, Llm, OE, app, syst):
  """Yields every exe_json llm-optimal-execution (no -m) would evaluate,
  in the same order, following OptimalExecution.run_command/search."""
  from calculon.util import pick
  fused_acts = [True]  # default '-f true'
  num_nets = syst.num_networks
  has_mem2 = syst.mem2.capacity > 0
  n = a.num_procs
  for tp in Llm.get_all_tensor_parallelisms(n, app.hidden, app.attn_heads):
    for pp in Llm.get_all_pipeline_parallelisms(n, tp, app.num_blocks):
      dp = Llm.get_data_parallelism(n, tp, pp)
      for ppint in Llm.get_valid_pipeline_interleavings(app.num_blocks, pp):
        bs = OE.get_batch_size(dp, a.max_batch_size)
        if bs is None:
          continue
        for ar in ['full', 'attn_only', 'none']:
          for osh in pick(dp > 1, [True, False], [False]):
            for tpc in ['ar', 'p2p_rs_ag', 'rs_ag']:
              can_redo = Llm.can_redo_ag(tpc, ar)
              for redo in pick(can_redo, [True, False], [False]):
                for dpo in pick(dp > 1, [True, False], [False]):
                  for tpo in pick(tp > 1, ['none', 'ring', 'pipe'], ['none']):
                    for wo in pick(has_mem2, [True, False], [False]):
                      aos = ([False] if ar == 'full' or not has_mem2
                             else [True, False])
                      for ao in aos:
                        for oo in pick(has_mem2, [True, False], [False]):
                          for fa in fused_acts:
                            for mbs in Llm.get_valid_microbatch_sizes(
                                app.seq_size, tp, dp, bs, pp):
                              for tn in pick(tp > 1, range(num_nets), [0]):
                                for pn in pick(pp > 1, range(num_nets), [0]):
                                  for dn in pick(dp > 1, range(num_nets), [0]):
                                    yield {
                                      'num_procs': n, 'tensor_par': tp,
                                      'pipeline_par': pp, 'data_par': dp,
                                      'tensor_par_net': tn,
                                      'pipeline_par_net': pn,
                                      'data_par_net': dn, 'batch_size': bs,
                                      'microbatch_size': mbs,
                                      'datatype': a.datatype,
                                      'fused_activation': fa,
                                      'attention_type': 'multihead',
                                      'activation_recompute': ar,
                                      'pipeline_interleaving': ppint,
                                      'optimizer_sharding': osh,
                                      'tensor_par_comm_type': tpc,
                                      'tensor_par_overlap': tpo,
                                      'seq_par_ag_redo': redo,
                                      'data_par_overlap': dpo,
                                      'weight_offload': wo,
                                      'activations_offload': ao,
                                      'optimizer_offload': oo,
                                      'training': True}


def run_sample(a, cpus):
  calculon, Llm, OE, app, syst = setup_calculon(a)
  t0 = time.perf_counter()
  total = sum(1 for _ in enumerate_space(a, Llm, OE, app, syst))
  rng = random.Random(a.seed)
  idx = set(rng.sample(range(total), min(a.sample_n, total)))
  chosen = [e for i, e in enumerate(enumerate_space(a, Llm, OE, app, syst))
            if i in idx]
  t_enum = time.perf_counter() - t0
  rng.shuffle(chosen)
  t0 = time.perf_counter()
  good = sum(evaluate(Llm, app, syst, e) for e in chosen)
  dt = time.perf_counter() - t0
  r = len(chosen) / dt
  print('sample: %s on %s, num_procs=%d, max_batch_size=%d, %s'
        % (a.model, a.system, a.num_procs, a.max_batch_size, a.datatype))
  print('  full exhaustive space size : %d configs (enumerated in %.1f s)'
        % (total, t_enum))
  print('  sampled & evaluated        : %d (good %d, bad %d) in %.2f s'
        % (len(chosen), good, len(chosen) - good, dt))
  print('  rate                       : %.1f configs/s on 1 core' % r)
  print('  extrapolated full search   : %.0f s on 1 core, ~%.0f s on %d cores'
        % (total / r, total / r / cpus, cpus))
  return r, total


def main():
  a = parse_args()
  a.checkout = os.path.abspath(a.checkout)
  skip = set(s for s in a.skip.split(',') if s)
  print('calculon commit:', a.commit or git_commit(a.checkout))
  print('python:', sys.version.split()[0], ' os.cpu_count():', os.cpu_count())
  if 'search' not in skip:
    run_search(a)
  if 'loop' not in skip:
    run_loop(a)
  if 'sample' not in skip:
    run_sample(a, a.cpus)


if __name__ == '__main__':
  main()
