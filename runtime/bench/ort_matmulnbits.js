#!/usr/bin/env node
// GEMV speed of onnxruntime's com.microsoft MatMulNBits on a model of L independent MatMulNBits
// nodes that all read one input x [1, K] (the model quant-gemv-vs-onnxruntime.sh writes: L
// layers' worth of distinct weights, run in turn by the sequential executor). A benchmark, not a
// test.
//
//   node ort_matmulnbits.js MODEL.onnx --k K --nodes L [--threads T] [--runs R] [--warmup W]
//
// Session creation (where MatMulNBits prepacks its weights) and W warm-up runs are not timed;
// then R runs, each computing all L nodes. Prints one JSON line: {"seconds_per_gemv": s,
// "runs": R, "nodes": L} with s = the best of 5 rounds of R runs, divided by R * L.
'use strict';

const path = require('path');

function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {threads: 0, runs: 40, warmup: 3};
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) fail(`${flag} needs a non-negative integer`);
      return v;
    };
    switch (flag) {
      case '--k': args.k = value(); break;
      case '--nodes': args.nodes = value(); break;
      case '--threads': args.threads = value(); break;
      case '--runs': args.runs = value(); break;
      case '--warmup': args.warmup = value(); break;
      default:
        if (flag.startsWith('-') || args.model !== undefined) fail(`unexpected argument '${flag}'`);
        args.model = flag;
    }
  }
  for (const key of ['model', 'k', 'nodes']) {
    if (args[key] === undefined) fail(`missing ${key}`);
  }
  if (args.runs < 1) fail('--runs must be positive');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const options = {graphOptimizationLevel: 'all', executionMode: 'sequential'};
  if (args.threads) {
    options.intraOpNumThreads = args.threads;
    options.interOpNumThreads = 1;
  }
  const session = await ort.InferenceSession.create(args.model, options);
  const x = new Float32Array(args.k);
  for (let i = 0; i < args.k; ++i) x[i] = Math.sin(i) * 0.5;
  const feeds = {x: new ort.Tensor('float32', x, [1, args.k])};
  for (let r = 0; r < args.warmup; ++r) await session.run(feeds);
  let best = Infinity;
  for (let round = 0; round < 5; ++round) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < args.runs; ++r) await session.run(feeds);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  process.stdout.write(JSON.stringify({
    seconds_per_gemv: best / (args.runs * args.nodes), runs: args.runs, nodes: args.nodes,
  }) + '\n');
}

main().catch((e) => fail(e.message));
