"""Which quantization method should I use? Every method on your model, measured.

  python -m quant_opt.compare MODEL.onnx --text FILE [--methods fp16,int8,llm-int8,int4,gptq,
      nf4,nf4-dq,fp4] [--tokenizer FILE] [--calibration FILE] [--max-docs N] [--threads T]
      [--runs R] -o REPORT_DIR

Compiles MODEL.onnx with each method (and fp32, the reference), then measures for each: bits per
weight and plan bytes (quantized matrices and float leftovers), compile time, perplexity on the
documents of FILE and its change against fp32, KL divergence and top-1 agreement against fp32 over
the same tokens, prefill and decode tokens/s and peak RSS (quant-run, the median of R runs), and
states the saving against fp32 in plain terms. Writes REPORT_DIR/report.md (the table, the
machine, versions, the commands), report.json, and plots (PNG and SVG): quality against bits per
weight with the Pareto front, decode speed and memory per method. A method that fails is reported
and skipped; the rest go on.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import quant_opt
import quant_opt._options

# name -> (compile keywords, what it is)
METHODS = {
    "fp32": (dict(method="fp32"), "float32 weights (the reference)"),
    "fp16": (dict(method="fp16"), "float16 weights"),
    "int8": (dict(method="int8"), "8-bit per channel, weight-only"),
    "llm-int8": (dict(method="llm-int8", outlier_threshold=6.0),
                 "bitsandbytes LLM.int8(): 8-bit weights and activations, outliers >= 6 in f32"),
    "int4": (dict(method="int4", group_size=128), "4-bit round to nearest, groups of 128"),
    "gptq": (dict(method="gptq", group_size=128), "GPTQ 4-bit, groups of 128, calibrated"),
    "gptq-act": (dict(method="gptq", group_size=128, act_order=True),
                 "GPTQ 4-bit g128 with act order"),
    "nf4": (dict(method="nf4"), "bitsandbytes NF4, blocks of 64"),
    "nf4-dq": (dict(method="nf4", double_quant=True), "NF4 with double quantization (QLoRA)"),
    "fp4": (dict(method="fp4"), "bitsandbytes FP4, blocks of 64"),
    "fp4-dq": (dict(method="fp4", double_quant=True), "FP4 with double quantization"),
}
DEFAULT_METHODS = "fp16,int8,llm-int8,int4,gptq,nf4,nf4-dq,fp4"


class Progress:
    def __init__(self, total):
        self.total, self.began = total, time.time()

    def say(self, index, name, what):
        print("[%d/%d %5.0fs] %s: %s" % (index, self.total, time.time() - self.began, name, what),
              file=sys.stderr, flush=True)


def quant_run(*args):
    command = [quant_opt._tool("quant-run")] + [str(a) for a in args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise quant_opt.Error(result.stderr.strip() or "quant-run failed")
    return result.stdout


DECODE_TOKENS = 256


def prompt_ids(vocab, context):
    """The speed runs' prompt: min(128, context/4) token ids, spread over the vocabulary."""
    return ",".join(str(3 + (i * 37) % (vocab - 3)) for i in range(min(128, context // 4)))


def speed(plan_path, threads, runs, vocab, context, work):
    """Median prefill and decode tokens/s and peak RSS over `runs` quant-run processes: a prompt
    of min(128, context/4) token ids, then min(256, context/2) greedy tokens."""
    ids = prompt_ids(vocab, context)
    prompt = ids.count(",") + 1
    decode = min(DECODE_TOKENS, context // 2)
    figures = []
    for run in range(runs):
        stats = os.path.join(work, "speed.json")
        args = [plan_path, "--tokens", ids, "-n", decode, "--print-ids", "-q", "--stats-json",
                stats, "--device", "cpu"]
        if threads:
            args += ["--threads", threads]
        quant_run(*args)
        with open(stats) as f:
            figures.append(json.load(f))
    med = lambda key: statistics.median(f[key] for f in figures)  # noqa: E731
    return {"prefill_tokens": prompt, "decode_tokens": decode,
            "prefill_tokens_per_second": med("prefill_tokens_per_second"),
            "decode_tokens_per_second": med("decode_tokens_per_second"),
            "peak_rss_bytes": med("peak_rss_bytes"), "runs": runs}


def measure(name, args, work, base_session, progress, index):
    keywords, what = METHODS[name]
    keywords = dict(keywords)
    row = {"method": name, "description": what}
    if keywords["method"] == "gptq":
        if not args.calibration_text:
            raise SkipMethod("GPTQ needs calibration text (--calibration)")
        keywords.update(calibration=args.calibration_text,
                        calibration_offset=args.calibration_offset,
                        calibration_samples=args.calibration_samples,
                        calibration_seqlen=args.calibration_seqlen)
    if args.tokenizer:
        keywords["tokenizer"] = args.tokenizer
    row["options"] = quant_opt._options.option_string(
        {k: v for k, v in keywords.items() if k not in ("calibration", "tokenizer")})
    progress.say(index, name, "compiling (%s)" % row["options"])
    path = os.path.join(work, name + ".qplan")
    began = time.time()
    plan = quant_opt.compile(args.model, output=path, **keywords)
    row["compile_seconds"] = time.time() - began
    info = plan.info
    row["plan_bytes"] = info["bytes"]
    row["weights_bytes"] = info["weights_bytes"]
    row["quantized_bytes"] = info["quantized_bytes"]
    row["float_bytes"] = info["weights_bytes"] - info["quantized_bytes"]
    row["quantized_weights"] = info["quantized_weights"]
    row["schemes"] = info["schemes"] or "float"
    session = quant_opt.Session(plan, device="cpu", threads=args.threads,
                                tokenizer=args.tokenizer)
    if base_session is None:
        progress.say(index, name, "perplexity on %d documents" % args.max_docs)
        r = session.perplexity(args.text, max_docs=args.max_docs)
        row.update(perplexity=r["perplexity"], tokens=r["tokens"], documents=r["documents"],
                   kl_divergence=0.0, top1_agreement=1.0)
    else:
        progress.say(index, name, "perplexity and KL divergence against fp32")
        r = session.kl_divergence(base_session, args.text, max_docs=args.max_docs)
        row.update(perplexity=r["perplexity"], tokens=r["tokens"], documents=r["documents"],
                   kl_divergence=r["kl_divergence"],
                   kl_divergence_stderr=r["kl_divergence_stderr"],
                   kl_divergence_p99=r["kl_divergence_p99"], top1_agreement=r["top1_agreement"],
                   delta_perplexity=r["delta_perplexity"],
                   delta_perplexity_ci=list(r["delta_perplexity_ci"]))
    progress.say(index, name, "speed (%d runs of quant-run)" % args.runs)
    row.update(speed(path, args.threads, args.runs, session.vocab, session.context, work))
    if args.cuda:
        row.update(cuda_speed(args, keywords, work, name, session))
    return row, session


def cuda_speed(args, keywords, work, name, session):
    """With a GPU: the method compiled for target=cuda, decode and prefill tokens/s there."""
    path = os.path.join(work, name + ".cuda.qplan")
    quant_opt.compile(args.model, output=path, target="cuda", **keywords)
    ids = prompt_ids(session.vocab, session.context)
    stats = os.path.join(work, "cuda.json")
    quant_run(path, "--tokens", ids, "-n", min(DECODE_TOKENS, session.context // 2),
              "--print-ids", "-q", "--device", "cuda", "--stats-json", stats)
    with open(stats) as f:
        figures = json.load(f)
    return {"cuda_prefill_tokens_per_second": figures["prefill_tokens_per_second"],
            "cuda_decode_tokens_per_second": figures["decode_tokens_per_second"],
            "cuda_device": figures.get("device_name", "cuda")}


class SkipMethod(Exception):
    pass


def gpu_present():
    try:
        subprocess.run([quant_opt._tool("quant-run"), "--cuda-bandwidth"], check=True,
                       capture_output=True, timeout=120)
        return True
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, quant_opt.Error):
        return False


def savings(row, base):
    """The method against fp32 in plain terms."""
    def pct(new, old):
        return 100.0 * (new - old) / old if old else 0.0
    decode = pct(1.0 / row["decode_tokens_per_second"], 1.0 / base["decode_tokens_per_second"])
    weights = pct(row["weights_bytes"], base["weights_bytes"])
    memory = pct(row["peak_rss_bytes"], base["peak_rss_bytes"])
    ppl = pct(row["perplexity"], base["perplexity"])
    return ("decode time %+.0f%%, weights %+.0f%% (peak RSS %+.0f%%), perplexity %+.2f%%, "
            "KL %.4f" % (decode, weights, memory, ppl, row["kl_divergence"]))


def pareto(points):
    """Indices of the points (bits, quality) not beaten in both by another (lower is better)."""
    front = []
    for i, (b, q) in enumerate(points):
        if not any((b2 <= b and q2 <= q) and (b2 < b or q2 < q) for b2, q2 in points):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def bits_per_weight(row, base):
    """Stored bits per weight of the matrices a method quantizes (float methods: all weights)."""
    if row["quantized_weights"]:
        return 8.0 * row["quantized_bytes"] / row["quantized_weights"]
    return 8.0 * row["weights_bytes"] / (base["weights_bytes"] / 4.0)


def plots(rows, base, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401 (ScalarFormatter on the log axes)

    names = [r["method"] for r in rows]
    bits = [bits_per_weight(r, base) for r in rows]
    written = []

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    markers = "os^Dv<>pPX*h"
    colors = plt.get_cmap("tab10").colors
    style = {n: (markers[i % len(markers)], colors[i % len(colors)]) for i, n in enumerate(names)}
    for ax, key, label in ((axes[0], "perplexity", "perplexity (lower is better)"),
                           (axes[1], "kl_divergence",
                            "KL divergence vs fp32, nats/token (log scale)")):
        # fp32 is the KL reference (0): it has no point on a log scale.
        keep = [i for i, r in enumerate(rows) if key != "kl_divergence" or r[key] > 0]
        xs, values = [bits[i] for i in keep], [rows[i][key] for i in keep]
        for i, x, y in zip(keep, xs, values):
            marker, color = style[names[i]]
            ax.scatter([x], [y], s=48, marker=marker, color=color, zorder=3, label=names[i])
        front = pareto(list(zip(xs, values)))
        ax.plot([xs[i] for i in front], [values[i] for i in front], color="0.3",
                linewidth=1.0, linestyle="--", zorder=2, label="Pareto front")
        ax.set_xscale("log", base=2)
        ax.set_xticks([4, 8, 16, 32])
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("stored bits per weight (quantized matrices; log scale)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if key == "kl_divergence":
            ax.set_yscale("log")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="method")
    fig.subplots_adjust(right=0.86)
    fig.suptitle("Quality against size per method")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    written += save(fig, out, "quality_vs_bits")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.2))
    decode = [r["decode_tokens_per_second"] for r in rows]
    ax.bar(names, decode, color="tab:green")
    ax.set_ylabel("decode tokens/s (median, CPU)")
    ax.set_title("Decode speed per method")
    ax.grid(True, axis="y", alpha=0.3)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    written += save(fig, out, "decode_speed")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.2))
    mib = 1024.0 * 1024.0
    quantized = [r["quantized_bytes"] / mib for r in rows]
    floats = [r["float_bytes"] / mib for r in rows]
    ax.bar(names, quantized, color="tab:purple", label="quantized matrices")
    ax.bar(names, floats, bottom=quantized, color="tab:gray", label="float (embedding, norms...)")
    ax.set_ylabel("weight bytes in the plan, MiB")
    ax.set_title("Memory per method (peak RSS in report.md)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    written += save(fig, out, "memory")
    plt.close(fig)
    return written


def save(fig, out, stem):
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(out, "%s.%s" % (stem, ext))
        fig.savefig(path, dpi=120)
        paths.append(path)
    return paths


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    here = os.path.dirname(os.path.abspath(quant_opt.__file__))
    revision = "unknown"
    for root in (os.path.join(here, "..", "..", ".."), here):  # build/python/quant_opt
        try:
            revision = subprocess.run(["git", "-C", root, "describe", "--always", "--dirty"],
                                      capture_output=True, text=True, check=True).stdout.strip()
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    import numpy
    return {"cpu": cpu, "cores": os.cpu_count(), "isa": quant_opt.isa(),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "quant_opt": revision, "platform": platform.platform()}


def markdown(rows, skipped, base, args, env, plots_written, elapsed):
    lines = ["# Which method? %s" % os.path.basename(args.model), "",
             "Perplexity and KL divergence over the first %d documents of `%s` (%d predicted "
             "tokens); speed is the median of %d quant-run runs on the CPU (%s, %s threads, "
             "ISA %s): a %d-token prompt (prefill) then %d greedy tokens (decode). KL is "
             "KL(fp32 || method) per token, with top-1 agreement of the argmax."
             % (base["documents"], os.path.basename(args.text), base["tokens"], args.runs,
                env["cpu"], args.threads or env["cores"], env["isa"], base["prefill_tokens"],
                base["decode_tokens"]),
             "",
             "| method | bits/weight | weights MiB (quantized + float) | compile s | perplexity "
             "| vs fp32 | KL divergence | top-1 | prefill tok/s | decode tok/s | peak RSS MiB "
             "| against fp32 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    mib = 1024.0 * 1024.0
    for r in rows:
        lines.append("| %s | %.3f | %.3f (%.3f + %.3f) | %.1f | %.4f | %+.2f%% | %.5f | %.2f%% "
                     "| %.0f | %.0f | %.1f | %s |" % (
                         r["method"], bits_per_weight(r, base), r["weights_bytes"] / mib,
                         r["quantized_bytes"] / mib, r["float_bytes"] / mib,
                         r["compile_seconds"], r["perplexity"],
                         100.0 * (r["perplexity"] / base["perplexity"] - 1),
                         r["kl_divergence"], 100.0 * r["top1_agreement"],
                         r["prefill_tokens_per_second"], r["decode_tokens_per_second"],
                         r["peak_rss_bytes"] / mib,
                         "-" if r is base else savings(r, base)))
    if any("cuda_decode_tokens_per_second" in r for r in rows):
        lines += ["", "CUDA (%s): decode tokens/s: %s" % (
            rows[0].get("cuda_device", "GPU"),
            ", ".join("%s %.0f" % (r["method"], r["cuda_decode_tokens_per_second"])
                      for r in rows if "cuda_decode_tokens_per_second" in r))]
    else:
        lines += ["", "No GPU here: CUDA figures not measured."]
    if skipped:
        lines += ["", "Not measured:"] + ["- %s: %s" % (n, why) for n, why in skipped]
    lines += ["", "Methods:"] + ["- `%s`: %s; `quant_opt.compile(..., %s)`" % (
        r["method"], r["description"],
        ", ".join("%s=%r" % (k, v) for k, v in METHODS[r["method"]][0].items()))
        for r in rows]
    if any(r["method"].startswith("gptq") for r in rows):
        lines += ["", "GPTQ calibration: %d samples of at most %d tokens from `%s`, from "
                  "document %d on (after the evaluated ones when it is the same file)." % (
                      args.calibration_samples, args.calibration_seqlen,
                      os.path.basename(args.calibration_text), args.calibration_offset)]
    lines += ["", "Plots: " + ", ".join("`%s`" % os.path.basename(p) for p in plots_written
                                        if p.endswith(".png")), "",
              "Machine: %s, %d cores, ISA %s; %s. Versions: quant-opt %s, Python %s, numpy %s."
              % (env["cpu"], env["cores"], env["isa"], env["platform"], env["quant_opt"],
                 env["python"], env["numpy"]),
              "", "Reproduce (%.0f s here):" % elapsed, "", "```sh",
              "PYTHONPATH=build/python /usr/bin/python3 -m quant_opt.compare " +
              " ".join(args.argv), "```", ""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m quant_opt.compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the ONNX model")
    parser.add_argument("--text", required=True, help="evaluation text (documents)")
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help="comma-separated, of: " + ", ".join(METHODS) +
                        " (fp32 is always measured: the reference)")
    parser.add_argument("--tokenizer", help="tokenizer file (default: the plan's)")
    parser.add_argument("--calibration", help="GPTQ calibration text (default: --text, from "
                        "the document after the evaluated ones)")
    parser.add_argument("--calibration-samples", type=int, default=128)
    parser.add_argument("--calibration-seqlen", type=int, default=256)
    parser.add_argument("--max-docs", type=int, default=200)
    parser.add_argument("--doc-sep", default="<|endoftext|>")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="speed runs per method (median)")
    parser.add_argument("-o", "--output", required=True, help="report directory")
    args = parser.parse_args(argv)
    args.argv = argv
    methods = ["fp32"] + [m for m in args.methods.split(",") if m and m != "fp32"]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error("unknown method(s) %s; known: %s" % (", ".join(unknown), ", ".join(METHODS)))
    for path in (args.model, args.text):
        if not os.path.exists(path):
            parser.error("%s: no such file" % path)
    args.calibration_text = args.calibration or args.text
    args.calibration_offset = 0 if args.calibration else args.max_docs
    os.makedirs(args.output, exist_ok=True)
    args.cuda = gpu_present()

    progress = Progress(len(methods))
    rows, skipped, base_session, base = [], [], None, None
    began = time.time()
    with tempfile.TemporaryDirectory() as work:
        for index, name in enumerate(methods, 1):
            try:
                row, session = measure(name, args, work, base_session, progress, index)
            except SkipMethod as e:
                progress.say(index, name, "skipped: %s" % e)
                skipped.append((name, str(e)))
                continue
            except (quant_opt.Error, OSError, ValueError) as e:
                progress.say(index, name, "FAILED: %s" % e)
                skipped.append((name, "failed: %s" % str(e).splitlines()[0]))
                if name == "fp32":
                    print("compare: the fp32 reference failed; nothing to compare against",
                          file=sys.stderr)
                    return 1
                continue
            if name == "fp32":
                base_session, base = session, row
            rows.append(row)
            progress.say(index, name, "done: perplexity %.4f, KL %.5f, decode %.0f tok/s" % (
                row["perplexity"], row["kl_divergence"], row["decode_tokens_per_second"]))
    for r in rows:
        r["bits_per_weight"] = bits_per_weight(r, base)
        if r is not base:
            r["against_fp32"] = savings(r, base)
    env = machine()
    written = plots(rows, base, args.output)
    elapsed = time.time() - began
    with open(os.path.join(args.output, "report.md"), "w") as f:
        f.write(markdown(rows, skipped, base, args, env, written, elapsed))
    with open(os.path.join(args.output, "report.json"), "w") as f:
        json.dump({"machine": env, "rows": rows, "skipped": skipped, "seconds": elapsed,
                   "command": ["python", "-m", "quant_opt.compare"] + argv}, f, indent=1)
    print("compare: %d methods measured%s in %.0f s; report in %s" % (
        len(rows), ", %d skipped" % len(skipped) if skipped else "", elapsed,
        os.path.join(args.output, "report.md")), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
