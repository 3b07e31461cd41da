#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>

#include "provenance/detail.hpp"
#include "provenance/encoding.hpp"

// Writing the predicate: protojson's sorted Struct output, the document arena, resource
// descriptors, and Go's json.Marshal of a ParamValue (byproduct content).
namespace chainsd::provenance::detail {
namespace {

void write_number(std::string& out, double d) {
  // protojson writes a Struct number as the shortest float64 text; integral values have no exponent
  // below 1e21.
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, 0);
    out.append(buf, r.ptr);
    return;
  }
  if (!std::isfinite(d)) {  // not representable in JSON; protojson refuses, we write null
    out += "null";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

}  // namespace

void write_sorted(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: out += "null"; return;
    case bj::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case bj::kind::int64: write_number(out, static_cast<double>(v.get_int64())); return;
    case bj::kind::uint64: write_number(out, static_cast<double>(v.get_uint64())); return;
    case bj::kind::double_: write_number(out, v.get_double()); return;
    case bj::kind::string: append_json_string(out, v.get_string()); return;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_sorted(out, e);
      }
      out += ']';
      return;
    }
    case bj::kind::object: {
      const auto& o = v.get_object();
      // Most objects are small: sort pointers on the stack, the heap only for big ones.
      std::array<const bj::key_value_pair*, 16> small;
      std::vector<const bj::key_value_pair*> big;
      const bj::key_value_pair** members = small.data();
      if (o.size() > small.size()) {
        big.resize(o.size());
        members = big.data();
      }
      std::size_t n = 0;
      for (const auto& kv : o) members[n++] = &kv;
      std::sort(members, members + n, [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      bool first = true;
      for (auto* kv : std::span(members, n)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, kv->key());
        out += ':';
        write_sorted(out, kv->value());
      }
      out += '}';
      return;
    }
  }
}

namespace {
thread_local bj::storage_ptr* current_storage = nullptr;
}  // namespace

bj::storage_ptr doc_sp() { return current_storage ? *current_storage : bj::storage_ptr(); }

document_arena::document_arena() : previous_(current_storage) {
  current_storage = &sp_;
}

document_arena::~document_arena() { current_storage = previous_; }

bj::object digest_json(const digest_set& d) {
  bj::object o(doc_sp());
  for (const auto& [alg, hex] : d) o[alg] = hex;
  return o;
}

void write_descriptor(std::string& out, const resource_descriptor& d) {
  out += '{';
  bool first = true;
  auto field = [&](std::string_view key) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
  };
  if (!d.name.empty()) {
    field("name");
    append_json_string(out, d.name);
  }
  if (!d.uri.empty()) {
    field("uri");
    append_json_string(out, d.uri);
  }
  if (!d.digest.empty()) {
    field("digest");
    write_sorted(out, digest_json(d.digest));
  }
  if (d.content && !d.content->empty()) {
    field("content");
    append_json_string(out, base64_encode(*d.content));
  }
  if (!d.media_type.empty()) {
    field("mediaType");
    append_json_string(out, d.media_type);
  }
  out += '}';
}

bj::object descriptor_json(const resource_descriptor& d) {
  bj::object o(doc_sp());
  if (!d.name.empty()) o["name"] = d.name;
  if (!d.uri.empty()) o["uri"] = d.uri;
  if (!d.digest.empty()) o["digest"] = digest_json(d.digest);
  if (d.content && !d.content->empty()) o["content"] = base64_encode(*d.content);
  if (!d.media_type.empty()) o["mediaType"] = d.media_type;
  return o;
}

void write_subjects(std::string& out, const material_list& subjects) {
  out += '[';
  bool first = true;
  for (const auto& [name, digest] : subjects) {
    if (!first) out += ',';
    first = false;
    write_descriptor(out, resource_descriptor{name, {}, digest, std::nullopt, {}});
  }
  out += ']';
}

bj::value value_json(const param_value& v) {
  switch (v.type) {
    case param_value::kind::string: return bj::value(v.str, doc_sp());
    case param_value::kind::array: {
      bj::array a(doc_sp());
      for (const auto& s : v.array) a.emplace_back(s);
      return a;
    }
    case param_value::kind::object: {
      bj::object o(doc_sp());
      for (const auto& [k, s] : v.object) o[k] = s;
      return o;
    }
  }
  return nullptr;
}

std::string go_json(const param_value& v) {
  std::string out;
  switch (v.type) {
    case param_value::kind::string: append_go_json_string(out, v.str); break;
    case param_value::kind::array:
      out += '[';
      for (std::size_t i = 0; i < v.array.size(); ++i) {
        if (i) out += ',';
        append_go_json_string(out, v.array[i]);
      }
      out += ']';
      break;
    case param_value::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, s] : v.object) {  // std::map: sorted like Go's map encoding
        if (!first) out += ',';
        first = false;
        append_go_json_string(out, k);
        out += ':';
        append_go_json_string(out, s);
      }
      out += '}';
      break;
    }
  }
  return out;
}

}  // namespace chainsd::provenance::detail
