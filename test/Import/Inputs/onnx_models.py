#!/usr/bin/python3
"""Small ONNX models for the importer tests, built with onnx.helper at test time.

  onnx_models.py NAME OUTDIR
      writes OUTDIR/model.onnx and deterministic sample inputs OUTDIR/inputs/<input>.npy
      (numpy, seeded from NAME), plus any side files the case needs (external data) and, for
      some cases, independent numpy results OUTDIR/expected/<output>.npy.
  onnx_models.py --each OUTROOT NAME [NAME ...]
      the same for several cases in one process: OUTROOT/<NAME>/model.onnx, ...
  onnx_models.py --list
      prints every case name.

Every ONNX op the importer converts has a case (often several: attribute variants, dynamic
dimensions given as dim_param), so do the ONNX Runtime contrib ops of GenAI exports, and the
error cases of errors.test; repro_* cases reproduce known wrong results that no test runs.
Models use opset 17 and IR version 8 (what onnx 1.12 writes) unless a case needs a later opset
(18: ReduceMean/ReduceMax axes as an input, Split num_outputs).
"""

import os
import sys
import zlib

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F32, F16, F64 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE
I64, I32, U8, BOOL = TensorProto.INT64, TensorProto.INT32, TensorProto.UINT8, TensorProto.BOOL
I8 = TensorProto.INT8
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
NP_TYPES = {F32: np.float32, F16: np.float16, F64: np.float64, I64: np.int64, I32: np.int32,
            U8: np.uint8, BOOL: np.bool_, I8: np.int8}

# Concrete sizes of the symbolic dimensions in the sample inputs.
DIM_VALUES = {"batch": 2, "seq": 3, "past": 4, "total": 7, "n": 5, "kv_seq": 1}


class Model:
    """Collects one graph: inputs (with sample data), initializers, nodes, outputs."""

    def __init__(self, name):
        self.name = name
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.inputs, self.outputs, self.nodes, self.initializers = [], [], [], []
        self.feeds = {}
        self.opset = 17
        self.ms_opset = False
        self.side_files = {}  # relative path -> bytes
        self.expected = {}  # output name -> independent numpy result
        self.post = None  # a function(ModelProto) for deliberate damage

    def concrete(self, shape):
        return [DIM_VALUES[d] if isinstance(d, str) else d for d in shape]

    def input(self, name, elem, shape, data=None, low=-1.0, high=1.0):
        """A graph input; `data` (or random values in [low, high)) is its sample."""
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        if data is None:
            dims = self.concrete(shape)
            if elem in (F32, F16, F64):
                data = self.rng.uniform(low, high, dims)
            elif elem == BOOL:
                data = self.rng.integers(0, 2, dims) != 0
            else:
                data = self.rng.integers(int(low), int(high) + 1, dims)
        self.feeds[name] = np.asarray(data, dtype=NP_TYPES[elem])
        return name

    def init(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def random(self, shape, dtype=np.float32, low=-1.0, high=1.0):
        return self.rng.uniform(low, high, shape).astype(dtype)

    def node(self, op, inputs, outputs, name=None, domain="", **attrs):
        if domain == "com.microsoft":
            self.ms_opset = True
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name or outputs[0] + "_node",
                                           domain=domain, **attrs))
        return outputs[0]

    def const(self, name, array):
        """A Constant node with a tensor `value`."""
        return self.node("Constant", [], [name],
                         value=numpy_helper.from_array(np.asarray(array), name + "_value"))

    def output(self, name, elem, shape):
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def expect(self, name, array):
        """An independent numpy result for output `name` (written to expected/), for cases that
        ONNX Runtime gets wrong or that need no runtime."""
        self.expected[name] = np.asarray(array)

    def build(self):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        if self.ms_opset:
            opsets.append(helper.make_opsetid("com.microsoft", 1))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="onnx_models.py",
                                  producer_version="1")
        model.ir_version = 8
        if self.post:
            self.post(model)
        return model


CASES = {}


def case(name):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return register


#===-------------------------------------------------------------------------------------===#
# Elementwise
#===-------------------------------------------------------------------------------------===#

@case("add")
def _(m):
    # NumPy broadcasting of a dynamic [batch, 3, 4] with a [4].
    m.input("x", F32, ["batch", 3, 4])
    m.input("y", F32, [4])
    m.node("Add", ["x", "y"], ["z"], name="add_node")
    m.output("z", F32, ["batch", 3, 4])


@case("sub")
def _(m):
    m.input("x", F32, [2, 3])
    m.input("y", F32, [2, 1])
    m.node("Sub", ["x", "y"], ["z"])
    m.output("z", F32, [2, 3])


@case("mul_scalar")
def _(m):
    # A scalar float initializer becomes an inline qllm.constant.
    m.input("x", F32, ["batch", 4])
    m.init("half", np.array(0.5, np.float32))
    m.node("Mul", ["x", "half"], ["z"])
    m.output("z", F32, ["batch", 4])


@case("div")
def _(m):
    m.input("x", F32, [3, 4])
    m.input("y", F32, [3, 4], low=0.5, high=2.0)
    m.node("Div", ["x", "y"], ["z"])
    m.output("z", F32, [3, 4])


@case("div_int")
def _(m):
    # Integer division truncates toward zero (-7 / 2 = -3), as in C.
    m.input("x", I64, [6], data=[-7, 7, -8, 9, 0, -1])
    m.input("y", I64, [6], data=[2, -2, 3, 4, 5, 2])
    m.node("Div", ["x", "y"], ["z"])
    m.output("z", I64, [6])


@case("pow")
def _(m):
    # A float exponent, and an int64 one that the importer casts to the base's type.
    m.input("x", F32, ["batch", 4], low=0.5, high=2.0)
    m.input("y", F32, [4], low=-2.0, high=2.0)
    m.const("two", np.array(2, np.int64))
    m.node("Pow", ["x", "y"], ["z"])
    m.node("Pow", ["x", "two"], ["squared"])
    m.output("z", F32, ["batch", 4])
    m.output("squared", F32, ["batch", 4])


@case("max_min")
def _(m):
    m.input("x", F32, [2, 3])
    m.input("y", F32, [3])
    m.node("Max", ["x", "y"], ["maximum"])
    m.node("Min", ["x", "y"], ["minimum"])
    m.output("maximum", F32, [2, 3])
    m.output("minimum", F32, [2, 3])


UNARY = ["Neg", "Sqrt", "Reciprocal", "Exp", "Log", "Cos", "Sin", "Sigmoid", "Tanh"]


@case("unary")
def _(m):
    # Positive inputs, so that Sqrt and Log are defined.
    m.input("x", F32, ["batch", 5], low=0.25, high=3.0)
    for op in UNARY:
        m.node(op, ["x"], [op.lower()])
        m.output(op.lower(), F32, ["batch", 5])


@case("unary_f16")
def _(m):
    m.input("x", F16, [2, 5], low=0.25, high=3.0)
    for op in ["Sqrt", "Exp", "Sigmoid", "Tanh"]:
        m.node(op, ["x"], [op.lower()])
        m.output(op.lower(), F16, [2, 5])


COMPARE = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]


@case("compare")
def _(m):
    # Small integers as floats, so that ties occur.
    m.input("x", F32, ["batch", 4], data=[[-1, 0, 1, 2], [2, 1, 0, -1]])
    m.input("y", F32, [4], data=[0, 0, 1, 1])
    for op in COMPARE:
        m.node(op, ["x", "y"], [op.lower()])
        m.output(op.lower(), BOOL, ["batch", 4])


@case("compare_int")
def _(m):
    m.input("x", I64, [5], data=[-3, 0, 4, 7, 7])
    m.input("y", I64, [], data=4)
    m.node("Less", ["x", "y"], ["less"])
    m.node("Equal", ["x", "y"], ["equal"])
    m.output("less", BOOL, [5])
    m.output("equal", BOOL, [5])


@case("logical")
def _(m):
    # And, Or, Xor, Not with broadcasting (torch's 4.38-era mask merges
    # padding with `eq(0) * eq(0)`, exported as And).
    m.input("a", BOOL, ["batch", 4], data=[[True, True, False, False], [True, False, True, False]])
    m.input("b", BOOL, [4], data=[True, False, True, False])
    for op in ("And", "Or", "Xor"):
        m.node(op, ["a", "b"], [op.lower()])
        m.output(op.lower(), BOOL, ["batch", 4])
    m.node("Not", ["a"], ["not"])
    m.output("not", BOOL, ["batch", 4])


@case("scatter_nd")
def _(m):
    # Rows replaced ([2, 1] index tuples into [4, 3]), and single elements
    # replaced ([2, 2, 3] tuples into [3, 4, 5]: slices of rank 0).
    m.input("data", F32, [4, 3])
    m.init("rows", np.array([[2], [0]], np.int64))
    m.input("new_rows", F32, [2, 3])
    m.node("ScatterND", ["data", "rows", "new_rows"], ["by_rows"])
    m.output("by_rows", F32, [4, 3])
    m.input("cube", F32, [3, 4, 5])
    m.init("points", np.array([[[0, 1, 2], [2, 3, 4]], [[1, 0, 0], [0, 0, 4]]], np.int64))
    m.input("values", F32, [2, 2])
    m.node("ScatterND", ["cube", "points", "values"], ["by_points"])
    m.output("by_points", F32, [3, 4, 5])


@case("where")
def _(m):
    m.input("cond", BOOL, ["batch", 1])
    m.input("x", F32, ["batch", 4])
    m.init("fallback", np.array(-100.0, np.float32))
    m.node("Where", ["cond", "x", "fallback"], ["z"])
    m.output("z", F32, ["batch", 4])


@case("cast")
def _(m):
    m.input("x", F32, [6], data=[-2.75, -0.5, 0.0, 0.5, 1.5, 3.99])
    m.input("i", I64, [3], data=[-5, 0, 70000])
    m.input("big", F32, [3], data=[70000.5, -1e6, 65519.0])
    m.node("Cast", ["x"], ["to_i64"], to=I64)
    m.node("Cast", ["x"], ["to_f16"], to=F16)
    m.node("Cast", ["x"], ["to_bool"], to=BOOL)
    m.node("Cast", ["i"], ["i_to_f32"], to=F32)
    m.node("Cast", ["to_bool"], ["bool_to_f32"], to=F32)
    m.node("Cast", ["big"], ["big_to_f16"], to=F16)
    m.output("to_i64", I64, [6])
    m.output("to_f16", F16, [6])
    m.output("to_bool", BOOL, [6])
    m.output("i_to_f32", F32, [3])
    m.output("bool_to_f32", F32, [6])
    m.output("big_to_f16", F16, [3])


@case("identity")
def _(m):
    m.input("x", F32, ["batch", 3])
    m.node("Identity", ["x"], ["y"])
    m.node("Neg", ["y"], ["z"])
    m.output("z", F32, ["batch", 3])


@case("constant")
def _(m):
    # Every value attribute of Constant; the tensor one added to an input.
    m.input("x", F32, [2, 2])
    m.const("c_value", np.array([[1.5, -2.0], [0.25, 4.0]], np.float32))
    m.node("Add", ["x", "c_value"], ["sum"])
    m.node("Constant", [], ["c_float"], value_float=2.5)
    m.node("Constant", [], ["c_int"], value_int=-7)
    m.node("Constant", [], ["c_ints"], value_ints=[3, -1, 4])
    m.node("Constant", [], ["c_floats"], value_floats=[0.5, -1.25])
    m.const("c_f16", np.array([1.0, 0.333, 65504.0], np.float16))
    m.output("sum", F32, [2, 2])
    m.output("c_float", F32, [])
    m.output("c_int", I64, [])
    m.output("c_ints", I64, [3])
    m.output("c_floats", F32, [2])
    m.output("c_f16", F16, [3])


@case("integer_ops")
def _(m):
    # Integer Neg, reductions and narrowing casts (int64 -> uint8 wraps).
    m.input("x", I64, [5], data=[-3, 0, 4, 7, -7])
    m.node("Neg", ["x"], ["neg"])
    m.node("ReduceMax", ["x"], ["max"], axes=[0], keepdims=0)
    m.init("axes", np.array([0], np.int64))
    m.node("ReduceSum", ["x", "axes"], ["sum"], keepdims=0)
    m.node("Cast", ["x"], ["to_i32"], to=I32)
    m.node("Cast", ["x"], ["to_u8"], to=U8)
    m.output("neg", I64, [5])
    m.output("max", I64, [])
    m.output("sum", I64, [])
    m.output("to_i32", I32, [5])
    m.output("to_u8", U8, [5])


#===-------------------------------------------------------------------------------------===#
# MatMul and Gemm
#===-------------------------------------------------------------------------------------===#

@case("matmul")
def _(m):
    # A linear layer: a dynamic [batch, seq, 8] times an [8, 5] weight initializer.
    m.input("x", F32, ["batch", "seq", 8])
    m.init("w", m.random([8, 5]))
    m.node("MatMul", ["x", "w"], ["y"])
    m.output("y", F32, ["batch", "seq", 5])


@case("matmul_batched")
def _(m):
    # Batch dimensions broadcast: [2, 1, 3, 4] x [3, 4, 5] -> [2, 3, 3, 5].
    m.input("a", F32, [2, 1, 3, 4])
    m.input("b", F32, [3, 4, 5])
    m.node("MatMul", ["a", "b"], ["y"])
    m.output("y", F32, [2, 3, 3, 5])


@case("matmul_vector")
def _(m):
    # 1-D operands: a unit dimension is added, then removed.
    m.input("v", F32, [4])
    m.input("b", F32, [2, 4, 5])
    m.input("a", F32, ["batch", 3, 4])
    m.input("u", F32, [4])
    m.node("MatMul", ["v", "b"], ["vb"])
    m.node("MatMul", ["a", "u"], ["au"])
    m.node("MatMul", ["v", "u"], ["vu"])
    m.output("vb", F32, [2, 5])
    m.output("au", F32, ["batch", 3])
    m.output("vu", F32, [])


@case("matmul_f16")
def _(m):
    m.input("a", F16, ["seq", 16])
    m.init("w", m.random([16, 8], np.float16))
    m.node("MatMul", ["a", "w"], ["y"])
    m.output("y", F16, ["seq", 8])


@case("gemm")
def _(m):
    m.input("a", F32, [3, 4])
    m.input("b", F32, [4, 5])
    m.input("c", F32, [5])
    m.node("Gemm", ["a", "b", "c"], ["y"])
    m.output("y", F32, [3, 5])


@case("gemm_trans")
def _(m):
    # transA, transB, alpha and beta; C broadcast from [3, 1].
    m.input("a", F32, [4, 3])
    m.input("b", F32, [5, 4])
    m.input("c", F32, [3, 1])
    m.node("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)
    m.output("y", F32, [3, 5])


@case("gemm_no_c")
def _(m):
    m.input("a", F32, [3, 4])
    m.init("w", m.random([5, 4]))
    m.node("Gemm", ["a", "w"], ["y"], transB=1, alpha=3.0)
    m.output("y", F32, [3, 5])


@case("gemm_f16")
def _(m):
    # fp16, a scalar C, alpha and beta.
    m.input("a", F16, [3, 4])
    m.input("b", F16, [4, 2])
    m.input("c", F16, [])
    m.node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=0.25)
    m.output("y", F16, [3, 2])


#===-------------------------------------------------------------------------------------===#
# Gather, reductions, softmax
#===-------------------------------------------------------------------------------------===#

@case("gather")
def _(m):
    # An embedding lookup: ids [batch, seq] into a [10, 4] table.
    m.input("ids", I64, ["batch", "seq"], low=0, high=9)
    m.init("table", m.random([10, 4]))
    m.node("Gather", ["table", "ids"], ["y"])
    m.output("y", F32, ["batch", "seq", 4])


@case("gather_axis")
def _(m):
    # Negative axis and negative indices; a scalar index drops the axis.
    m.input("x", F32, ["batch", 5, 6])
    m.const("idx", np.array([-1, 0, 2], np.int64))
    m.const("scalar", np.array(-2, np.int64))
    m.node("Gather", ["x", "idx"], ["picked"], axis=-1)
    m.node("Gather", ["x", "scalar"], ["row"], axis=1)
    m.output("picked", F32, ["batch", 5, 3])
    m.output("row", F32, ["batch", 6])


@case("gather_2d")
def _(m):
    # 2-D indices on axis 1: [3, 4, 2] -> [3, 2, 2, 2].
    m.input("x", F32, [3, 4, 2])
    m.init("idx", np.array([[0, 3], [-1, 1]], np.int64))
    m.node("Gather", ["x", "idx"], ["y"], axis=1)
    m.output("y", F32, [3, 2, 2, 2])


@case("reduce_attr")
def _(m):
    # Opset 17: ReduceMean and ReduceMax take axes as an attribute.
    m.input("x", F32, ["batch", 3, 4])
    m.node("ReduceMean", ["x"], ["mean"], axes=[-1], keepdims=1)
    m.node("ReduceMax", ["x"], ["max"], axes=[1], keepdims=0)
    m.node("ReduceMean", ["x"], ["mean_all"], keepdims=0)
    m.output("mean", F32, ["batch", 3, 1])
    m.output("max", F32, ["batch", 4])
    m.output("mean_all", F32, [])


@case("reduce_input")
def _(m):
    # Opset 18: axes as a constant input for all three.
    m.opset = 18
    m.input("x", F32, [2, "seq", 4])
    m.const("last", np.array([-1], np.int64))
    m.const("outer", np.array([0, 2], np.int64))
    m.node("ReduceMean", ["x", "last"], ["mean"], keepdims=0)
    m.node("ReduceMax", ["x", "last"], ["max"], keepdims=1)
    m.node("ReduceSum", ["x", "outer"], ["sum"], keepdims=0)
    m.output("mean", F32, [2, "seq"])
    m.output("max", F32, [2, "seq", 1])
    m.output("sum", F32, ["seq"])


@case("reduce_sum")
def _(m):
    # ReduceSum (axes an input since opset 13): no axes reduces everything; with
    # noop_with_empty_axes it is the identity.
    m.input("x", F32, [3, 4])
    m.node("ReduceSum", ["x"], ["all"], keepdims=1)
    m.node("ReduceSum", ["x"], ["noop"], noop_with_empty_axes=1)
    m.output("all", F32, [1, 1])
    m.output("noop", F32, [3, 4])


@case("softmax")
def _(m):
    m.input("x", F32, ["batch", 3, 5], low=-4.0, high=4.0)
    m.node("Softmax", ["x"], ["last"])
    m.node("Softmax", ["x"], ["middle"], axis=-2)
    m.output("last", F32, ["batch", 3, 5])
    m.output("middle", F32, ["batch", 3, 5])


@case("reduce_f16")
def _(m):
    m.opset = 18
    m.input("x", F16, [2, 6], low=-3.0, high=3.0)
    m.node("Softmax", ["x"], ["softmax"])
    m.const("axes", np.array([1], np.int64))
    m.node("ReduceMean", ["x", "axes"], ["mean"])
    m.output("softmax", F16, [2, 6])
    m.output("mean", F16, [2, 1])


#===-------------------------------------------------------------------------------------===#
# Shapes and data movement
#===-------------------------------------------------------------------------------------===#

@case("reshape")
def _(m):
    # 0 copies a dimension, -1 is inferred.
    m.input("x", F32, [2, 3, 4])
    m.init("shape", np.array([0, -1], np.int64))
    m.node("Reshape", ["x", "shape"], ["y"])
    m.output("y", F32, [2, 12])


