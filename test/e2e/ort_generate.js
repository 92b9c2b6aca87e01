#!/usr/bin/env node
// Greedy decoding of a Llama 2 ONNX export (python/llama2c_to_onnx.py, or any graph with the
// same interface: input_ids, attention_mask, position_ids, past_key_values.{i}.key/value ->
// logits, present.{i}.key/value) with onnxruntime-node.
//
//   node test/e2e/ort_generate.js MODEL.onnx --layers L --kv-heads KV --head-dim HD
//        --generate N [--prompt-ids 1,2,3] [--dtype fp32|fp16] [--prefill-logits FILE]
//        [--all-logits FILE] [--no-optimizations]
//
// Prefills the prompt (position_ids 0..P-1, attention_mask all ones), then feeds one token at
// a time with the previous present.* as past_key_values.*; picks the argmax of the last
// position's logits (the lowest id on ties). Prints exactly N generated ids (the prompt
// excluded, EOS not special), comma-separated, on one line. Only the inputs the model declares
// are fed (graphs with GroupQueryAttention have no position_ids); a declared bool
// `use_cache_branch` (optimum's merged decoders) is fed as past length > 0, shape [1] ([] where
// the model declares a scalar); the first step's past_key_values.* are zero-length either way.
// A model without past_key_values inputs runs the whole sequence at every step.
// Needs NODE_PATH to hold onnxruntime-node. --prefill-logits FILE also writes the prefill's
// last-position logits as raw little-endian float32 (read them with numpy.fromfile(FILE,
// '<f4')); --all-logits FILE those of every prompt position, float32 [prompt tokens, vocab].
// --no-optimizations disables ONNX Runtime's graph optimizations (each node runs as stated).
'use strict';

const fs = require('fs');
const path = require('path');

const USAGE =
    'usage: node ort_generate.js MODEL.onnx --layers L --kv-heads KV --head-dim HD ' +
    '--generate N [--prompt-ids 1,2,3] [--dtype fp32|fp16] [--prefill-logits FILE] ' +
    '[--all-logits FILE] [--no-optimizations]';

function fail(message, showUsage = true) {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${message}\n` +
                       (showUsage ? USAGE + '\n' : ''));
  process.exit(2);
}

function parseArgs(argv) {
  const args = {promptIds: [1], dtype: 'fp32'};
  const positive = (flag, value) => {
    if (!/^\d+$/.test(value || '') || Number(value) <= 0) {
      fail(`${flag} needs a positive integer, got '${value}'`);
    }
    return Number(value);
  };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
      case '--layers': args.layers = positive(flag, value()); break;
      case '--kv-heads': args.kvHeads = positive(flag, value()); break;
      case '--head-dim': args.headDim = positive(flag, value()); break;
      case '--generate': args.generate = positive(flag, value()); break;
      case '--prompt-ids': {
        const text = value();
        if (!/^\d+(,\d+)*$/.test(text)) fail(`--prompt-ids needs ids like 1,2,3, got '${text}'`);
        args.promptIds = text.split(',').map(Number);
        break;
      }
      case '--prefill-logits': args.prefillLogits = value(); break;
      case '--no-optimizations': args.noOptimizations = true; break;
      case '--all-logits': args.allLogits = value(); break;
      case '--dtype': {
        args.dtype = value();
        if (args.dtype !== 'fp32' && args.dtype !== 'fp16') fail(`unknown --dtype '${args.dtype}'`);
        break;
      }
      default:
        if (flag.startsWith('-')) fail(`unknown option '${flag}'`);
        if (args.model !== undefined) fail(`unexpected argument '${flag}'`);
        args.model = flag;
    }
  }
  if (args.model === undefined) fail('no model given');
  for (const [key, flag] of [['layers', '--layers'], ['kvHeads', '--kv-heads'],
                             ['headDim', '--head-dim'], ['generate', '--generate']]) {
    if (args[key] === undefined) fail(`${flag} is required`);
  }
  if (!fs.existsSync(args.model)) fail(`model not found: ${args.model}`);
  return args;
}

// IEEE 754 binary16 bits -> number.
function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function lastPositionLogits(logits, fp16) {
  const [, seq, vocab] = logits.dims;
  const row = logits.data.subarray((seq - 1) * vocab, seq * vocab);
  return fp16 ? Float32Array.from(row, halfToFloat) : row;
}

function argmax(values) {
  let best = 0;
  for (let v = 1; v < values.length; ++v) {
    if (values[v] > values[best]) best = v;
  }
  return best;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail('cannot load onnxruntime-node (set NODE_PATH to its node_modules): ' + e.message,
         false);
  }
  // --no-optimizations runs each node as the model states it (ONNX Runtime's
  // graph optimizer turns QDQ weight MatMuls into integer kernels).
  const session = await ort.InferenceSession.create(
      args.model, args.noOptimizations ? {graphOptimizationLevel: 'disabled'} : {});
  const declared = new Set(session.inputNames);
  const useCacheMeta = (session.inputMetadata || []).find((m) => m.name === 'use_cache_branch');
  const useCacheDims = useCacheMeta && useCacheMeta.isTensor && useCacheMeta.shape.length === 0
      ? [] : [1];
  const fp16 = args.dtype === 'fp16';
  const floatType = fp16 ? 'float16' : 'float32';
  const emptyData = () => (fp16 ? new Uint16Array(0) : new Float32Array(0));

  const past = {};
  for (let i = 0; i < args.layers; ++i) {
    for (const part of ['key', 'value']) {
      past[`past_key_values.${i}.${part}`] =
          new ort.Tensor(floatType, emptyData(), [1, args.kvHeads, 0, args.headDim]);
    }
  }

  // A model without past inputs (the plain `input_ids, attention_mask ->
  // logits` export) has no cache: each step runs the whole sequence.
  const cached = declared.has('past_key_values.0.key');
  const generated = [];
  let tokens = args.promptIds;
  let position = 0;
  while (generated.length < args.generate) {
    const total = position + tokens.length;
    const candidates = Object.assign({}, past, {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor(
          'int64', BigInt64Array.from(tokens, (_, j) => BigInt(position + j)),
          [1, tokens.length]),
      use_cache_branch: new ort.Tensor('bool', Uint8Array.of(position > 0 ? 1 : 0), useCacheDims),
    });
    const feeds = {};
    for (const name of Object.keys(candidates)) {
      if (declared.has(name)) feeds[name] = candidates[name];
    }
    const results = await session.run(feeds);
    for (let i = 0; cached && i < args.layers; ++i) {
      for (const part of ['key', 'value']) {
        past[`past_key_values.${i}.${part}`] = results[`present.${i}.${part}`];
      }
    }
    if (position === 0 && generated.length === 0 && args.allLogits !== undefined) {
      const data = results.logits.data;
      const all = fp16 ? Float32Array.from(data, halfToFloat) : Float32Array.from(data);
      fs.writeFileSync(args.allLogits, Buffer.from(all.buffer, all.byteOffset, all.byteLength));
    }
    const logits = lastPositionLogits(results.logits, fp16);
    if (position === 0 && generated.length === 0 && args.prefillLogits !== undefined) {
      fs.writeFileSync(args.prefillLogits,
                       Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
    }
    const next = argmax(logits);
    generated.push(next);
    if (cached) {
      position = total;
      tokens = [next];
    } else {
      tokens = tokens.concat([next]);
    }
  }
  process.stdout.write(generated.join(',') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${e.message}\n`);
  process.exit(1);
});
