//===- QLLMAttrs.td - qllm attributes and enums -----------*- tablegen -*-===//

#ifndef QLLM_ATTRS_TD
#define QLLM_ATTRS_TD

include "qllm/IR/QLLMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "qllm/IR/QLLMInterfaces.td"

//===----------------------------------------------------------------------===//
// Scheme attributes
//===----------------------------------------------------------------------===//

class QLLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QLLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def QLLM_GroupSizeParameter : AttrParameter<"int64_t",
    "columns per quantization group, or per_channel (-1)"> {
  let parser = "::mlir::qllm::parseGroupSize($_parser)";
  let printer = "::mlir::qllm::printGroupSize($_printer, $_self)";
}

def QLLM_IntQuantAttr : QLLM_Attr<"IntQuant", "intq",
    [DeclareAttrInterfaceMethods<QLLM_QuantSchemeAttrInterface>]> {
  let summary = "Integer codes of 2, 3, 4 or 8 bits, per channel or group-wise";
  let description = [{
    Each row (output channel) of the weight is split into groups of
    `group_size` consecutive columns (the last group may be partial; a group
    size larger than the row gives one group), or one group per row with
    `group_size = per_channel`. A weight is

        w[r][c] = (q[r][c] - z[r][g]) * s[r][g]

    with `q` the unsigned `bits`-bit code, `s` the group's scale (stored as
    `scale_type`) and `z` its zero point: stored (packed with `bits` bits)
    when `symmetric = false`, `2^(bits-1)` when `symmetric = true`.

    With `act_order = true` (GPTQ's activation order), column `c` belongs to
    group `g_idx[c]` (an i32 tensor of one entry per column) instead of
    `c / group_size`.

    Examples: int8 per channel `#qllm.intq<bits = 8, group_size = per_channel,
    symmetric = true, scale_type = f32>`; GPTQ int4 g128 act-order
    `#qllm.intq<bits = 4, group_size = 128, act_order = true>`.
  }];
  let parameters = (ins
    "unsigned":$bits,
    QLLM_GroupSizeParameter:$group_size,
    DefaultValuedParameter<"bool", "false", "zero point is 2^(bits-1)">:$symmetric,
    DefaultValuedParameter<"bool", "false", "columns map to groups via g_idx">:$act_order,
    DefaultValuedParameter<"::mlir::FloatType", "::mlir::Float16Type::get($_ctxt)",
                           "type of the stored scales">:$scale_type
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The scheme in the runtime's terms.
    ::qrt::IntNScheme getScheme() const;
    bool isPerChannel() const { return getGroupSize() == ::qrt::kPerChannel; }
  }];
}

// bitsandbytes' 4-bit schemes: the same storage, different code tables.
class QLLM_Float4Attr<string name, string attrMnemonic, string codeName>
    : QLLM_Attr<name, attrMnemonic,
                [DeclareAttrInterfaceMethods<QLLM_QuantSchemeAttrInterface>]> {
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "64", "columns per block">:$block_size,
    DefaultValuedParameter<"bool", "false", "absmax stored as 8-bit codes">:$double_quant,
    DefaultValuedParameter<"int64_t", "256",
                           "absmax values per second-level block">:$double_quant_block_size,
    DefaultValuedParameter<"::mlir::FloatType", "::mlir::Float32Type::get($_ctxt)",
                           "type of absmax without double quantization">:$scale_type
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The scheme in the runtime's terms.
    ::qrt::Float4Scheme getScheme() const;
    static constexpr ::qrt::Float4Codes kCodes = ::qrt::Float4Codes::}] #
    codeName # [{;
  }];
}

def QLLM_NF4Attr : QLLM_Float4Attr<"NF4", "nf4", "NF4"> {
  let summary = "4-bit NormalFloat blocks, optionally with double quantization";
  let description = [{
    bitsandbytes' NF4 (QLoRA): each row is split into blocks of `block_size`
    consecutive columns (the last block may be partial); a weight is
    `nf4[q[r][c]] * absmax[r][b]` with the 16 NF4 code values.

    With `double_quant = true`, the absmax values (a [rows, blocks] array) are
    stored as 8-bit codes: their mean (the offset, an f32 scalar) is
    subtracted, then they are quantized in blocks of `double_quant_block_size`
    over the row-major array, each block with an f32 scale. Otherwise the
    absmax values are stored as `scale_type`.

    Example: QLoRA's default `#qllm.nf4<block_size = 64, double_quant = true>`.
  }];
}

def QLLM_FP4Attr : QLLM_Float4Attr<"FP4", "fp4", "FP4"> {
  let summary = "4-bit float blocks (bitsandbytes FP4), optionally with "
                "double quantization";
  let description = [{
    bitsandbytes' FP4 (`bnb_4bit_quant_type = "fp4"`): stored exactly as
    `#qllm.nf4` (blocks of `block_size` columns with one absmax each, the
    same double quantization), with the 16 FP4 code values instead: a sign
    bit, then 0, 0.0625, 8, 12, 4, 6, 2, 3 divided by 12
    (`qrt::kFP4Codes`); a weight is `fp4[q[r][c]] * absmax[r][b]`.

    Example: `#qllm.fp4<block_size = 64, double_quant = true>`.
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def QLLM_RotaryConvention : I32EnumAttr<"RotaryConvention",
    "which pairs of a head's dimensions a rotary embedding rotates together", [
  I32EnumAttrCase<"interleaved", 0>,
  I32EnumAttrCase<"rotate_half", 1>
]> {
  let cppNamespace = "::mlir::qllm";
}

def QLLM_ComparePredicate : I32EnumAttr<"ComparePredicate",
    "elementwise comparison", [
  I32EnumAttrCase<"eq", 0>,
  I32EnumAttrCase<"ne", 1>,
  I32EnumAttrCase<"lt", 2>,
  I32EnumAttrCase<"le", 3>,
  I32EnumAttrCase<"gt", 4>,
  I32EnumAttrCase<"ge", 5>
]> {
  let cppNamespace = "::mlir::qllm";
}

include "qllm/IR/QLLMPlanAttrs.td"

#endif // QLLM_ATTRS_TD