@case("reshape_dynamic")
def _(m):
    # The target shape comes from a Shape/Gather/Unsqueeze/Concat subgraph of a dynamic
    # input, as exporters write it: [batch, seq, 8] -> [batch, seq, 2, 4].
    m.input("x", F32, ["batch", "seq", 8])
    m.node("Shape", ["x"], ["shape"])
    m.const("zero", np.array(0, np.int64))
    m.const("one", np.array(1, np.int64))
    m.node("Gather", ["shape", "zero"], ["b"], axis=0)
    m.node("Gather", ["shape", "one"], ["s"], axis=0)
    m.const("axes0", np.array([0], np.int64))
    m.node("Unsqueeze", ["b", "axes0"], ["b1"])
    m.node("Unsqueeze", ["s", "axes0"], ["s1"])
    m.const("heads", np.array([2, 4], np.int64))
    m.node("Concat", ["b1", "s1", "heads"], ["target"], axis=0)
    m.node("Reshape", ["x", "target"], ["y"])
    # And back with 0 and -1 on dynamic dimensions.
    m.const("flat", np.array([0, 0, -1], np.int64))
    m.node("Reshape", ["y", "flat"], ["z"])
    m.output("y", F32, ["batch", "seq", 2, 4])
    m.output("z", F32, ["batch", "seq", 8])


@case("reshape_shape_slice")
def _(m):
    # [batch, seq] taken with a Slice of the Shape, as some exporters write it.
    m.input("x", F32, ["batch", "seq", 8])
    m.node("Shape", ["x"], ["shape"])
    m.init("start", np.array([0], np.int64))
    m.init("end", np.array([2], np.int64))
    m.node("Slice", ["shape", "start", "end"], ["leading"])
    m.init("heads", np.array([2, 4], np.int64))
    m.node("Concat", ["leading", "heads"], ["target"], axis=0)
    m.node("Reshape", ["x", "target"], ["y"])
    m.output("y", F32, ["batch", "seq", 2, 4])


@case("reshape_infer")
def _(m):
    # -1 among static entries of a static input: [2, 3, 4] -> [-1, 4] and [2, -1, 2].
    m.input("x", F32, [2, 3, 4])
    m.init("minus_first", np.array([-1, 4], np.int64))
    m.node("Reshape", ["x", "minus_first"], ["y"])
    m.init("minus_middle", np.array([2, -1, 2], np.int64))
    m.node("Reshape", ["x", "minus_middle"], ["z"])
    m.output("y", F32, [6, 4])
    m.output("z", F32, [2, 6, 2])


@case("transpose")
def _(m):
    m.input("x", F32, ["batch", 2, 3, 4])
    m.node("Transpose", ["x"], ["swapped"], perm=[0, 2, 1, 3])
    m.node("Transpose", ["x"], ["reversed"])
    m.output("swapped", F32, ["batch", 3, 2, 4])
    m.output("reversed", F32, [4, 3, 2, "batch"])


@case("unsqueeze_squeeze")
def _(m):
    m.input("x", F32, ["batch", 3])
    m.const("axes", np.array([-1, 0], np.int64))
    m.node("Unsqueeze", ["x", "axes"], ["u"])
    m.const("last", np.array([-1], np.int64))
    m.node("Squeeze", ["u", "last"], ["s"])
    m.input("y", F32, [1, 3, 1])
    m.node("Squeeze", ["y"], ["all"])
    m.output("u", F32, [1, "batch", 3, 1])
    m.output("s", F32, [1, "batch", 3])
    m.output("all", F32, [3])


@case("concat")
def _(m):
    m.input("a", F32, ["batch", 2])
    m.input("b", F32, ["batch", 3])
    m.input("c", F32, [2, 1])
    m.node("Concat", ["a", "b", "c"], ["y"], axis=-1)
    m.output("y", F32, ["batch", 6])


@case("concat_shape")
def _(m):
    # Shape values concatenated with a -1, then used as a target shape.
    m.input("x", F32, ["batch", 4])
    m.node("Shape", ["x"], ["shape"])
    m.init("minus_one", np.array([-1], np.int64))
    m.node("Concat", ["minus_one", "shape"], ["target"], axis=0)
    m.node("Reshape", ["x", "target"], ["y"])
    m.output("target", I64, [3])
    m.output("y", F32, [None, None, 4])


@case("slice")
def _(m):
    # Negative starts, INT64_MAX ends, negative steps, axes and steps omitted.
    m.input("x", F32, [4, 6, 5])
    m.init("tail_starts", np.array([-3], np.int64))
    m.init("tail_ends", np.array([INT64_MAX], np.int64))
    m.init("axis1", np.array([1], np.int64))
    m.node("Slice", ["x", "tail_starts", "tail_ends", "axis1"], ["tail"])
    m.init("rev_starts", np.array([-1, 4], np.int64))
    m.init("rev_ends", np.array([INT64_MIN, 0], np.int64))
    m.init("rev_axes", np.array([2, -2], np.int64))
    m.init("rev_steps", np.array([-1, -2], np.int64))
    m.node("Slice", ["x", "rev_starts", "rev_ends", "rev_axes", "rev_steps"], ["reversed"])
    m.init("lead_starts", np.array([1, 0], np.int64))
    m.init("lead_ends", np.array([3, -2], np.int64))
    m.node("Slice", ["x", "lead_starts", "lead_ends"], ["leading"])
    m.init("step_starts", np.array([0], np.int64))
    m.init("step_ends", np.array([100], np.int64))
    m.init("step_axes", np.array([-1], np.int64))
    m.init("two", np.array([2], np.int64))
    m.node("Slice", ["x", "step_starts", "step_ends", "step_axes", "two"], ["strided"])
    m.output("tail", F32, [4, 3, 5])
    m.output("reversed", F32, [4, 2, 5])
    m.output("leading", F32, [2, 4, 5])
    m.output("strided", F32, [4, 6, 3])


@case("slice_dynamic")
def _(m):
    # Slicing a dynamic dimension leaves it dynamic; a static one is computed.
    m.input("x", F32, ["batch", "seq", 8])
    m.init("starts", np.array([1, 2], np.int64))
    m.init("ends", np.array([INT64_MAX, 6], np.int64))
    m.init("axes", np.array([1, 2], np.int64))
    m.node("Slice", ["x", "starts", "ends", "axes"], ["y"])
    m.output("y", F32, ["batch", None, 4])


@case("slice_runtime_bounds")
def _(m):
    # Bounds computed at run time, as torch writes `table[:n]` with n read
    # from a shape: rows [1, rows of y) of x, and columns [0, 4).
    m.input("x", F32, [6, 5])
    m.input("y", F32, ["n", 2])
    m.init("zero", np.array([0], np.int64))
    m.init("one", np.array([1], np.int64))
    m.init("starts", np.array([1, 0], np.int64))
    m.init("axes", np.array([0, 1], np.int64))
    m.init("four", np.array([4], np.int64))
    m.node("Shape", ["y"], ["y_shape"])
    m.node("Slice", ["y_shape", "zero", "one"], ["n"])  # [rows of y]
    m.node("Concat", ["n", "four"], ["ends"], axis=0)
    m.node("Slice", ["x", "starts", "ends", "axes"], ["head"], name="runtime_slice")
    m.output("head", F32, [None, None])


@case("if_static_condition")
def _(m):
    # torch's exporter guards squeeze(1) of a dimension it could not prove
    # to be 1 by If(Equal(Gather(Shape(x), 1), 1)): known once x is typed.
    m.input("x", F32, ["batch", 1, 3])
    m.init("index", np.array(1, np.int64))
    m.init("unit", np.array(1, np.int64))
    m.init("axis", np.array([1], np.int64))
    m.node("Shape", ["x"], ["shape"])
    m.node("Gather", ["shape", "index"], ["dim"], axis=0)
    m.node("Equal", ["dim", "unit"], ["is_unit"])
    then_branch = helper.make_graph(
        [helper.make_node("Squeeze", ["x", "axis"], ["squeezed"])], "then", [],
        [helper.make_tensor_value_info("squeezed", F32, None)])
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["same"])], "else", [],
        [helper.make_tensor_value_info("same", F32, None)])
    m.node("If", ["is_unit"], ["picked"], name="squeeze_if_unit",
           then_branch=then_branch, else_branch=else_branch)
    m.node("Neg", ["picked"], ["y"])
    m.output("y", F32, ["batch", 3])


@case("expand_where_shape")
def _(m):
    # torch's expand(b, kv, n_rep, s, d): the target shape passes through
    # Where(Equal(shape, -1 * ConstantOfShape(1)), ConstantOfShape(1), shape);
    # the static entries stay known, so the result is [?, 2, 3, ?, 4].
    m.input("x", F32, ["batch", 2, 1, "seq", 4])
    m.init("i0", np.array(0, np.int64))
    m.init("i3", np.array(3, np.int64))
    m.init("mid", np.array([2, 3], np.int64))
    m.init("last", np.array([4], np.int64))
    m.init("axis0", np.array([0], np.int64))
    m.init("minus1", np.array(-1, np.int64))
    m.node("Shape", ["x"], ["shape"])
    m.node("Gather", ["shape", "i0"], ["b"], axis=0)
    m.node("Gather", ["shape", "i3"], ["s"], axis=0)
    m.node("Unsqueeze", ["b", "axis0"], ["b1"])
    m.node("Unsqueeze", ["s", "axis0"], ["s1"])
    m.node("Concat", ["b1", "mid", "s1", "last"], ["target"], axis=0)
    m.node("Shape", ["target"], ["target_shape"])
    m.node("ConstantOfShape", ["target_shape"], ["ones"],
           value=numpy_helper.from_array(np.array([1], np.int64)))
    m.node("Mul", ["ones", "minus1"], ["minus_ones"])
    m.node("Equal", ["target", "minus_ones"], ["is_minus1"])
    m.node("Where", ["is_minus1", "ones", "target"], ["fixed"])
    m.node("Expand", ["x", "fixed"], ["y"])
    m.output("y", F32, ["batch", 2, 3, "seq", 4])


@case("slice_empty")
def _(m):
    # An empty result (start after end), and a negative step from a clamped start.
    m.input("x", F32, [4, 3])
    m.init("starts", np.array([3], np.int64))
    m.init("ends", np.array([1], np.int64))
    m.node("Slice", ["x", "starts", "ends"], ["empty"])
    m.init("back_starts", np.array([10], np.int64))
    m.init("back_ends", np.array([-10], np.int64))
    m.init("axes", np.array([0], np.int64))
    m.init("steps", np.array([-3], np.int64))
    m.node("Slice", ["x", "back_starts", "back_ends", "axes", "steps"], ["back"])
    m.output("empty", F32, [0, 3])
    m.output("back", F32, [2, 3])


