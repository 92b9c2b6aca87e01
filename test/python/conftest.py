"""Fixtures of the quant_opt tests: stories260K from the shared data as ONNX, and plans of it.

Run by the test command through lit (test/e2e/python-package.test):
  PYTHONPATH=build/python QUANT_BIN_DIR=build/bin /usr/bin/python3 -m pytest test/python
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def data_dir():
    return os.environ.get("QUANT_DATA_DIR") or os.path.join(os.path.dirname(ROOT), "shared",
                                                             "data")


def bin_dir():
    return os.environ.get("QUANT_BIN_DIR") or os.path.join(ROOT, "build", "bin")


@pytest.fixture(scope="session")
def data():
    d = data_dir()
    if not os.path.exists(os.path.join(d, "models", "stories260K", "stories260K.bin")):
        pytest.skip("the shared data (stories260K) is not present")
    return {
        "checkpoint": os.path.join(d, "models", "stories260K", "stories260K.bin"),
        "tokenizer": os.path.join(d, "models", "stories260K", "tok512.bin"),
        "text": os.path.join(d, "text", "tinystories_val_first1000.txt"),
    }


@pytest.fixture(scope="session")
def onnx(data, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("model") / "model.onnx")
    subprocess.run([sys.executable, os.path.join(ROOT, "python", "llama2c_to_onnx.py"),
                    data["checkpoint"], "-o", path], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def plans(onnx, data, tmp_path_factory):
    """Plan files compiled by quant-translate (the CLI), per method."""
    work = tmp_path_factory.mktemp("plans")
    out = {}
    for name, options in (("fp32", "method=fp32"), ("int8", "method=int8"),
                          ("int4", "method=int4 group-size=128")):
        path = str(work / (name + ".qplan"))
        subprocess.run([os.path.join(bin_dir(), "quant-translate"), "--onnx-to-plan", onnx,
                        "--compile-options=%s tokenizer=%s" % (options, data["tokenizer"]),
                        "-o", path], check=True, capture_output=True)
        out[name] = path
    return out


def quant_run(*args):
    """quant-run's stdout (raises on failure)."""
    result = subprocess.run([os.path.join(bin_dir(), "quant-run")] + [str(a) for a in args],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout
