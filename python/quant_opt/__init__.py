"""quant-opt from Python: compile Llama 2 ONNX models into quantized plans and run them.

    import quant_opt
    plan = quant_opt.compile("model.onnx", method="int4", group_size=128,
                             tokenizer="tok512.bin")
    session = quant_opt.Session(plan)
    print(session.generate("Once upon a time", max_new_tokens=40))
    for piece in session.generate("Once upon a time", stream=True):
        print(piece, end="", flush=True)
    session.perplexity("tinystories_val.txt", max_docs=200)["perplexity"]

The runtime (Session, Plan, Tokenizer) is a C++ extension that needs no compiler; compile() and
import_onnx() load the compiler's extension (MLIR) on first use and run it in process. Every failure raises quant_opt.Error (a RuntimeError) with the
message the C++ gives, naming the file, op or option at fault.
"""

import os as _os
import warnings as _warnings

from . import _options
from ._runtime import Error, Plan, Tokenizer, backends, isa

__all__ = ["Error", "CompilerWarning", "Plan", "Tokenizer", "Session", "compile", "import_onnx",
           "backends", "isa", "COMPILE_OPTIONS"]

#: Every compile() keyword: name -> (type, choices or None, help).
COMPILE_OPTIONS = _options.OPTIONS


def _tool(name):
    """A tool of this build (quant-run, for measurements in separate processes): build/bin next
    to build/python, or $QUANT_BIN_DIR."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    for directory in (_os.environ.get("QUANT_BIN_DIR"),
                      _os.path.join(here, "..", "..", "bin")):
        if directory and _os.access(_os.path.join(directory, name), _os.X_OK):
            return _os.path.join(directory, name)
    raise Error("%s not found: build quant-opt (tools/scripts/build.sh) or set QUANT_BIN_DIR"
                % name)


def _compiler_module():
    """The compiler extension, imported on first use (importing quant_opt loads no compiler)."""
    try:
        from . import _compiler as compiler
    except ImportError as e:  # a build without it
        raise Error("the compiler extension quant_opt._compiler is not built: %s" % e)
    return compiler


def _check(ok, diagnostics, what):
    if not ok:
        raise Error(diagnostics.strip() or "%s failed" % what)
    if diagnostics.strip():
        _warnings.warn(diagnostics.strip(), CompilerWarning, stacklevel=3)


class CompilerWarning(UserWarning):
    """A warning of the compiler (e.g. GPTQ raising its dampening), with its location."""


def compile(onnx_path, method="fp32", *, output=None, weightless=False, **options):
    """Imports `onnx_path` and compiles it with quant-compile into a plan, returned in memory.

    Every quant-compile option is a keyword, `-` written `_` (see COMPILE_OPTIONS), e.g.
    ``compile("m.onnx", method="int4", group_size=128, tokenizer="tok.bin")``;
    ``method="gptq"`` needs ``calibration=TEXT``. Types and choices are checked before the
    compiler runs, which then runs in this process (the GIL released). With `output`, the plan
    is also saved there. Raises Error with the compiler's diagnostics (location, op, option) on
    failure; nothing is written then. Compiler warnings become CompilerWarning.
    """
    options["method"] = method
    text = _options.option_string(options)
    path = _os.fspath(onnx_path)
    if not _os.path.exists(path):
        raise Error("%s: no such file" % path)
    data, ok, diagnostics = _compiler_module().compile_onnx(path, text, bool(weightless))
    _check(ok, diagnostics, "compiling " + path)
    plan = Plan.from_bytes(data, name=_os.path.basename(path))
    if output is not None:
        plan.save(_os.fspath(output))
    return plan


def import_onnx(onnx_path, cleanup=True, weightless=True):
    """The qllm IR of an ONNX model as text, for inspection: imported (weights not read when
    `weightless`; large weights are elided either way) and, with `cleanup`, raised to LLM ops
    (quant-import-cleanup)."""
    path = _os.fspath(onnx_path)
    if not _os.path.exists(path):
        raise Error("%s: no such file" % path)
    text, ok, diagnostics = _compiler_module().import_onnx(path, bool(cleanup), bool(weightless))
    _check(ok, diagnostics, "importing " + path)
    return text


class Session:
    """A plan ready to run: on `device` ("auto": CUDA when the plan has CUDA code and a GPU is
    present, else the CPU; "cpu"; "cuda"), with `threads` CPU threads (None: all cores) and a
    tokenizer (a path; None: the one the plan names, relative to its file)."""

    def __init__(self, plan, device="auto", threads=None, tokenizer=None):
        if isinstance(plan, (str, _os.PathLike)):
            plan = Plan.load(_os.fspath(plan))
        if not isinstance(plan, Plan):
            raise TypeError("plan must be a Plan or a path, got %r" % (plan,))
        if threads is not None and (not isinstance(threads, int) or threads < 0):
            raise ValueError("threads must be a non-negative int or None, got %r" % (threads,))
        if isinstance(tokenizer, (str, _os.PathLike)):
            tokenizer = Tokenizer.load(_os.fspath(tokenizer))
        from . import _runtime
        self._session = _runtime.Session(plan, device, threads or 0, tokenizer)
        self.plan = plan

    @property
    def tokenizer(self):
        """The session's Tokenizer (encode(text, bos=False), decode(ids))."""
        return self._session.tokenizer

    @property
    def vocab(self):
        return self._session.vocab

    @property
    def context(self):
        """Positions the KV cache holds."""
        return self._session.context

    @property
    def stats(self):
        """Device, threads, ISA, arena/KV-cache/weight bytes and the backend's figures."""
        return self._session.stats

    def encode(self, text, bos=True):
        """Token ids of `text`, BOS first (as a prompt) unless bos=False."""
        return self.tokenizer.encode(text, bos)

    def decode(self, ids):
        """The text of token ids, as generation prints them."""
        return self.tokenizer.decode(list(ids))

    def logits(self, token_ids):
        """The logits of every token of `token_ids` (run from position 0), a float32
        numpy.ndarray [T, vocab] equal to quant-run --dump-logits."""
        return self._session.logits([int(t) for t in token_ids])

    def generate(self, prompt, max_new_tokens=256, temperature=0.0, top_p=0.9, seed=1,
                 stream=False, echo=False):
        """Continues `prompt` (BOS + its tokens) as quant-run does with the same options: greedy
        when temperature is 0, else temperature and nucleus (top_p) sampling from `seed`; stops
        at EOS, the context or max_new_tokens. Returns the text, or with stream=True an iterator
        of its pieces as they are decoded. echo=True starts with the prompt, as quant-run prints
        it."""
        if not isinstance(prompt, str):
            raise TypeError("prompt must be a str, got %r" % (prompt,))
        if max_new_tokens < 0 or not 0 <= top_p <= 1 or temperature < 0:
            raise ValueError("need max_new_tokens >= 0, temperature >= 0 and 0 <= top_p <= 1")
        from . import _runtime
        ids = self.encode(prompt)
        generator = _runtime.Generator(self._session, ids, int(max_new_tokens),
                                       float(temperature), float(top_p), int(seed))
        pieces = self._echo(ids, generator) if echo else generator
        return pieces if stream else "".join(pieces)

    def _echo(self, ids, generator):
        tok = self.tokenizer
        for i, token in enumerate(ids):
            yield tok.decode_token(ids[i - 1] if i else tok.bos, token)
        yield from generator

    def perplexity(self, path, doc_sep="<|endoftext|>", max_docs=200):
        """Perplexity over the documents of a text file (each BOS + its tokens, truncated to the
        context; the protocol of quant-run --perplexity): a dict with perplexity, mean_nll,
        tokens, documents."""
        return self._session.perplexity(_os.fspath(path), doc_sep, int(max_docs))

    def kl_divergence(self, base, path, doc_sep="<|endoftext|>", max_docs=200):
        """How far this plan's next-token distributions are from `base`'s (a Session) over the
        documents of `path` (as quant-run --kl-divergence): mean KL(base || plan) with its
        standard error and 99th percentile, top-1 agreement, both perplexities and the change
        with its 95% confidence interval."""
        if not isinstance(base, Session):
            raise TypeError("base must be a Session, got %r" % (base,))
        return self._session.kl_divergence(base._session, _os.fspath(path), doc_sep,
                                           int(max_docs))
