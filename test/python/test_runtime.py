"""quant_opt's runtime against quant-run on the same plans: bit-identical logits, the same
generated text, perplexity and KL divergence; errors as Python exceptions."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import quant_opt
from conftest import quant_run


@pytest.fixture(scope="module")
def session(plans, data):
    return quant_opt.Session(plans["int8"], threads=1, tokenizer=data["tokenizer"])


def test_importing_loads_no_compiler():
    # The runtime half is MLIR-free: importing quant_opt and running a session loads neither
    # the compiler extension nor anything of LLVM/MLIR (in a fresh interpreter).
    code = ("import quant_opt, sys\n"
            "maps = open('/proc/self/maps').read()\n"
            "assert 'quant_opt._compiler' not in sys.modules\n"
            "assert '_compiler' not in maps and 'libMLIR' not in maps and 'libLLVM' not in maps\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_logits_equal_quant_run_dump_logits(session, plans, tmp_path):
    ids = [1, 403, 407, 261, 378, 9, 30]
    dump = tmp_path / "logits.f32"
    quant_run(plans["int8"], "--tokens", ",".join(map(str, ids)), "--dump-logits", dump,
              "--threads", "1", "-q")
    expected = np.fromfile(dump, dtype=np.float32).reshape(len(ids), -1)
    got = session.logits(ids)
    assert got.dtype == np.float32 and got.shape == (len(ids), 512)
    assert np.array_equal(got, expected)  # bit for bit
    assert np.array_equal(session.logits(ids), got)  # from position 0 each time


@pytest.mark.parametrize("options", [
    dict(),
    dict(temperature=0.8, top_p=0.9, seed=7),
    dict(temperature=1.0, top_p=1.0, seed=123),
])
def test_generate_equals_quant_run(session, plans, data, options):
    args = ["--prompt", "Once upon a time", "-n", "48", "--threads", "1", "-q",
            "--tokenizer", data["tokenizer"]]
    for key, flag in (("temperature", "--temperature"), ("top_p", "--top-p"), ("seed", "--seed")):
        if key in options:
            args += [flag, str(options[key])]
    expected = quant_run(plans["int8"], *args)
    assert expected.endswith("\n")
    text = session.generate("Once upon a time", max_new_tokens=48, echo=True, **options)
    assert text == expected[:-1]
    pieces = list(session.generate("Once upon a time", max_new_tokens=48, stream=True,
                                   **options))
    assert len(pieces) == 48
    assert "".join(pieces) == session.generate("Once upon a time", max_new_tokens=48,
                                               **options)


def test_perplexity_equals_quant_run(session, plans, data):
    out = quant_run(plans["int8"], "--perplexity", data["text"], "--max-docs", "20",
                    "--threads", "1", "-q")
    expected = float(out.split("perplexity: ")[-1].split()[0])
    r = session.perplexity(data["text"], max_docs=20)
    assert r["documents"] == 20 and r["tokens"] == 6496
    assert abs(r["perplexity"] - expected) < 1e-6 * expected


def test_kl_divergence_equals_quant_run(plans, data, tmp_path):
    stats = tmp_path / "kl.json"
    quant_run(plans["int4"], "--kl-divergence", plans["fp32"], "--perplexity", data["text"],
              "--max-docs", "20", "--threads", "1", "-q", "--stats-json", stats)
    expected = json.loads(stats.read_text())
    base = quant_opt.Session(plans["fp32"], threads=1, tokenizer=data["tokenizer"])
    plan = quant_opt.Session(plans["int4"], threads=1, tokenizer=data["tokenizer"])
    r = plan.kl_divergence(base, data["text"], max_docs=20)
    for key in ("kl_divergence", "kl_divergence_p99", "top1_agreement", "perplexity",
                "perplexity_base", "delta_perplexity"):
        assert r[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-9), key
    assert r["tokens"] == expected["tokens"]
    low, high = r["delta_perplexity_ci"]
    assert low < r["delta_perplexity"] < high
    assert 0.05 < r["kl_divergence"] < 0.2  # int4 g128 RTN on stories260K: about 0.11


def test_tokenizer(session):
    tok = session.tokenizer
    ids = session.encode("Once upon a time")
    assert ids[0] == tok.bos == 1 and tok.vocab_size == 512
    assert session.decode(ids[1:]).strip() == "Once upon a time"
    assert tok.encode("Once upon a time") == ids[1:]


def test_stats_and_info(session):
    stats = session.stats
    assert stats["device"] == "cpu" and stats["threads"] == 1
    assert stats["integer_kernel"] in {"avx512-vnni", "avx-vnni", "avx2", "scalar"}
    assert stats["kv_cache_bytes"] > 0
    info = session.plan.info
    assert info["quantized_matrices"] == 35 and info["vocab"] == 512
    assert abs(info["quantized_bits_per_weight"] - 8.4237) < 1e-3


def test_errors_are_exceptions_with_the_runtime_message(session, tmp_path):
    with pytest.raises(quant_opt.Error, match="nothing-here.qplan"):
        quant_opt.Session(str(tmp_path / "nothing-here.qplan"))
    bad = tmp_path / "bad.qplan"
    bad.write_bytes(b"not a plan at all")
    with pytest.raises(quant_opt.Error, match="bad.qplan"):
        quant_opt.Plan.load(str(bad))
    with pytest.raises(quant_opt.Error, match="outside the vocabulary"):
        session.logits([1, 100000])
    with pytest.raises(ValueError):
        session.logits([])
    with pytest.raises(quant_opt.Error, match="no-such-text"):
        session.perplexity(str(tmp_path / "no-such-text.txt"))
    with pytest.raises(TypeError):
        session.generate(42)
    assert issubclass(quant_opt.Error, RuntimeError)


def test_plan_round_trips_through_bytes_and_save(plans, tmp_path):
    plan = quant_opt.Plan.load(plans["int4"])
    copy = quant_opt.Plan.from_bytes(plan.to_bytes())
    assert copy.info["quantized_bytes"] == plan.info["quantized_bytes"]
    out = tmp_path / "copy.qplan"
    copy.save(str(out))
    assert out.read_bytes() == open(plans["int4"], "rb").read()
    with pytest.raises(quant_opt.Error):
        copy.save(str(tmp_path / "no-such-dir" / "x.qplan"))
    assert not (tmp_path / "no-such-dir").exists()


def test_plans_load_into_a_huge_page_copy_unless_mmap(plans):
    # The copy gives the same logits as the file's mapping, bit for bit.
    copied = quant_opt.Plan.load(plans["int4"])
    mapped = quant_opt.Plan.load(plans["int4"], mmap=True)
    assert copied.weights_memory == "huge-page copy"
    assert mapped.weights_memory == "file mapping"
    ids = [1, 403, 411, 246]
    expected = quant_opt.Session(mapped, device="cpu").logits(ids)
    assert np.array_equal(quant_opt.Session(copied, device="cpu").logits(ids), expected)
    assert quant_opt.Plan.from_bytes(copied.to_bytes()).weights_memory == "memory"


def test_one_session_from_several_threads(session, data):
    # The GIL is released while a session runs; calls from other threads wait for it.
    import threading
    results = []

    def work():
        results.append(session.perplexity(data["text"], max_docs=10)["perplexity"])

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len(set(results)) == 1


def test_a_generation_interrupted_by_another_call_says_so(session):
    pieces = session.generate("Once upon a time", max_new_tokens=8, stream=True)
    next(pieces)
    session.logits([1, 5])  # moves the session's position
    with pytest.raises(quant_opt.Error, match="one generation at a time"):
        next(pieces)
    assert session.generate("Once", max_new_tokens=0) == ""


def test_quant_run_reports_its_own_peak_rss(plans, tmp_path):
    # Linux carries getrusage's ru_maxrss across execve: started from this (large) process,
    # quant-run must still report its own peak (VmHWM), which a stories260K plan keeps small.
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident
    stats = tmp_path / "rss.json"
    quant_run(plans["int8"], "--tokens", "1,5,9", "-n", "4", "--print-ids", "-q",
              "--stats-json", stats)
    del ballast
    assert json.loads(stats.read_text())["peak_rss_bytes"] < 100 * 2**20