@case("split")
def _(m):
    m.input("x", F32, ["batch", 7])
    m.init("sizes", np.array([2, 5], np.int64))
    m.node("Split", ["x", "sizes"], ["left", "right"], axis=1)
    m.input("y", F32, [6, "batch"])
    m.node("Split", ["y"], ["p0", "p1", "p2"], axis=0)
    m.output("left", F32, ["batch", 2])
    m.output("right", F32, ["batch", 5])
    m.output("p0", F32, [2, "batch"])
    m.output("p1", F32, [2, "batch"])
    m.output("p2", F32, [2, "batch"])
    x, y = m.feeds["x"], m.feeds["y"]
    for name, part in [("left", x[:, :2]), ("right", x[:, 2:]), ("p0", y[0:2]), ("p1", y[2:4]),
                       ("p2", y[4:6])]:
        m.expect(name, part)


@case("split_num_outputs")
def _(m):
    # Opset 18: num_outputs with an uneven last chunk, 7 = 3 + 3 + 1.
    m.opset = 18
    m.input("x", F32, [7, 2])
    m.node("Split", ["x"], ["a", "b", "c"], axis=-2, num_outputs=3)
    m.output("a", F32, [3, 2])
    m.output("b", F32, [3, 2])
    m.output("c", F32, [1, 2])
    x = m.feeds["x"]
    m.expect("a", x[0:3])
    m.expect("b", x[3:6])
    m.expect("c", x[6:7])


@case("shape")
def _(m):
    m.input("x", F32, ["batch", 3, 4, 5])
    m.node("Shape", ["x"], ["all"])
    m.node("Shape", ["x"], ["middle"], start=1, end=-1)
    m.node("Shape", ["x"], ["tail"], start=-2)
    m.output("all", I64, [4])
    m.output("middle", I64, [2])
    m.output("tail", I64, [2])


@case("shape_edge")
def _(m):
    # start past the rank (empty), a clamped negative start, the shape of a scalar.
    m.input("x", F32, [2, 3])
    m.node("Shape", ["x"], ["empty"], start=5)
    m.node("Shape", ["x"], ["first"], start=-10, end=1)
    m.input("s", F32, [])
    m.node("Shape", ["s"], ["scalar_shape"])
    m.output("empty", I64, [0])
    m.output("first", I64, [1])
    m.output("scalar_shape", I64, [0])


@case("constant_of_shape")
def _(m):
    m.input("x", F32, ["batch", 3])
    m.node("Shape", ["x"], ["shape"])
    m.node("ConstantOfShape", ["shape"], ["zeros"])
    m.node("ConstantOfShape", ["shape"], ["sevens"],
           value=helper.make_tensor("v", I64, [1], [7]))
    m.init("fixed", np.array([2, 2], np.int64))
    m.node("ConstantOfShape", ["fixed"], ["halves"],
           value=helper.make_tensor("h", F16, [1], [1.5]))
    m.node("ConstantOfShape", ["fixed"], ["trues"],
           value=helper.make_tensor("t", BOOL, [1], [True]))
    m.output("zeros", F32, ["batch", 3])
    m.output("sevens", I64, ["batch", 3])
    m.output("halves", F16, [2, 2])
    m.output("trues", BOOL, [2, 2])


@case("expand")
def _(m):
    m.input("x", F32, [3, 1])
    m.init("shape", np.array([2, 1, 4], np.int64))
    m.node("Expand", ["x", "shape"], ["y"])
    # The target shape of a dynamic tensor.
    m.input("like", F32, ["batch", 3, 4])
    m.node("Shape", ["like"], ["like_shape"])
    m.node("Expand", ["x", "like_shape"], ["z"])
    m.output("y", F32, [2, 3, 4])
    m.output("z", F32, ["batch", 3, 4])


@case("expand_lower_rank")
def _(m):
    # A target shape of lower rank than the input.
    m.input("x", F32, [3, 1])
    m.init("shape", np.array([4], np.int64))
    m.node("Expand", ["x", "shape"], ["y"])
    m.output("y", F32, [3, 4])


@case("tile")
def _(m):
    m.input("x", F32, ["batch", 2])
    m.init("repeats", np.array([2, 3], np.int64))
    m.node("Tile", ["x", "repeats"], ["y"])
    m.output("y", F32, [None, 6])


@case("tile_dynamic_repeats")
def _(m):
    m.input("x", F32, [2, 3])
    m.input("repeats", I64, [2], data=[2, 1])
    m.node("Tile", ["x", "repeats"], ["y"])
    m.output("y", F32, [None, None])


@case("range")
def _(m):
    # Constant bounds give a static length; a bound from a dynamic shape does not.
    m.const("start", np.array(5, np.int64))
    m.const("limit", np.array(-2, np.int64))
    m.const("delta", np.array(-2, np.int64))
    m.node("Range", ["start", "limit", "delta"], ["down"])
    m.input("x", F32, ["seq", 2])
    m.node("Shape", ["x"], ["shape"])
    m.const("zero", np.array(0, np.int64))
    m.const("one", np.array(1, np.int64))
    m.node("Gather", ["shape", "zero"], ["n"], axis=0)
    m.node("Range", ["zero", "n", "one"], ["positions"])
    m.input("fstart", F32, [], data=0.5)
    m.const("flimit", np.array(3.0, np.float32))
    m.const("fdelta", np.array(0.75, np.float32))
    m.node("Range", ["fstart", "flimit", "fdelta"], ["floats"])
    m.output("down", I64, [4])
    m.output("positions", I64, ["seq"])
    m.output("floats", F32, [None])


@case("range_float_negative")
def _(m):
    # A descending float range whose length needs a ceiling: 1.0, 0.7, ..., -0.8.
    m.input("start", F32, [], data=1.0)
    m.input("limit", F32, [], data=-1.0)
    m.input("delta", F32, [], data=-0.3)
    m.node("Range", ["start", "limit", "delta"], ["y"])
    m.output("y", F32, [None])


@case("trilu")
def _(m):
    m.input("x", F32, ["batch", 4, 5])
    m.node("Trilu", ["x"], ["upper"])
    m.const("minus_one", np.array(-1, np.int64))
    m.node("Trilu", ["x", "minus_one"], ["lower"], upper=0)
    m.const("plus_one", np.array(1, np.int64))
    m.node("Trilu", ["x", "plus_one"], ["upper_k1"], upper=1)
    m.output("upper", F32, ["batch", 4, 5])
    m.output("lower", F32, ["batch", 4, 5])
    m.output("upper_k1", F32, ["batch", 4, 5])


@case("trilu_2d_k")
def _(m):
    # k beyond the matrix: everything kept (lower, k = 7) or cleared (upper, k = 7).
    m.input("x", F32, [3, 5])
    m.const("k", np.array(7, np.int64))
    m.node("Trilu", ["x", "k"], ["upper"])
    m.node("Trilu", ["x", "k"], ["lower"], upper=0)
    m.output("upper", F32, [3, 5])
    m.output("lower", F32, [3, 5])


#===-------------------------------------------------------------------------------------===#
# ONNX Runtime contrib ops
#===-------------------------------------------------------------------------------------===#

@case("simplified_layer_norm")
def _(m):
    # RMSNorm in the ONNX domain (ORT registers it there), and an fp16 one.
    m.input("x", F32, ["batch", "seq", 8])
    m.init("scale", m.random([8], low=0.5, high=1.5))
    m.node("SimplifiedLayerNormalization", ["x", "scale"], ["y"], epsilon=1e-5, axis=-1)
    m.input("h", F16, ["batch", 8], low=-4.0, high=4.0)
    m.init("scale16", m.random([8], np.float16, low=0.5, high=1.5))
    m.node("SimplifiedLayerNormalization", ["h", "scale16"], ["y16"], epsilon=1e-6)
    m.output("y", F32, ["batch", "seq", 8])
    m.output("y16", F16, ["batch", 8])


@case("simplified_layer_norm_f16_large")
def _(m):
    # fp16 rows of 300 (or -1000): their squares overflow fp16, the mean of squares is taken
    # in float32, so each element normalizes to exactly +-1.
    m.input("x", F16, [2, 8], data=[[300.0] * 8, [-1000.0] * 8])
    m.init("scale", np.ones(8, np.float16))
    m.node("SimplifiedLayerNormalization", ["x", "scale"], ["y"])
    m.output("y", F16, [2, 8])
    m.expect("y", np.array([[1.0] * 8, [-1.0] * 8], np.float16))


@case("skip_simplified_layer_norm")
def _(m):
    # With bias: outputs 0 (normalized) and 3 (input + skip + bias).
    m.input("x", F32, ["batch", "seq", 8])
    m.input("skip", F32, ["batch", "seq", 8])
    m.init("gamma", m.random([8], low=0.5, high=1.5))
    m.init("bias", m.random([8]))
    m.node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma", "bias"],
           ["y", "", "", "sum"], domain="com.microsoft", epsilon=1e-6)
    m.output("y", F32, ["batch", "seq", 8])
    m.output("sum", F32, ["batch", "seq", 8])


@case("skip_simplified_layer_norm_no_bias")
def _(m):
    # No bias, output 0 only, the default epsilon (1e-12).
    m.input("x", F32, [2, 3, 8])
    m.input("skip", F32, [2, 3, 8])
    m.init("gamma", m.random([8], low=0.5, high=1.5))
    m.node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["y"],
           domain="com.microsoft")
    m.output("y", F32, [2, 3, 8])


@case("skip_simplified_layer_norm_broadcast")
def _(m):
    # A skip of [seq, hidden] broadcast over the batch.
    m.input("x", F32, [2, 3, 8])
    m.input("skip", F32, [3, 8])
    m.init("gamma", m.random([8], low=0.5, high=1.5))
    m.node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["y", "", "", "sum"],
           domain="com.microsoft", epsilon=1e-5)
    m.output("y", F32, [2, 3, 8])
    m.output("sum", F32, [2, 3, 8])


