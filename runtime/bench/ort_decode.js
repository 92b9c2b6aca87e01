#!/usr/bin/env node
// Decode speed of onnxruntime on a Llama 2 ONNX export with a KV cache (the interface of
// python/llama2c_to_onnx.py): greedy decoding from BOS, one token per run() after a one-token
// prefill, as quant-run does. A benchmark, not a test.
//
//   node ort_decode.js MODEL.onnx --layers L --kv-heads KV --head-dim HD --tokens N
//        [--threads T] [--runs R]
//
// Prints one JSON line per run: {"generated": N, "decode_seconds": s,
// "decode_tokens_per_second": x, "ids": "..."}; decode time covers the N-1 runs after the first
// token (the prefill), including feeding inputs and reading the logits, as quant-run's figure.
'use strict';

const path = require('path');

function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = {threads: 0, runs: 1};
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) fail(`${flag} needs a non-negative integer`);
      return v;
    };
    switch (flag) {
      case '--layers': args.layers = value(); break;
      case '--kv-heads': args.kvHeads = value(); break;
      case '--head-dim': args.headDim = value(); break;
      case '--tokens': args.tokens = value(); break;
      case '--threads': args.threads = value(); break;
      case '--runs': args.runs = value(); break;
      default:
        if (flag.startsWith('-') || args.model !== undefined) fail(`unexpected argument '${flag}'`);
        args.model = flag;
    }
  }
  for (const key of ['model', 'layers', 'kvHeads', 'headDim', 'tokens']) {
    if (args[key] === undefined) fail(`missing ${key}`);
  }
  return args;
}

async function decode(ort, session, args) {
  const past = {};
  for (let i = 0; i < args.layers; ++i) {
    for (const part of ['key', 'value']) {
      past[`past_key_values.${i}.${part}`] =
          new ort.Tensor('float32', new Float32Array(0), [1, args.kvHeads, 0, args.headDim]);
    }
  }
  const ids = [];
  let token = 1;
  let started = 0;
  for (let position = 0; ids.length < args.tokens; ++position) {
    if (position === 1) started = process.hrtime.bigint();
    const results = await session.run(Object.assign({}, past, {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1, 1]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(position + 1).fill(1n),
                                     [1, position + 1]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(position)]), [1, 1]),
    }));
    for (let i = 0; i < args.layers; ++i) {
      for (const part of ['key', 'value']) {
        past[`past_key_values.${i}.${part}`] = results[`present.${i}.${part}`];
      }
    }
    const logits = results.logits.data;
    let best = 0;
    for (let v = 1; v < logits.length; ++v) {
      if (logits[v] > logits[best]) best = v;
    }
    ids.push(best);
    token = best;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {generated: ids.length, decode_seconds: seconds,
          decode_tokens_per_second: (ids.length - 1) / seconds, ids: ids.join(' ')};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const options = args.threads ? {intraOpNumThreads: args.threads, interOpNumThreads: 1} : {};
  const session = await ort.InferenceSession.create(args.model, options);
  for (let r = 0; r < args.runs; ++r) {
    process.stdout.write(JSON.stringify(await decode(ort, session, args)) + '\n');
  }
}

main().catch((e) => fail(e.message));
