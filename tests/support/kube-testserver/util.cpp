#include "util.hpp"

#include "runtime/log.hpp"

#include <yaml-cpp/yaml.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <optional>
#include <stdexcept>

namespace chainsd::testserver {
namespace {

// YAML 1.2 core schema for plain scalars; quoted scalars (tag "!") stay strings.
json::value scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return json::value(s);
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  // Integers (decimal), then floats; anything else is a string.
  {
    std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    bool digits = i < s.size();
    for (std::size_t j = i; j < s.size(); ++j)
      if (s[j] < '0' || s[j] > '9') { digits = false; break; }
    if (digits) {
      try {
        if (s[0] == '-') return static_cast<std::int64_t>(std::stoll(s));
        unsigned long long v = std::stoull(s[0] == '+' ? s.substr(1) : s);
        if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<std::int64_t>(v);
        return static_cast<std::uint64_t>(v);
      } catch (...) {
        return json::value(s);
      }
    }
  }
  {
    bool numeric_chars = true, has_digit = false;
    for (char c : s) {
      if (c >= '0' && c <= '9') has_digit = true;
      else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') { numeric_chars = false; break; }
    }
    if (numeric_chars && has_digit) {
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0') return d;
    }
  }
  return json::value(s);
}

json::value yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      json::array a;
      a.reserve(n.size());
      for (const auto& item : n) a.push_back(yaml_to_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
  }
  return nullptr;
}

bool looks_like_json(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{' || c == '[';
  }
  return false;
}

}  // namespace

json::value parse_json_or_yaml(std::string_view text) {
  if (looks_like_json(text)) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (!ec) return v;
  }
  try {
    YAML::Node n = YAML::Load(std::string(text));
    return yaml_to_json(n);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("cannot parse body as JSON or YAML: ") + e.what());
  }
}

void for_each_document(std::string_view text, const std::function<void(json::value&&)>& fn,
                       bool transient) {
  if (looks_like_json(text)) {
    // A stream of JSON values: the fast path for big preloads (YAML parsing is ~50x slower).
    json::stream_parser p;
    std::vector<unsigned char> arena(transient ? (1u << 20) : 0);
    std::optional<json::monotonic_resource> scratch;
    std::size_t pos = 0;
    boost::system::error_code ec;
    while (pos < text.size()) {
      while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' ||
                                   text[pos] == '\t'))
        ++pos;
      if (pos >= text.size()) break;
      if (transient) {
        p.reset();  // drop the parser's reference before its arena goes
        scratch.reset();
        scratch.emplace(arena.data(), arena.size());
        p.reset(json::storage_ptr(&*scratch));
      }
      std::size_t n = p.write_some(text.data() + pos, text.size() - pos, ec);
      if (!ec && !p.done()) p.finish(ec);
      if (ec)
        throw std::runtime_error("cannot parse JSON at byte " + std::to_string(pos) + ": " + ec.message());
      pos += n;
      fn(p.release());
      if (!transient) p.reset();
    }
    return;
  }
  try {
    for (const auto& doc : YAML::LoadAll(std::string(text))) {
      if (doc.IsNull() || !doc.IsDefined()) continue;
      fn(yaml_to_json(doc));
    }
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("cannot parse documents: ") + e.what());
  }
}

std::vector<json::value> parse_documents(std::string_view text) {
  std::vector<json::value> out;
  for_each_document(text, [&](json::value&& v) { out.push_back(std::move(v)); });
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

std::string now_rfc3339() { return rfc3339(std::chrono::system_clock::now()); }

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += '"';
        log::json_escape(out, kv.key());
        out += "\":";
        append_json(out, kv.value());
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      return;
    }
    case json::kind::string:
      out += '"';
      log::json_escape(out, v.get_string());
      out += '"';
      return;
    case json::kind::int64:
    case json::kind::uint64: {
      char buf[24];
      auto r = v.is_int64() ? std::to_chars(buf, buf + sizeof buf, v.get_int64())
                            : std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::null: out += "null"; return;
    case json::kind::double_: out += json::serialize(v); return;  // Boost's shortest round-trip form
  }
}

std::string to_json(const json::value& v) {
  std::string out;
  out.reserve(4096);
  append_json(out, v);
  return out;
}

std::string now_rfc3339_micro() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto us = duration_cast<microseconds>(now - secs).count();
  std::string s = rfc3339(secs);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(us));
  s.pop_back();
  s += frac;
  return s;
}

std::string random_uuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string random_suffix() {
  static constexpr char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  RAND_bytes(b, sizeof b);
  std::string s;
  for (unsigned char c : b) s += alphabet[c % (sizeof alphabet - 1)];
  return s;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

bool base64url_decode(std::string_view in, std::string& out) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
  }
  while (s.size() % 4) s += '=';
  std::string buf(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return false;
  std::size_t pad = 0;
  for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
  buf.resize(static_cast<std::size_t>(n) - pad);
  out = std::move(buf);
  return true;
}

bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

std::string_view string_at(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_string()) return {};
  const auto& s = it->value().get_string();
  return std::string_view(s.data(), s.size());
}

json::object* object_at(json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

const json::object* object_at(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

}  // namespace chainsd::testserver