def rotary_caches(m, max_pos, half):
    """cos/sin caches [max_pos, half] of the usual inverse frequencies (base 10000)."""
    inv = 1.0 / (10000.0 ** (np.arange(half) / half))
    angles = np.arange(max_pos)[:, None] * inv[None, :]
    m.init("cos_cache", np.cos(angles).astype(np.float32))
    m.init("sin_cache", np.sin(angles).astype(np.float32))


@case("rotary_3d")
def _(m):
    # [batch, seq, hidden] with 2 heads of 8 (inferred from the cache width 4),
    # position_ids [batch, seq], rotate-half.
    m.input("x", F32, ["batch", "seq", 16])
    m.input("position_ids", I64, ["batch", "seq"], data=[[0, 1, 2], [5, 9, 3]])
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft")
    m.output("y", F32, ["batch", "seq", 16])


@case("rotary_3d_interleaved_offset")
def _(m):
    # interleaved = 1, num_heads given, and a scalar position offset: position = 4 + s.
    m.input("x", F32, ["batch", "seq", 16])
    m.input("position_ids", I64, [], data=4)
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft", interleaved=1, num_heads=2)
    m.output("y", F32, ["batch", "seq", 16])


@case("rotary_4d")
def _(m):
    # [batch, heads, seq, head_size], interleaved, a 1-element offset [1].
    m.input("x", F32, ["batch", 2, "seq", 8])
    m.input("position_ids", I64, [1], data=[2])
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft", interleaved=1)
    m.output("y", F32, ["batch", 2, "seq", 8])


@case("rotary_4d_positions")
def _(m):
    # [batch, heads, seq, head_size] with position_ids [batch, seq], rotate-half.
    m.input("x", F32, ["batch", 2, "seq", 8])
    m.input("position_ids", I64, ["batch", "seq"], data=[[3, 4, 5], [0, 7, 1]])
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft")
    m.output("y", F32, ["batch", 2, "seq", 8])


@case("rotary_partial")
def _(m):
    # rotary_embedding_dim 4 of head_size 8: dims 4..7 pass through; the cache is
    # [max_pos, rotary_dim / 2].
    m.input("x", F32, ["batch", "seq", 16])
    m.input("position_ids", I64, ["batch", "seq"], data=[[0, 1, 2], [6, 7, 8]])
    rotary_caches(m, 16, 2)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft", num_heads=2, rotary_embedding_dim=4)
    m.output("y", F32, ["batch", "seq", 16])


@case("rotary_f16")
def _(m):
    m.input("x", F16, [1, "seq", 16])
    m.input("position_ids", I64, [1, "seq"], data=[[1, 2, 3]])
    inv = 1.0 / (10000.0 ** (np.arange(4) / 4))
    angles = np.arange(16)[:, None] * inv[None, :]
    m.init("cos_cache", np.cos(angles).astype(np.float16))
    m.init("sin_cache", np.sin(angles).astype(np.float16))
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           domain="com.microsoft")
    m.output("y", F16, [1, "seq", 16])


@case("mha")
def _(m):
    # Self-attention without past: 2 heads of 4, an explicit scale.
    m.input("q", F32, ["batch", "seq", 8])
    m.input("k", F32, ["batch", "seq", 8])
    m.input("v", F32, ["batch", "seq", 8])
    m.node("MultiHeadAttention", ["q", "k", "v"], ["out"], domain="com.microsoft",
           num_heads=2, scale=0.3)
    m.output("out", F32, ["batch", "seq", 8])


