//===- PlanJson.cpp - a JSON view of a plan -------------------------------===//
//
// One step per line, so tests can FileCheck a plan and users can grep it.
// Weight bytes are not printed, their offsets, sizes and checksums are.
//
//===----------------------------------------------------------------------===//

#include "qrt/core/Plan.h"
#include "qrt/core/Targets.h"

#include <cstdio>
#include <iomanip>

namespace qrt {

std::string jsonQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void writeJsonString(std::ostream &os, const flatbuffers::String *s) {
  os << jsonQuoted(s ? s->string_view() : std::string_view());
}

void writeBuffersJson(
    std::ostream &os,
    const flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>> *v);

namespace {

void tensor(std::ostream &os, const fb::TensorInfo *t) {
  if (!t) {
    os << "null";
    return;
  }
  os << "\"dtype\": \"" << fb::EnumNameDType(t->dtype()) << "\", \"shape\": [";
  if (t->dims())
    for (size_t i = 0; i < t->dims()->size(); ++i)
      os << (i ? ", " : "") << t->dims()->Get(i);
  os << "]";
}

void buffer(std::ostream &os, const fb::Buffer *b) {
  if (!b) {
    os << "null";
    return;
  }
  os << "{";
  switch (b->kind()) {
  case fb::BufferKind::Arena:
    os << "\"arena\": " << b->offset();
    break;
  case fb::BufferKind::Weight:
    os << "\"weight\": " << b->offset();
    break;
  case fb::BufferKind::Tokens:
    os << "\"tokens\": true";
    break;
  }
  os << ", ";
  tensor(os, b->tensor());
  os << "}";
}

void buffers(std::ostream &os,
             const flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>> *v) {
  writeBuffersJson(os, v);
}

void step(std::ostream &os, const fb::Step &s) {
  os << "{\"kernel\": \"" << fb::EnumNameKernel(s.kernel()) << "\", \"name\": ";
  writeJsonString(os, s.name());
  os << ", \"inputs\": ";
  buffers(os, s.inputs());
  os << ", \"outputs\": ";
  buffers(os, s.outputs());
  switch (s.kernel()) {
  case fb::Kernel::RmsNorm:
    os << ", \"epsilon\": " << s.epsilon();
    break;
  case fb::Kernel::Rotary:
    os << ", \"convention\": \""
       << fb::EnumNameRotaryConvention(s.rotary_convention())
       << "\", \"rotary_dim\": " << s.rotary_dim();
    if (s.inputs() && s.inputs()->size() == 1)
      os << ", \"base\": " << s.rotary_base();
    break;
  case fb::Kernel::Attention:
    os << ", \"layer\": " << s.layer() << ", \"heads\": " << s.heads()
       << ", \"kv_heads\": " << s.kv_heads()
       << ", \"head_dim\": " << s.head_dim() << ", \"scale\": " << s.scale()
       << ", \"causal\": " << (s.causal() ? "true" : "false");
    break;
  case fb::Kernel::DequantMatMul:
  case fb::Kernel::Int8MatMul:
    if (s.kernel() == fb::Kernel::Int8MatMul)
      os << ", \"outlier_threshold\": " << s.outlier_threshold();
    if (s.int8_activations())
      os << ", \"int8_activations\": true";
    if (const fb::QuantScheme *q = s.quant()) {
      os << ", \"quant\": {\"kind\": \"" << fb::EnumNameQuantKind(q->kind())
         << "\", \"rows\": " << q->rows() << ", \"cols\": " << q->cols()
         << ", \"bits\": " << q->bits()
         << ", \"group_size\": " << q->group_size()
         << ", \"symmetric\": " << (q->symmetric() ? "true" : "false")
         << ", \"act_order\": " << (q->act_order() ? "true" : "false")
         << ", \"scale_type\": \"" << fb::EnumNameDType(q->scale_type())
         << "\", \"double_quant\": " << (q->double_quant() ? "true" : "false");
      if (q->double_quant())
        os << ", \"double_quant_block_size\": " << q->double_quant_block_size();
      os << "}";
    }
    break;
  default:
    break;
  }
  os << "}";
}

} // namespace

void writeBuffersJson(
    std::ostream &os,
    const flatbuffers::Vector<flatbuffers::Offset<fb::Buffer>> *v) {
  os << "[";
  if (v)
    for (size_t i = 0; i < v->size(); ++i) {
      os << (i ? ", " : "");
      buffer(os, v->Get(i));
    }
  os << "]";
}

void writePlanJson(const fb::Plan &plan, std::ostream &os) {
  os << std::setprecision(9);
  os << "{\n  \"version\": " << plan.version() << ",\n  \"producer\": ";
  writeJsonString(os, plan.producer());
  if (const fb::ModelInfo *m = plan.model()) {
    os << ",\n  \"model\": {\"architecture\": ";
    writeJsonString(os, m->architecture());
    os << ", \"dim\": " << m->dim() << ", \"hidden_dim\": " << m->hidden_dim()
       << ", \"layers\": " << m->layers() << ", \"heads\": " << m->heads()
       << ", \"kv_heads\": " << m->kv_heads()
       << ", \"head_dim\": " << m->head_dim() << ", \"vocab\": " << m->vocab()
       << ", \"max_context\": " << m->max_context() << ", \"bos\": " << m->bos()
       << ", \"eos\": " << m->eos() << ", \"tokenizer\": ";
    writeJsonString(os, m->tokenizer());
    os << ", \"source\": ";
    writeJsonString(os, m->source());
    os << "}";
  }
  if (const fb::KvCache *c = plan.kv_cache())
    os << ",\n  \"kv_cache\": {\"layers\": " << c->layers()
       << ", \"kv_heads\": " << c->kv_heads()
       << ", \"head_dim\": " << c->head_dim()
       << ", \"capacity\": " << c->capacity() << ", \"dtype\": \""
       << fb::EnumNameDType(c->dtype()) << "\"}";
  os << ",\n  \"weights_offset\": " << plan.weights_offset()
     << ",\n  \"weights_size\": " << plan.weights_size();
  if (plan.weightless())
    os << ",\n  \"weightless\": true,\n  \"weight_seed\": "
       << plan.weight_seed();
  if (const fb::Sharding *sharding = plan.sharding()) {
    os << ",\n  \"sharding\": {\"world_size\": " << sharding->world_size()
       << ", \"rank\": " << sharding->rank();
    if (const auto *maps = sharding->rank_weights()) {
      os << ", \"rank_weights\": [";
      for (uint32_t r = 0; r < maps->size(); ++r) {
        os << (r ? ", [" : "[");
        const auto *map = maps->Get(r)->weights();
        for (uint32_t i = 0; map && i < map->size(); ++i)
          os << (i ? ", " : "") << map->Get(i);
        os << "]";
      }
      os << "]";
    }
    os << "}";
  }
  os << ",\n  \"weights\": [";
  if (plan.weights())
    for (size_t i = 0; i < plan.weights()->size(); ++i) {
      const fb::WeightInfo *w = plan.weights()->Get(i);
      os << (i ? ",\n" : "\n") << "    {\"index\": " << i << ", \"name\": ";
      writeJsonString(os, w->name());
      os << ", ";
      tensor(os, w->tensor());
      char checksum[32];
      std::snprintf(checksum, sizeof(checksum), "0x%016llx",
                    static_cast<unsigned long long>(w->checksum()));
      os << ", \"offset\": " << w->offset() << ", \"size\": " << w->size()
         << ", \"checksum\": \"" << checksum << "\"}";
    }
  os << "\n  ],\n  \"entries\": [";
  if (plan.entries())
    for (size_t e = 0; e < plan.entries()->size(); ++e) {
      const fb::Entry *entry = plan.entries()->Get(e);
      os << (e ? ",\n" : "\n") << "    {\"name\": ";
      writeJsonString(os, entry->name());
      os << ", \"max_tokens\": " << entry->max_tokens()
         << ", \"arena_bytes\": " << entry->arena_bytes() << ", \"logits\": ";
      buffer(os, entry->logits());
      os << ",\n     \"steps\": [";
      if (entry->steps())
        for (size_t i = 0; i < entry->steps()->size(); ++i) {
          os << (i ? ",\n" : "\n") << "      ";
          step(os, *entry->steps()->Get(i));
        }
      os << "\n     ]}";
    }
  // One target per line; a registered target describes its executable.
  os << "\n  ],\n  \"targets\": [";
  if (plan.targets())
    for (size_t i = 0; i < plan.targets()->size(); ++i) {
      const fb::TargetCode *t = plan.targets()->Get(i);
      os << (i ? "," : "") << "\n    {\"target\": ";
      writeJsonString(os, t->target());
      Executable executable;
      if (t->executable())
        executable = {t->executable()->data(), t->executable()->size()};
      os << ", \"bytes\": " << executable.size;
      const TargetSupport *support =
          t->target() ? findTarget(t->target()->str()) : nullptr;
      if (support && support->json && executable.data) {
        os << ", \"executable\": ";
        support->json(plan, executable, os);
      }
      os << "}";
    }
  os << "]\n}\n";
}

} // namespace qrt
