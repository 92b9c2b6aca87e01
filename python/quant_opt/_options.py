"""The quant-compile options as Python keywords: names with `-` written `_`, types, choices.

The table mirrors the pipeline's options (passes/include/quant/Passes/Options.h, as
`quant-opt --help` lists them under --quant-compile); test/python/test_compile.py checks that the
two agree, so that neither can drift.
"""

# name -> (type, choices or None, help)
OPTIONS = {
    "method": (str, ("fp32", "fp16", "int8", "int4", "int", "nf4", "fp4", "llm-int8", "gptq"),
               "how weights are stored: float, or quantized"),
    "bits": (int, None, "code bits for method=int: 2, 3, 4 or 8 (0: the method's)"),
    "group_size": (int, None, "columns per group (NF4/FP4: per block); -1 per channel; 0: the "
                              "method's default"),
    "symmetric": (str, ("default", "true", "false"), "zero point 2^(bits-1)"),
    "scale_type": (str, ("default", "f32", "f16", "bf16"), "stored scales"),
    "double_quant": (bool, None, "NF4/FP4: absmax stored as 8-bit codes"),
    "double_quant_block_size": (int, None, "absmax values per second-level block"),
    "exclude": (list, None, "regexes of weights that keep their precision"),
    "quantize_output": (bool, None, "also quantize the output projection"),
    "clip_search": (bool, None, "integer schemes: search each group's range"),
    "outlier_threshold": (float, None, "llm-int8: outlier columns at |x| >= this (0: none)"),
    "act_order": (bool, None, "GPTQ: columns by descending Hessian diagonal"),
    "static_groups": (bool, None, "GPTQ with act order: contiguous group parameters"),
    "damp_percent": (float, None, "GPTQ: dampening, as a fraction of mean diag(H)"),
    "block_size": (int, None, "GPTQ: columns per lazy batch update"),
    "true_sequential": (bool, None, "GPTQ: calibrate each group of projections in turn"),
    "calibration": (str, None, "GPTQ: calibration text file"),
    "calibration_doc_sep": (str, None, "GPTQ: document separator of the calibration text"),
    "calibration_samples": (int, None, "GPTQ: calibration samples"),
    "calibration_seqlen": (int, None, "GPTQ: tokens per sample"),
    "calibration_offset": (int, None, "GPTQ: first document used"),
    "calibration_mode": (str, ("documents", "windows"), "GPTQ: how text becomes samples"),
    "calibration_seed": (int, None, "GPTQ: seed of the windows"),
    "float_weights": (str, ("f32", "f16"), "storage of the weights left in float"),
    "max_context": (int, None, "KV-cache positions (0: the model's)"),
    "prefill_tokens": (int, None, "tokens per prefill step (0: min(max-context, 512))"),
    "bos": (int, None, "BOS token id"),
    "eos": (int, None, "EOS token id"),
    "tokenizer": (str, None, "tokenizer file the runtime uses by default"),
    "target": (str, ("cpu", "cuda"), "kernel target"),
    "activations": (str, ("auto", "f32", "int8"),
                    "CPU matmuls with quantized weights: 8-bit activations (int8), f32, or by "
                    "the scheme (auto)"),
    "tensor_parallel": (int, None, "ranks to split the model across (tensor parallelism: run "
                        "the plan with mpirun -np N quant-run)"),
    "fuse_epilogues": (bool, None, "CUDA: fuse residual adds into matmul kernels"),
    "cuda_archs": (list, None, "CUDA: compute_XY and sm_XY targets of NVRTC"),
}


def option_string(options):
    """The quant-compile option string of keyword options, validated: unknown names, wrong types
    and values outside the choices raise ValueError/TypeError naming the option."""
    parts = []
    for key, value in options.items():
        if value is None:
            continue
        if key not in OPTIONS:
            close = [k for k in OPTIONS if k.split("_")[0] == key.split("_")[0]]
            raise ValueError("unknown compile option %r%s" % (
                key, " (did you mean %s?)" % ", ".join(close) if close else ""))
        kind, choices, _ = OPTIONS[key]
        name = key.replace("_", "-")
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError("%s must be a bool, got %r" % (key, value))
            text = "true" if value else "false"
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("%s must be an int, got %r" % (key, value))
            text = str(value)
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError("%s must be a number, got %r" % (key, value))
            text = repr(float(value))
        elif kind is list:
            if isinstance(value, str):
                value = [value]
            text = ",".join(str(v) for v in value)
        else:
            if key == "symmetric" and isinstance(value, bool):
                value = "true" if value else "false"
            if not isinstance(value, str):
                raise TypeError("%s must be a str, got %r" % (key, value))
            text = value
        if choices and text not in choices:
            raise ValueError("%s must be one of %s, got %r" % (key, ", ".join(choices), text))
        if any(c.isspace() for c in text):
            if '"' in text:
                raise ValueError("%s: a value with spaces cannot also hold '\"'" % key)
            text = '"%s"' % text
        parts.append("%s=%s" % (name, text))
    return " ".join(parts)