@case("mha_past_bias")
def _(m):
    # past_key/past_value [batch, heads, past, head], presents, attention_bias
    # [1, heads, seq, total] broadcast over the batch.
    m.input("q", F32, [2, 3, 8])
    m.input("k", F32, [2, 3, 8])
    m.input("v", F32, [2, 3, 8])
    m.input("past_key", F32, [2, 2, "past", 4])
    m.input("past_value", F32, [2, 2, "past", 4])
    m.input("attention_bias", F32, [1, 2, 3, 7], low=-2.0, high=2.0)
    m.node("MultiHeadAttention",
           ["q", "k", "v", "", "", "attention_bias", "past_key", "past_value"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2)
    m.output("out", F32, [2, 3, 8])
    m.output("present_key", F32, [2, 2, None, 4])
    m.output("present_value", F32, [2, 2, None, 4])


@case("mha_bias_batch")
def _(m):
    # attention_bias [batch, 1, seq, total], broadcast over the heads (wrong in ORT 1.20/1.21).
    m.input("q", F32, [2, 3, 8])
    m.input("k", F32, [2, 3, 8])
    m.input("v", F32, [2, 3, 8])
    m.input("attention_bias", F32, [2, 1, 3, 3], low=-2.0, high=2.0)
    m.node("MultiHeadAttention", ["q", "k", "v", "", "", "attention_bias"], ["out"],
           domain="com.microsoft", num_heads=2)
    m.output("out", F32, [2, 3, 8])


@case("mha_mask_causal")
def _(m):
    # key_padding_mask [batch, total] (int32, 0 = masked) and unidirectional, with a past:
    # query s sees keys t <= past + s that the mask keeps.
    m.input("q", F32, [2, 3, 8])
    m.input("k", F32, [2, 3, 8])
    m.input("v", F32, [2, 3, 8])
    m.input("key_padding_mask", I32, [2, 7], data=[[1, 1, 1, 1, 1, 1, 1],
                                                    [0, 1, 1, 0, 1, 1, 1]])
    m.input("past_key", F32, [2, 2, 4, 4])
    m.input("past_value", F32, [2, 2, 4, 4])
    m.node("MultiHeadAttention",
           ["q", "k", "v", "", "key_padding_mask", "", "past_key", "past_value"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           unidirectional=1)
    m.output("out", F32, [2, 3, 8])
    m.output("present_key", F32, [2, 2, 7, 4])
    m.output("present_value", F32, [2, 2, 7, 4])


@case("mha_decode_mask")
def _(m):
    # One decode step: seq 1, past 4, key_padding_mask [batch, past + 1].
    m.input("q", F32, [2, 1, 8])
    m.input("k", F32, [2, 1, 8])
    m.input("v", F32, [2, 1, 8])
    m.input("key_padding_mask", I32, [2, 5], data=[[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    m.input("past_key", F32, [2, 2, 4, 4])
    m.input("past_value", F32, [2, 2, 4, 4])
    m.node("MultiHeadAttention",
           ["q", "k", "v", "", "key_padding_mask", "", "past_key", "past_value"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           unidirectional=1)
    m.output("out", F32, [2, 1, 8])
    m.output("present_key", F32, [2, 2, 5, 4])
    m.output("present_value", F32, [2, 2, 5, 4])


@case("mha_f16")
def _(m):
    # fp16, unidirectional without past.
    m.input("q", F16, ["batch", "seq", 8])
    m.input("k", F16, ["batch", "seq", 8])
    m.input("v", F16, ["batch", "seq", 8])
    m.node("MultiHeadAttention", ["q", "k", "v"], ["out", "present_key", "present_value"],
           domain="com.microsoft", num_heads=2, unidirectional=1)
    m.output("out", F16, ["batch", "seq", 8])
    m.output("present_key", F16, ["batch", 2, None, 4])
    m.output("present_value", F16, ["batch", 2, None, 4])


def gqa_inputs(m, batch, seq, past, heads, kv_heads, head, dtype=F32):
    m.input("query", dtype, [batch, seq, heads * head])
    m.input("key", dtype, [batch, seq, kv_heads * head])
    m.input("value", dtype, [batch, seq, kv_heads * head])
    names = ["query", "key", "value"]
    if past is not None:
        m.input("past_key", dtype, [batch, kv_heads, past, head])
        m.input("past_value", dtype, [batch, kv_heads, past, head])
        names += ["past_key", "past_value"]
    else:
        names += ["", ""]
    total = (past or 0) + seq
    m.input("seqlens_k", I32, [batch], data=[total - 1] * batch)
    m.input("total_sequence_length", I32, [], data=total)
    return names + ["seqlens_k", "total_sequence_length"], total


@case("gqa_packed")
def _(m):
    # Packed q/k/v (no key and value inputs: query holds q, then k, then v),
    # rotary inside, as ONNX Runtime GenAI's model builder writes it: a
    # chunk of 2 after a past of 3, heads of 16 (ORT's rotary needs 16).
    batch, seq, past, heads, kv_heads, head = 1, 2, 3, 2, 1, 16
    m.input("qkv", F32, [batch, seq, (heads + 2 * kv_heads) * head])
    m.input("past_key", F32, [batch, kv_heads, past, head])
    m.input("past_value", F32, [batch, kv_heads, past, head])
    m.input("seqlens_k", I32, [batch], data=[past + seq - 1] * batch)
    m.input("total_sequence_length", I32, [], data=past + seq)
    rotary_caches(m, 16, 8)
    m.node("GroupQueryAttention", ["qkv", "", "", "past_key", "past_value", "seqlens_k",
                                   "total_sequence_length", "cos_cache", "sin_cache"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=heads,
           kv_num_heads=kv_heads, do_rotary=1)
    m.output("out", F32, [batch, seq, heads * head])
    m.output("present_key", F32, [batch, kv_heads, past + seq, head])
    m.output("present_value", F32, [batch, kv_heads, past + seq, head])


@case("gqa_prompt")
def _(m):
    # The first prompt: 4 query heads over 2 KV heads of 8, no past.
    names, total = gqa_inputs(m, 2, 3, None, 4, 2, 8)
    m.node("GroupQueryAttention", names, ["out", "present_key", "present_value"],
           domain="com.microsoft", num_heads=4, kv_num_heads=2)
    m.output("out", F32, [2, 3, 32])
    m.output("present_key", F32, [2, 2, 3, 8])
    m.output("present_value", F32, [2, 2, 3, 8])


@case("gqa_past")
def _(m):
    # A decode step (seq 1) of a batch of 2 over a past of 4.
    names, total = gqa_inputs(m, 2, 1, 4, 4, 2, 8)
    m.node("GroupQueryAttention", names, ["out", "present_key", "present_value"],
           domain="com.microsoft", num_heads=4, kv_num_heads=2)
    m.output("out", F32, [2, 1, 32])
    m.output("present_key", F32, [2, 2, 5, 8])
    m.output("present_value", F32, [2, 2, 5, 8])


@case("gqa_rotary")
def _(m):
    # do_rotary with cos/sin caches: a chunked prefill (batch 1, seq 2, past 3) so that
    # the positions are past + s; head_size 16 (ORT wants a multiple of 16 with caches).
    names, total = gqa_inputs(m, 1, 2, 3, 2, 1, 16)
    rotary_caches(m, 16, 8)
    m.node("GroupQueryAttention", names + ["cos_cache", "sin_cache"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           kv_num_heads=1, do_rotary=1)
    m.output("out", F32, [1, 2, 32])
    m.output("present_key", F32, [1, 1, 5, 16])
    m.output("present_value", F32, [1, 1, 5, 16])


@case("gqa_rotary_interleaved")
def _(m):
    # do_rotary, rotary_interleaved, a decode step of a batch of 2.
    names, total = gqa_inputs(m, 2, 1, 3, 2, 1, 16)
    rotary_caches(m, 16, 8)
    m.node("GroupQueryAttention", names + ["cos_cache", "sin_cache"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           kv_num_heads=1, do_rotary=1, rotary_interleaved=1)
    m.output("out", F32, [2, 1, 32])
    m.output("present_key", F32, [2, 1, 4, 16])
    m.output("present_value", F32, [2, 1, 4, 16])


@case("gqa_partial_rotary")
def _(m):
    # head_size 32 with a cache of width 8: dims 0..15 rotate, 16..31 pass through.
    names, total = gqa_inputs(m, 1, 2, 3, 2, 1, 32)
    rotary_caches(m, 16, 8)
    m.node("GroupQueryAttention", names + ["cos_cache", "sin_cache"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           kv_num_heads=1, do_rotary=1)
    m.output("out", F32, [1, 2, 64])
    m.output("present_key", F32, [1, 1, 5, 32])
    m.output("present_value", F32, [1, 1, 5, 32])


@case("gqa_f16")
def _(m):
    names, total = gqa_inputs(m, 2, 1, 4, 4, 2, 8, dtype=F16)
    m.node("GroupQueryAttention", names, ["out", "present_key", "present_value"],
           domain="com.microsoft", num_heads=4, kv_num_heads=2)
    m.output("out", F16, [2, 1, 32])
    m.output("present_key", F16, [2, 2, 5, 8])
    m.output("present_value", F16, [2, 2, 5, 8])


@case("gqa_position_ids")
def _(m):
    # do_rotary with explicit position_ids (input 9, ORT >= 1.22): a prompt at positions 2, 3.
    names, total = gqa_inputs(m, 1, 2, None, 2, 1, 16)
    rotary_caches(m, 16, 8)
    m.input("position_ids", I64, [1, 2], data=[[2, 3]])
    m.node("GroupQueryAttention", names + ["cos_cache", "sin_cache", "position_ids"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           kv_num_heads=1, do_rotary=1)
    m.output("out", F32, [1, 2, 32])
    m.output("present_key", F32, [1, 1, 2, 16])
    m.output("present_value", F32, [1, 1, 2, 16])


@case("gqa_position_ids_prompt")
def _(m):
    # A first prompt with position_ids that are not consecutive: ONNX Runtime reads only
    # position_ids[0] and rotates token s by position_ids[0] + s.
    names, total = gqa_inputs(m, 1, 3, None, 2, 1, 16)
    rotary_caches(m, 16, 8)
    m.input("position_ids", I64, [1, 3], data=[[5, 1, 9]])
    m.node("GroupQueryAttention", names + ["cos_cache", "sin_cache", "position_ids"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2,
           kv_num_heads=1, do_rotary=1)
    m.output("out", F32, [1, 3, 32])
    m.output("present_key", F32, [1, 1, 3, 16])
    m.output("present_value", F32, [1, 1, 3, 16])


@case("gqa_attention_bias")
def _(m):
    # attention_bias (input 10, ORT >= 1.22) [batch, 1, seq, total] on a prompt.
    names, total = gqa_inputs(m, 2, 3, None, 4, 2, 8)
    m.input("attention_bias", F32, [2, 1, 3, 3], low=-2.0, high=2.0)
    m.node("GroupQueryAttention", names + ["", "", "", "attention_bias"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=4,
           kv_num_heads=2)
    m.output("out", F32, [2, 3, 32])
    m.output("present_key", F32, [2, 2, 3, 8])
    m.output("present_value", F32, [2, 2, 3, 8])


def quantize(m, n, k, block, bits=4, zero_points=True, g_idx=None, dtype=np.float32):
    """Random codes of an [n, k] weight in MatMulNBits layout, as initializers: B [n, blocks,
    block * bits / 8] (little-endian, low nibble first), scales [n * blocks], packed zero
    points [n * ceil(blocks * bits / 8)], g_idx [k]. Returns the node's inputs and the
    dequantized weight (float64), computed here from the codes."""
    blocks = (k + block - 1) // block
    codes = m.rng.integers(0, 1 << bits, (n, blocks * block))
    scales = m.rng.uniform(0.01, 0.1, (n, blocks)).astype(dtype)
    zeros = np.full((n, blocks), 1 << (bits - 1))
    if bits == 4:
        packed = codes[:, 0::2] | (codes[:, 1::2] << 4)
    else:
        packed = codes
    m.init("B", packed.astype(np.uint8).reshape(n, blocks, -1))
    m.init("scales", scales.reshape(-1))
    names = ["A", "B", "scales"]
    if zero_points:
        assert bits == 4
        zeros = m.rng.integers(0, 16, (n, blocks + blocks % 2))
        m.init("zero_points", (zeros[:, 0::2] | (zeros[:, 1::2] << 4)).astype(np.uint8)
               .reshape(-1))
        zeros = zeros[:, :blocks]
        names.append("zero_points")
    group = np.arange(k) // block if g_idx is None else np.asarray(g_idx)
    if g_idx is not None:
        names += [""] * (4 - len(names)) + ["g_idx"]
        m.init("g_idx", np.asarray(g_idx, np.int32))
    weight = (codes[:, :k] - zeros[:, group]) * scales.astype(np.float64)[:, group]
    return names, weight


def matmul_nbits_case(m, n, k, a_shape, bits=4, zero_points=True, g_idx=None, bias=False,
                      elem=F32):
    dtype = NP_TYPES[elem]
    m.input("A", elem, a_shape)
    names, weight = quantize(m, n, k, 32, bits, zero_points, g_idx, dtype)
    y = m.feeds["A"].astype(np.float64) @ weight.T
    if bias:
        b = m.random([n], dtype)
        m.init("bias", b)
        names += [""] * (5 - len(names)) + ["bias"]
        y = y + b.astype(np.float64)
    m.node("MatMulNBits", names, ["Y"], domain="com.microsoft", K=k, N=n, bits=bits,
           block_size=32)
    m.output("Y", elem, a_shape[:-1] + [n])
    m.expect("Y", y.astype(dtype))


@case("matmul_nbits")
def _(m):
    # 4 bits, block 32, packed zero points, a 3-D A. N is large enough (> 1024 bytes of zero
    # points) for every component to be a qllm.weight (see matmul_nbits_small).
    matmul_nbits_case(m, 520, 128, ["batch", "seq", 128])


@case("matmul_nbits_symmetric")
def _(m):
    # No zero points (8 is implied), and a bias.
    matmul_nbits_case(m, 48, 64, ["seq", 64], zero_points=False, bias=True)


@case("matmul_nbits_g_idx")
def _(m):
    # Act-order without zero points: column c uses the scale of group g_idx[c] (alternating).
    matmul_nbits_case(m, 48, 64, [2, 64], zero_points=False, g_idx=np.arange(64) % 2)


@case("matmul_nbits_g_idx_zero_points")
def _(m):
    # Act-order with packed zero points (ONNX Runtime's CPU kernel ignores them here).
    matmul_nbits_case(m, 520, 128, [2, 128], g_idx=(np.arange(128) * 3) % 4)


@case("matmul_nbits_8bit")
def _(m):
    # 8 bits, one byte per code, the implied zero point 128.
    matmul_nbits_case(m, 48, 64, [2, 64], bits=8, zero_points=False)


@case("matmul_nbits_f16")
def _(m):
    # fp16 A and scales.
    matmul_nbits_case(m, 48, 64, ["seq", 64], zero_points=False, elem=F16)


@case("matmul_nbits_small")
def _(m):
    # A small weight ([8, 64]: B has 256 bytes, zero points 8 bytes) with zero points.
    matmul_nbits_case(m, 8, 64, [2, 64])


#===-------------------------------------------------------------------------------------===#
# Reproductions of wrong results without an error (reference evaluator, importer limits);
# no test runs them
#===-------------------------------------------------------------------------------------===#

@case("repro_mha_cross_dynamic")
def _(m):
    # Query and key sequence dimensions both dynamic, 3 and 1 at run time: the import is
    # accepted, and the reference evaluator reads keys 0..2 of a 1-key tensor (out of bounds)
    # instead of failing; ONNX Runtime computes cross-attention.
    m.input("q", F32, [1, "seq", 8])
    m.input("k", F32, [1, "kv_seq", 8])
    m.input("v", F32, [1, "kv_seq", 8])
    m.node("MultiHeadAttention", ["q", "k", "v"], ["out"], domain="com.microsoft", num_heads=2)
    m.output("out", F32, [1, "seq", 8])


@case("repro_mha_mask_shape")
def _(m):
    # key_padding_mask [batch, seq] (dynamic) with a past of 4: the evaluator indexes it as
    # [batch, past + seq] and reads past its end (ONNX Runtime 1.30 refuses this mask).
    m.input("q", F32, [2, 3, 8])
    m.input("k", F32, [2, 3, 8])
    m.input("v", F32, [2, 3, 8])
    m.input("key_padding_mask", I32, [2, "seq"], data=[[1, 1, 1], [1, 0, 1]])
    m.input("past_key", F32, [2, 2, 4, 4])
    m.input("past_value", F32, [2, 2, 4, 4])
    m.node("MultiHeadAttention",
           ["q", "k", "v", "", "key_padding_mask", "", "past_key", "past_value"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=2)
    m.output("out", F32, [2, 3, 8])
    m.output("present_key", F32, [2, 2, 7, 4])
    m.output("present_value", F32, [2, 2, 7, 4])


@case("repro_gqa_ragged_past")
def _(m):
    # A decode step of a ragged batch: seqlens_k = [2, 4] over past buffers of 4. ONNX Runtime
    # uses 2 and 4 past keys; the import ignores seqlens_k and attends to all 4 in both rows.
    m.input("query", F32, [2, 1, 32])
    m.input("key", F32, [2, 1, 16])
    m.input("value", F32, [2, 1, 16])
    m.input("past_key", F32, [2, 2, 4, 8])
    m.input("past_value", F32, [2, 2, 4, 8])
    m.input("seqlens_k", I32, [2], data=[2, 4])
    m.input("total_sequence_length", I32, [], data=5)
    m.node("GroupQueryAttention", ["query", "key", "value", "past_key", "past_value",
                                   "seqlens_k", "total_sequence_length"],
           ["out", "present_key", "present_value"], domain="com.microsoft", num_heads=4,
           kv_num_heads=2)
    m.output("out", F32, [2, 1, 32])
    m.output("present_key", F32, [2, 2, 5, 8])
    m.output("present_value", F32, [2, 2, 5, 8])


#===-------------------------------------------------------------------------------------===#
# Error cases (errors.test)
#===-------------------------------------------------------------------------------------===#

def int4_tensor(name, values, signed):
    """An int4/uint4 initializer (opset 21; onnx 1.12 has no helper for it):
    raw data, two values per byte, the first in the low nibble."""
    flat = (np.asarray(values, np.int64).ravel() & 0xF).astype(np.uint8)
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    t = TensorProto()
    t.name = name
    t.data_type = 22 if signed else 21  # INT4, UINT4
    t.dims.extend(np.shape(values))
    t.raw_data = (flat[0::2] | (flat[1::2] << 4)).tobytes()
    return t


@case("dequantize_linear_int8")
def _(m):
    # QDQ weights feeding MatMuls: int8 codes with one scale per output
    # column (axis 1, no zero point: symmetric), and uint8 codes with one
    # scale and zero point for the whole tensor.
    k, n = 6, 4
    m.input("A", F32, [2, k])
    m.init("w8", m.rng.integers(-128, 128, (k, n)).astype(np.int8))
    m.init("s8", m.random([n], low=0.01, high=0.1))
    m.node("DequantizeLinear", ["w8", "s8"], ["w8f"], axis=1)
    m.node("MatMul", ["A", "w8f"], ["per_column"])
    m.output("per_column", F32, [2, n])
    m.init("wu", m.rng.integers(0, 256, (k, n)).astype(np.uint8))
    m.init("su", np.array(0.05, np.float32))
    m.init("zu", np.array(131, np.uint8))
    m.node("DequantizeLinear", ["wu", "su", "zu"], ["wuf"])
    m.node("MatMul", ["A", "wuf"], ["per_tensor"])
    m.output("per_tensor", F32, [2, n])


@case("dequantize_linear_int4_blocked")
def _(m):
    # Opset 21: int4 codes in blocks of 16 along K (axis 0), K = 40 (the
    # last block partial), with int4 zero points; and uint4 without.
    m.opset = 21
    k, n, block = 40, 3, 16
    blocks = -(-k // block)
    m.input("A", F32, [2, k])
    m.initializers.append(int4_tensor("w4", m.rng.integers(-8, 8, (k, n)), True))
    m.init("s4", m.random([blocks, n], low=0.01, high=0.1))
    m.initializers.append(int4_tensor("z4", m.rng.integers(-3, 4, (blocks, n)), True))
    m.node("DequantizeLinear", ["w4", "s4", "z4"], ["w4f"], axis=0, block_size=block)
    m.node("MatMul", ["A", "w4f"], ["signed"])
    m.output("signed", F32, [2, n])
    m.initializers.append(int4_tensor("wu4", m.rng.integers(0, 16, (k, n)), False))
    m.init("su4", m.random([blocks, n], low=0.01, high=0.1))
    m.node("DequantizeLinear", ["wu4", "su4"], ["wu4f"], axis=0, block_size=block)
    m.node("MatMul", ["A", "wu4f"], ["unsigned"])
    m.output("unsigned", F32, [2, n])


@case("matmul_nbits_padded")
def _(m):
    # K = 40 is not a multiple of the block size 32: the last block is
    # padded (B is [N, 2 blocks, 16 bytes]); asymmetric, packed zero points.
    n, k = 48, 40
    m.input("A", F32, [2, k])
    codes = m.rng.integers(0, 256, (n, 2, 16)).astype(np.uint8)
    m.init("B", codes)
    m.init("scales", m.random([n * 2], low=0.01, high=0.1))
    m.init("zero_points", m.rng.integers(0, 256, (n, 1)).astype(np.uint8))
    m.node("MatMulNBits", ["A", "B", "scales", "zero_points"], ["Y"], name="padded",
           domain="com.microsoft", K=k, N=n, bits=4, block_size=32)
    m.output("Y", F32, [2, n])


@case("error_dequantize_per_row")
def _(m):
    # One scale per input row (axis 0 without blocks): no scheme groups so.
    m.input("A", F32, [2, 6])
    m.init("w", np.ones((6, 4), np.int8))
    m.init("s", np.full([6], 0.1, np.float32))
    m.node("DequantizeLinear", ["w", "s"], ["wf"], name="per_row", axis=0)
    m.node("MatMul", ["A", "wf"], ["Y"])
    m.output("Y", F32, [2, 4])


@case("error_dequantize_activation")
def _(m):
    # QDQ on an activation (a graph input), not on a weight.
    m.input("x", I8, [2, 4])
    m.init("s", np.array(0.1, np.float32))
    m.node("DequantizeLinear", ["x", "s"], ["y"], name="activation")
    m.output("y", F32, [2, 4])


@case("error_unsupported_op")
def _(m):
    m.input("x", F32, [4])
    m.node("Erf", ["x"], ["y"], name="my_erf")
    m.output("y", F32, [4])


@case("error_unsupported_contrib_op")
def _(m):
    m.input("x", F32, [4, 4])
    m.node("FusedMatMul", ["x", "x"], ["y"], name="fused", domain="com.microsoft")
    m.output("y", F32, [4, 4])


@case("error_opset_12")
def _(m):
    m.opset = 12
    m.input("x", F32, [4])
    m.node("Neg", ["x"], ["y"])
    m.output("y", F32, [4])


@case("error_slice_dynamic_axes")
def _(m):
    m.input("x", F32, [4, 6])
    m.init("starts", np.array([1], np.int64))
    m.init("ends", np.array([3], np.int64))
    m.input("axes", I64, [1], data=[0])
    m.node("Slice", ["x", "starts", "ends", "axes"], ["y"], name="dynamic_axes")
    m.output("y", F32, [None, 6])


@case("error_if_input_condition")
def _(m):
    # A branch chosen by the model's inputs: not known at import time.
    m.input("x", F32, [4])
    m.input("flag", BOOL, [], data=True)
    then_branch = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["t"])], "then", [],
        [helper.make_tensor_value_info("t", F32, [4])])
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])], "else", [],
        [helper.make_tensor_value_info("e", F32, [4])])
    m.node("If", ["flag"], ["y"], name="choose", then_branch=then_branch,
           else_branch=else_branch)
    m.output("y", F32, [4])


@case("error_dangling_input")
def _(m):
    m.input("x", F32, [4])
    m.node("Add", ["x", "ghost"], ["y"], name="reads_ghost")
    m.output("y", F32, [4])


@case("error_element_type")
def _(m):
    m.inputs.append(helper.make_tensor_value_info("x", TensorProto.UINT32, [4]))
    m.feeds["x"] = np.arange(4, dtype=np.uint32)
    m.node("Identity", ["x"], ["y"])
    m.outputs.append(helper.make_tensor_value_info("y", TensorProto.UINT32, [4]))


@case("error_cast_string")
def _(m):
    m.input("x", F32, [4])
    m.node("Cast", ["x"], ["y"], name="to_string", to=TensorProto.STRING)
    m.outputs.append(helper.make_tensor_value_info("y", TensorProto.STRING, [4]))


@case("error_max_three_inputs")
def _(m):
    m.input("x", F32, [4])
    m.node("Max", ["x", "x", "x"], ["y"], name="max3")
    m.output("y", F32, [4])


@case("error_split_dynamic")
def _(m):
    m.input("x", F32, ["n", 2])
    m.node("Split", ["x"], ["a", "b"], name="halves", axis=0)
    m.output("a", F32, [None, 2])
    m.output("b", F32, [None, 2])


@case("error_squeeze_dynamic")
def _(m):
    m.input("x", F32, [1, "n"])
    m.node("Squeeze", ["x"], ["y"], name="squeeze_all")
    m.output("y", F32, [None])


@case("error_squeeze_non_unit")
def _(m):
    m.input("x", F32, [2, 3])
    m.const("axes", np.array([-1], np.int64))
    m.node("Squeeze", ["x", "axes"], ["y"], name="squeeze_three")
    m.output("y", F32, [2])


@case("error_reshape_two_minus_one")
def _(m):
    m.input("x", F32, [2, 6])
    m.init("shape", np.array([-1, -1], np.int64))
    m.node("Reshape", ["x", "shape"], ["y"], name="bad_reshape")
    m.output("y", F32, [None, None])


@case("error_output_not_produced")
def _(m):
    m.input("x", F32, [4])
    m.node("Neg", ["x"], ["y"])
    m.output("nowhere", F32, [4])


@case("error_output_rank")
def _(m):
    m.input("x", F32, [4])
    m.node("Neg", ["x"], ["y"])
    m.output("y", F32, [4, 1])


@case("error_mha_packed_bias")
def _(m):
    m.input("q", F32, [1, 2, 8])
    m.init("qkv_bias", m.random([24]))
    m.node("MultiHeadAttention", ["q", "q", "q", "qkv_bias"], ["out"], name="mha_bias",
           domain="com.microsoft", num_heads=2)
    m.output("out", F32, [1, 2, 8])


@case("error_gqa_packed")
def _(m):
    # Packed q/k/v 30 wide cannot hold 2 + 2 x 1 heads of one size.
    m.input("qkv", F32, [1, 2, 30])
    m.input("seqlens_k", I32, [1], data=[1])
    m.input("total_sequence_length", I32, [], data=2)
    m.node("GroupQueryAttention", ["qkv", "", "", "", "", "seqlens_k", "total_sequence_length"],
           ["out", "present_key", "present_value"], name="gqa_packed", domain="com.microsoft",
           num_heads=2, kv_num_heads=1)
    m.output("out", F32, [1, 2, 16])
    m.output("present_key", F32, [1, 1, 2, 8])
    m.output("present_value", F32, [1, 1, 2, 8])


@case("error_sln_inv_std_var")
def _(m):
    m.input("x", F32, [2, 8])
    m.init("scale", m.random([8]))
    m.node("SimplifiedLayerNormalization", ["x", "scale"], ["y", "inv_std_var"], name="rms")
    m.output("y", F32, [2, 8])
    m.output("inv_std_var", F32, [2, 1])


def external_tensor(m, name, dims, entries):
    """A float initializer whose data lives outside the model."""
    tensor = TensorProto(name=name, data_type=F32, dims=dims)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in entries:
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    m.initializers.append(tensor)


def external_weight(m, entries):
    """y = x @ w with a [4, 4] weight w in external data; weights.bin holds 80 bytes."""
    m.input("x", F32, [2, 4])
    external_tensor(m, "w", [4, 4], entries)
    m.node("MatMul", ["x", "w"], ["y"])
    m.output("y", F32, [2, 4])
    m.side_files["weights.bin"] = m.random([4, 4]).tobytes() + b"\0" * 16


@case("external_data")
def _(m):
    # Valid external data (the control of the error cases): in a subdirectory, w at the
    # aligned offset 16 (mapped in place), b at the unaligned offset 82 (copied) with no
    # length (to the end of the file).
    w, b = m.random([4, 4]), m.random([4])
    m.input("x", F32, [2, 4])
    external_tensor(m, "w", [4, 4], [("location", "data/weights.bin"), ("offset", "16"),
                                     ("length", "64")])
    external_tensor(m, "b", [4], [("location", "data/weights.bin"), ("offset", "82")])
    m.node("MatMul", ["x", "w"], ["xw"])
    m.node("Add", ["xw", "b"], ["y"])
    m.output("y", F32, [2, 4])
    m.side_files["data/weights.bin"] = b"\xff" * 16 + w.tobytes() + b"\xff" * 2 + b.tobytes()
    m.expect("y", (m.feeds["x"].astype(np.float64) @ w + b).astype(np.float32))


@case("error_external_missing")
def _(m):
    external_weight(m, [("location", "missing.bin")])


@case("error_external_beyond")
def _(m):
    external_weight(m, [("location", "weights.bin"), ("offset", "64"), ("length", "64")])


@case("error_external_length")
def _(m):
    external_weight(m, [("location", "weights.bin"), ("offset", "0"), ("length", "60")])


@case("error_external_absolute")
def _(m):
    external_weight(m, [("location", "/etc/passwd")])


@case("error_external_parent")
def _(m):
    external_weight(m, [("location", "../weights.bin")])


@case("error_raw_data_size")
def _(m):
    m.input("x", F32, [2, 4])
    tensor = numpy_helper.from_array(np.zeros((4, 4), np.float32), "w")
    tensor.raw_data = tensor.raw_data[:60]
    m.initializers.append(tensor)
    m.node("MatMul", ["x", "w"], ["y"])
    m.output("y", F32, [2, 4])


@case("error_no_onnx_opset")
def _(m):
    m.input("x", F32, [4])
    m.node("Neg", ["x"], ["y"])
    m.output("y", F32, [4])

    def only_contrib_opset(model):
        del model.opset_import[:]
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    m.post = only_contrib_opset


@case("error_cycle")
def _(m):
    m.input("x", F32, [4])
    m.node("Add", ["x", "b"], ["a"], name="first")
    m.node("Neg", ["a"], ["b"], name="second")
    m.output("b", F32, [4])


@case("error_double_add")
def _(m):
    # double is imported (f64) but no arithmetic op takes it.
    m.input("x", F64, [3])
    m.input("y", F64, [3])
    m.node("Add", ["x", "y"], ["z"], name="add_f64")
    m.output("z", F64, [3])


@case("error_constant_string")
def _(m):
    m.nodes.append(helper.make_node("Constant", [], ["y"], name="text", value_string="hi"))
    m.outputs.append(helper.make_tensor_value_info("y", TensorProto.STRING, []))


@case("error_unnamed_node")
def _(m):
    m.input("x", F32, [4])
    m.nodes.append(helper.make_node("Erf", ["x"], ["y"]))
    m.output("y", F32, [4])


@case("error_mha_4d_key")
def _(m):
    m.input("q", F32, [1, 2, 8])
    m.input("k", F32, [1, 2, 2, 4])
    m.input("v", F32, [1, 2, 2, 4])
    m.node("MultiHeadAttention", ["q", "k", "v"], ["out"], name="cross", domain="com.microsoft",
           num_heads=2)
    m.output("out", F32, [1, 2, 8])


@case("error_mha_mask_lengths")
def _(m):
    m.input("q", F32, [1, 2, 8])
    m.input("k", F32, [1, 2, 8])
    m.input("v", F32, [1, 2, 8])
    m.input("lengths", I32, [1], data=[1])
    m.node("MultiHeadAttention", ["q", "k", "v", "", "lengths"], ["out"], name="mha_lengths",
           domain="com.microsoft", num_heads=2)
    m.output("out", F32, [1, 2, 8])


@case("error_gqa_softcap")
def _(m):
    names, total = gqa_inputs(m, 1, 2, None, 2, 1, 8)
    m.node("GroupQueryAttention", names, ["out", "present_key", "present_value"], name="capped",
           domain="com.microsoft", num_heads=2, kv_num_heads=1, softcap=30.0)
    m.output("out", F32, [1, 2, 16])
    m.output("present_key", F32, [1, 1, 2, 8])
    m.output("present_value", F32, [1, 1, 2, 8])


@case("error_gqa_local_window")
def _(m):
    names, total = gqa_inputs(m, 1, 2, None, 2, 1, 8)
    m.node("GroupQueryAttention", names, ["out", "present_key", "present_value"],
           name="windowed", domain="com.microsoft", num_heads=2, kv_num_heads=1,
           local_window_size=4)
    m.output("out", F32, [1, 2, 16])
    m.output("present_key", F32, [1, 1, 2, 8])
    m.output("present_value", F32, [1, 1, 2, 8])


@case("error_rotary_packed_batching")
def _(m):
    m.input("x", F32, [1, 3, 16])
    m.input("position_ids", I64, [1, 3], data=[[0, 1, 2]])
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           name="packed", domain="com.microsoft", is_packed_batching=1)
    m.output("y", F32, [1, 3, 16])


@case("error_rotary_cache_width")
def _(m):
    # rotary_embedding_dim 4 wants a cache of width 2; ORT accepts the head_size/2 = 4 one
    # and reads it with the wrong row stride.
    m.input("x", F32, [1, 3, 16])
    m.input("position_ids", I64, [1, 3], data=[[0, 1, 2]])
    rotary_caches(m, 16, 4)
    m.node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
           name="wide", domain="com.microsoft", num_heads=2, rotary_embedding_dim=4)
    m.output("y", F32, [1, 3, 16])


@case("error_matmul_nbits_float_zero_points")
def _(m):
    n, k = 48, 64
    m.input("A", F32, [2, k])
    m.init("B", m.rng.integers(0, 256, (n, 2, 16)).astype(np.uint8))
    m.init("scales", m.random([n * 2], low=0.01, high=0.1))
    m.init("zero_points", m.random([n * 2], low=7.0, high=9.0))
    m.node("MatMulNBits", ["A", "B", "scales", "zero_points"], ["Y"], name="float_zp",
           domain="com.microsoft", K=k, N=n, bits=4, block_size=32)
    m.output("Y", F32, [2, n])


#===-------------------------------------------------------------------------------------===#
# Driver
#===-------------------------------------------------------------------------------------===#

def write_case(name, outdir):
    if name not in CASES:
        raise SystemExit("onnx_models.py: error: unknown case '%s' (see --list)" % name)
    m = Model(name)
    CASES[name](m)
    model = m.build()
    os.makedirs(os.path.join(outdir, "inputs"), exist_ok=True)
    with open(os.path.join(outdir, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for input_name, array in m.feeds.items():
        np.save(os.path.join(outdir, "inputs", input_name + ".npy"), array)
    if m.expected:
        os.makedirs(os.path.join(outdir, "expected"), exist_ok=True)
    for output_name, array in m.expected.items():
        np.save(os.path.join(outdir, "expected", output_name + ".npy"), array)
    for rel, data in m.side_files.items():
        os.makedirs(os.path.dirname(os.path.join(outdir, rel)), exist_ok=True)
        with open(os.path.join(outdir, rel), "wb") as f:
            f.write(data)


def main(argv):
    if argv == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) >= 3 and argv[0] == "--each":
        for name in argv[2:]:
            write_case(name, os.path.join(argv[1], name))
        return 0
    if len(argv) == 2 and not argv[0].startswith("-"):
        write_case(argv[0], argv[1])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
