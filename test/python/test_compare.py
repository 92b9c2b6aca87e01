"""python -m quant_opt.compare on stories260K (few documents, one speed run): the report, its
figures against the fp32 reference, the plots, and a failing method that does not stop the rest."""

import json
import os
import subprocess
import sys

from conftest import ROOT


def test_compare_writes_the_report_and_plots(onnx, data, tmp_path):
    out = tmp_path / "report"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python") + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "quant_opt.compare", onnx, "--text", data["text"],
         "--tokenizer", data["tokenizer"], "--methods", "int8,int4,gptq,nf4-dq",
         "--calibration", str(tmp_path / "missing.txt"), "--max-docs", "10", "--runs", "1",
         "--threads", "1", "-o", str(out)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    # Progress: method i of n and what it does.
    assert "[1/5" in result.stderr and "fp32: compiling" in result.stderr
    assert "gptq: FAILED" in result.stderr and "missing.txt" in result.stderr
    report = json.loads((out / "report.json").read_text())
    rows = {r["method"]: r for r in report["rows"]}
    assert set(rows) == {"fp32", "int8", "int4", "nf4-dq"}
    assert report["skipped"][0][0] == "gptq"
    fp32, int8, int4 = rows["fp32"], rows["int8"], rows["int4"]
    assert fp32["kl_divergence"] == 0 and fp32["documents"] == 10
    assert int8["kl_divergence"] < 0.001 and int4["kl_divergence"] > 0.05
    assert int4["perplexity"] > int8["perplexity"]
    assert abs(int4["bits_per_weight"] - 4.340) < 0.01
    assert int4["weights_bytes"] < int8["weights_bytes"] < fp32["weights_bytes"]
    assert int4["quantized_bytes"] + int4["float_bytes"] == int4["weights_bytes"]
    for r in rows.values():
        assert r["decode_tokens_per_second"] > 0 and r["peak_rss_bytes"] > 0
    assert "perplexity" in int4["against_fp32"] and "decode time" in int4["against_fp32"]
    md = (out / "report.md").read_text()
    assert "| int4 | 4.340 |" in md and "gptq: failed" in md
    assert "python3 -m quant_opt.compare" in md
    for stem in ("quality_vs_bits", "decode_speed", "memory"):
        for ext in ("png", "svg"):
            assert (out / ("%s.%s" % (stem, ext))).stat().st_size > 1000
