"""quant_opt.compile and import_onnx: the keyword options against the pipeline's own, plans in
memory equal to quant-translate's, errors before and from the compiler."""

import os
import re
import subprocess

import numpy as np
import pytest

import quant_opt
from conftest import bin_dir


def pipeline_options():
    """name -> choices (None for a free value) of quant-compile, from quant-opt --help."""
    text = subprocess.run([os.path.join(bin_dir(), "quant-opt"), "--help"], check=True,
                          capture_output=True, text=True).stdout
    block = text.split("--quant-compile ", 1)[1].split("\n      --", 1)[0]
    options, current = {}, None
    for line in block.splitlines()[1:]:
        m = re.match(r"\s+--([a-z0-9-]+)(=<(\w+)>)?\s", line)
        if m:
            current = m.group(1).replace("-", "_")
            options[current] = [] if m.group(3) == "value" else None
            continue
        m = re.match(r"\s+=([a-z0-9-]+)\s", line)
        if m and current and options[current] is not None:
            options[current].append(m.group(1))
    return options


def test_keywords_mirror_the_pipeline_options():
    pipeline = pipeline_options()
    assert set(quant_opt.COMPILE_OPTIONS) == set(pipeline)
    for name, (kind, choices, _) in quant_opt.COMPILE_OPTIONS.items():
        if pipeline[name]:
            assert set(choices) == set(pipeline[name]), name


def test_compile_equals_quant_translate(onnx, plans, data, tmp_path):
    out = tmp_path / "int4.qplan"
    plan = quant_opt.compile(onnx, method="int4", group_size=128, tokenizer=data["tokenizer"],
                             output=str(out))
    assert isinstance(plan, quant_opt.Plan)
    assert plan.info["schemes"] == "int4 g128 asym F16 scales, 8-bit activations in blocks of 32"
    assert out.read_bytes() == open(plans["int4"], "rb").read()
    session = quant_opt.Session(plan, threads=1)
    reference = quant_opt.Session(plans["int4"], threads=1)
    assert np.array_equal(session.logits([1, 5, 9]), reference.logits([1, 5, 9]))


def test_every_bitsandbytes_and_gptq_method_compiles(onnx, data):
    for method, options in (("nf4", dict(double_quant=True)), ("fp4", {}),
                            ("llm-int8", dict(outlier_threshold=6.0)),
                            ("gptq", dict(calibration=data["text"], calibration_samples=4,
                                          tokenizer=data["tokenizer"],
                                          calibration_seqlen=64))):
        plan = quant_opt.compile(onnx, method=method, **options)
        assert plan.info["quantized_matrices"] == 35, method


def test_option_errors(onnx):
    with pytest.raises(ValueError, match="unknown compile option 'group'"):
        quant_opt.compile(onnx, method="int4", group=128)
    with pytest.raises(TypeError, match="group_size must be an int"):
        quant_opt.compile(onnx, method="int4", group_size="128")
    with pytest.raises(ValueError, match="method must be one of"):
        quant_opt.compile(onnx, method="int5")
    with pytest.raises(TypeError, match="double_quant must be a bool"):
        quant_opt.compile(onnx, method="nf4", double_quant=1)
    # Accepted by the types, refused by the compiler with its own message.
    with pytest.raises(quant_opt.Error, match="outlier-threshold applies to method=llm-int8"):
        quant_opt.compile(onnx, method="int4", outlier_threshold=3.0)
    with pytest.raises(quant_opt.Error, match="no such file"):
        quant_opt.compile("/nonexistent/model.onnx", method="int8")


def test_compiler_errors_carry_the_location(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(quant_opt.Error, match=r"bad\.onnx:0:0: error: .*not a valid ONNX model"):
        quant_opt.compile(str(bad), method="int8", output=str(tmp_path / "out.qplan"))
    assert not (tmp_path / "out.qplan").exists()
    with pytest.raises(quant_opt.Error, match="not a valid ONNX model"):
        quant_opt.import_onnx(str(bad))


def test_import_onnx_returns_ir_text(onnx):
    raw = quant_opt.import_onnx(onnx, cleanup=False)
    assert "qllm." in raw and "func.func" in raw
    raised = quant_opt.import_onnx(onnx)
    assert "qllm.attention" in raised and "qllm.rms_norm" in raised
