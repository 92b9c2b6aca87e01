#!/usr/bin/env node
// Runs an ONNX model with onnxruntime-node on .npy inputs and writes its outputs as .npy: the
// reference that the importer tests compare `quant-translate --reference-run` with.
//
//   node ort_run.js MODEL.onnx INPUT_DIR OUTPUT_DIR [MODEL2.onnx INPUT_DIR2 OUTPUT_DIR2 ...]
//
// Feeds every model input from INPUT_DIR/<name>.npy and writes every model output to
// OUTPUT_DIR/<name>.npy (created if needed). The CPU execution provider with all graph
// optimizations disabled and one thread, so that each node runs as the model states it.
// Several triples run in one process (one start of the runtime for many models). .npy
// support: version 1-3 headers, little-endian C order, float32, float16, float64, int64,
// int32, int8, uint8 and bool. Needs NODE_PATH to hold onnxruntime-node.
'use strict';

const fs = require('fs');
const path = require('path');

const USAGE =
    'usage: node ort_run.js MODEL.onnx INPUT_DIR OUTPUT_DIR [MODEL INPUT_DIR OUTPUT_DIR ...]';

function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: error: ${message}\n`);
  process.exit(1);
}

// dtype descr <-> onnxruntime tensor type and typed array.
const DTYPES = {
  '<f4': {type: 'float32', array: Float32Array, bytes: 4},
  '<f2': {type: 'float16', array: Uint16Array, bytes: 2},
  '<f8': {type: 'float64', array: Float64Array, bytes: 8},
  '<i8': {type: 'int64', array: BigInt64Array, bytes: 8},
  '<i4': {type: 'int32', array: Int32Array, bytes: 4},
  '|i1': {type: 'int8', array: Int8Array, bytes: 1},
  '|u1': {type: 'uint8', array: Uint8Array, bytes: 1},
  '|b1': {type: 'bool', array: Uint8Array, bytes: 1},
};
const DESCR_OF_TYPE = Object.fromEntries(Object.entries(DTYPES).map(([d, t]) => [t.type, d]));

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`cannot read '${file}': ${e.message}`);
  }
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    fail(`'${file}' is not a .npy file`);
  }
  const major = buf.readUInt8(6);
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  if (offset + headerLength > buf.length) fail(`'${file}': truncated .npy header`);
  const header = buf.toString('latin1', offset, offset + headerLength);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) fail(`'${file}': cannot parse the .npy header ${header}`);
  if (fortran[1] === 'True') fail(`'${file}': Fortran-ordered arrays are not supported`);
  // numpy writes bool as '|b1' and single bytes as '|u1'/'|i1'; accept '<' spellings too.
  const key = descr[1].replace(/^[<=]([iub]1)$/, '|$1');
  const dtype = DTYPES[key];
  if (!dtype) fail(`'${file}': unsupported dtype '${descr[1]}'`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const start = offset + headerLength;
  if (buf.length - start < count * dtype.bytes) fail(`'${file}' holds fewer values than its shape`);
  // Copy into an aligned buffer of exactly the payload.
  const bytes = new Uint8Array(count * dtype.bytes);
  buf.copy(bytes, 0, start, start + count * dtype.bytes);
  return {type: dtype.type, data: new dtype.array(bytes.buffer), dims};
}

function writeNpy(file, tensor) {
  const descr = DESCR_OF_TYPE[tensor.type];
  if (!descr) fail(`output '${path.basename(file)}' has unsupported type '${tensor.type}'`);
  const dims = tensor.dims;
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const prefix = Buffer.alloc(10);
  prefix.writeUInt8(0x93, 0);
  prefix.write('NUMPY', 1, 'latin1');
  prefix.writeUInt8(1, 6);
  prefix.writeUInt8(0, 7);
  prefix.writeUInt16LE(header.length, 8);
  let data = tensor.data;
  if (tensor.type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, 'latin1'), payload]));
}

async function runOne(ort, model, inputDir, outputDir) {
  if (!fs.existsSync(model)) fail(`model not found: ${model}`);
  let session;
  try {
    session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
  } catch (e) {
    fail(`${model}: cannot create a session: ${e.message}`);
  }
  const feeds = {};
  for (const name of session.inputNames) {
    const t = readNpy(path.join(inputDir, `${name}.npy`));
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    fail(`${model}: run failed: ${e.message}`);
  }
  fs.mkdirSync(outputDir, {recursive: true});
  for (const name of session.outputNames) {
    writeNpy(path.join(outputDir, `${name}.npy`), results[name]);
  }
  await session.release();
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.length % 3 !== 0) {
    process.stderr.write(USAGE + '\n');
    process.exit(2);
  }
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail('cannot load onnxruntime-node (set NODE_PATH to its node_modules): ' + e.message);
  }
  for (let i = 0; i < args.length; i += 3) {
    await runOne(ort, args[i], args[i + 1], args[i + 2]);
  }
}

main().catch((e) => fail(e.message));
