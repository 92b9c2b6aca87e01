"""Type stubs of quant_opt (python/quant_opt/__init__.py)."""

import os
from typing import Any, Dict, Iterator, List, Literal, Optional, Sequence, Tuple, Union, overload

import numpy

from ._runtime import Error as Error, Plan as Plan, Tokenizer as Tokenizer
from ._runtime import backends as backends, isa as isa

COMPILE_OPTIONS: Dict[str, Tuple[type, Optional[Tuple[str, ...]], str]]

class CompilerWarning(UserWarning): ...

Method = Literal["fp32", "fp16", "int8", "int4", "int", "nf4", "fp4", "llm-int8", "gptq"]

def compile(onnx_path: str, method: Method = "fp32", *, output: Optional[str] = None,
            weightless: bool = False, bits: int = ..., group_size: int = ...,
            symmetric: Union[bool, Literal["default", "true", "false"]] = ...,
            scale_type: Literal["default", "f32", "f16", "bf16"] = ...,
            double_quant: bool = ..., double_quant_block_size: int = ...,
            exclude: Sequence[str] = ..., quantize_output: bool = ...,
            clip_search: bool = ..., outlier_threshold: float = ..., act_order: bool = ...,
            static_groups: bool = ..., damp_percent: float = ..., block_size: int = ...,
            true_sequential: bool = ..., calibration: str = ...,
            calibration_doc_sep: str = ..., calibration_samples: int = ...,
            calibration_seqlen: int = ..., calibration_offset: int = ...,
            calibration_mode: Literal["documents", "windows"] = ...,
            calibration_seed: int = ..., float_weights: Literal["f32", "f16"] = ...,
            max_context: int = ..., prefill_tokens: int = ..., bos: int = ..., eos: int = ...,
            tokenizer: str = ..., target: Literal["cpu", "cuda"] = ...,
            activations: Literal["auto", "f32", "int8"] = ...,
            fuse_epilogues: bool = ..., cuda_archs: Sequence[str] = ...) -> Plan: ...

def import_onnx(onnx_path: str, cleanup: bool = True, weightless: bool = True) -> str: ...

class Session:
    plan: Plan
    def __init__(self, plan: Union[Plan, str, os.PathLike], device: str = "auto",
                 threads: Optional[int] = None,
                 tokenizer: Union[Tokenizer, str, os.PathLike, None] = None) -> None: ...
    @property
    def tokenizer(self) -> Tokenizer: ...
    @property
    def vocab(self) -> int: ...
    @property
    def context(self) -> int: ...
    @property
    def stats(self) -> Dict[str, Any]: ...
    def encode(self, text: str, bos: bool = True) -> List[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...
    def logits(self, token_ids: Sequence[int]) -> numpy.ndarray: ...
    @overload
    def generate(self, prompt: str, max_new_tokens: int = 256, temperature: float = 0.0,
                 top_p: float = 0.9, seed: int = 1, stream: Literal[False] = False,
                 echo: bool = False) -> str: ...
    @overload
    def generate(self, prompt: str, max_new_tokens: int = 256, temperature: float = 0.0,
                 top_p: float = 0.9, seed: int = 1, *, stream: Literal[True],
                 echo: bool = False) -> Iterator[str]: ...
    def perplexity(self, path: Union[str, os.PathLike], doc_sep: str = "<|endoftext|>",
                   max_docs: int = 200) -> Dict[str, Any]: ...
    def kl_divergence(self, base: "Session", path: Union[str, os.PathLike],
                      doc_sep: str = "<|endoftext|>", max_docs: int = 200) -> Dict[str, Any]: ...
