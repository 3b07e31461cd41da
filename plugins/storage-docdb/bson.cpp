#include "bson.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstring>

namespace storage_docdb::bson {
namespace plugin = chainsd::plugin;

namespace {

void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t read_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

constexpr int max_depth = 100;  // MongoDB's own nesting limit

class reader {
 public:
  explicit reader(std::string_view all) : all_(all) {}

  plugin::result<value> document(std::size_t at, std::size_t& end, type kind, int depth) {
    if (depth > max_depth) return err(at, "nested too deeply");
    if (all_.size() - at < 5) return err(at, "truncated document");
    const auto len = read_int32(all_.data() + at);
    if (len < 5 || static_cast<std::size_t>(len) > all_.size() - at) return err(at, "document length out of bounds");
    end = at + static_cast<std::size_t>(len);
    if (all_[end - 1] != '\0') return err(end - 1, "document does not end with NUL");
    value doc;
    doc.kind = kind;
    std::size_t p = at + 4;
    while (p < end - 1) {
      const auto t = static_cast<type>(static_cast<unsigned char>(all_[p++]));
      const auto nul = all_.find('\0', p);
      if (nul == std::string_view::npos || nul >= end - 1) return err(p, "unterminated key");
      value v;
      v.key = std::string(all_.substr(p, nul - p));
      p = nul + 1;
      auto r = element(t, p, end - 1, v, depth);
      if (!r) return r.error();
      doc.items.push_back(std::move(v));
    }
    return doc;
  }

 private:
  plugin::result<void> element(type t, std::size_t& p, std::size_t end, value& v, int depth) {
    auto need = [&](std::size_t n) { return end - p >= n; };
    v.kind = t;
    switch (t) {
      case type::double_: {
        if (!need(8)) return err(p, "truncated double");
        const std::uint64_t bits = read_le(all_.data() + p, 8);
        std::memcpy(&v.number, &bits, 8);
        p += 8;
        return {};
      }
      case type::string: {
        if (!need(5)) return err(p, "truncated string");
        const auto len = read_int32(all_.data() + p);
        if (len < 1 || static_cast<std::size_t>(len) > end - p - 4) return err(p, "string length out of bounds");
        if (all_[p + 4 + static_cast<std::size_t>(len) - 1] != '\0') return err(p, "string does not end with NUL");
        v.bytes = std::string(all_.substr(p + 4, static_cast<std::size_t>(len) - 1));
        p += 4 + static_cast<std::size_t>(len);
        return {};
      }
      case type::document:
      case type::array: {
        std::size_t sub_end = 0;
        auto d = document(p, sub_end, t, depth + 1);
        if (!d) return d.error();
        if (sub_end > end) return err(p, "embedded document overruns its parent");
        const std::string k = std::move(v.key);
        v = std::move(*d);
        v.key = k;
        p = sub_end;
        return {};
      }
      case type::binary: {
        if (!need(5)) return err(p, "truncated binary");
        const auto len = read_int32(all_.data() + p);
        if (len < 0 || static_cast<std::size_t>(len) > end - p - 5) return err(p, "binary length out of bounds");
        v.subtype = static_cast<std::uint8_t>(all_[p + 4]);
        v.bytes = std::string(all_.substr(p + 5, static_cast<std::size_t>(len)));
        p += 5 + static_cast<std::size_t>(len);
        return {};
      }
      case type::object_id:
        if (!need(12)) return err(p, "truncated ObjectId");
        v.bytes = std::string(all_.substr(p, 12));
        p += 12;
        return {};
      case type::boolean:
        if (!need(1)) return err(p, "truncated boolean");
        v.flag = all_[p++] != 0;
        return {};
      case type::null: return {};
      case type::int32:
        if (!need(4)) return err(p, "truncated int32");
        v.integer = read_int32(all_.data() + p);
        p += 4;
        return {};
      case type::date_time:
      case type::timestamp:
      case type::int64:
        if (!need(8)) return err(p, "truncated 64-bit value");
        v.integer = static_cast<std::int64_t>(read_le(all_.data() + p, 8));
        p += 8;
        return {};
    }
    return err(p, "unsupported element type 0x" + std::string(1, "0123456789abcdef"[static_cast<unsigned>(t) >> 4]) +
                      std::string(1, "0123456789abcdef"[static_cast<unsigned>(t) & 15]) + " (key \"" + v.key + "\")");
  }

  plugin::error err(std::size_t at, std::string what) const {
    return plugin::fail(plugin::errc::permanent, "BSON: " + what + " at byte " + std::to_string(at));
  }

  std::string_view all_;
};

plugin::result<void> json_members(writer& w, const boost::json::value& v, int depth);

plugin::result<void> add_json(writer& w, std::string_view key, const boost::json::value& v, int depth) {
  if (key.find('\0') != std::string_view::npos)
    return plugin::fail(plugin::errc::permanent, "a JSON key holds a NUL byte, which BSON cannot store");
  switch (v.kind()) {
    case boost::json::kind::null: w.add_null(key); break;
    case boost::json::kind::bool_: w.add_bool(key, v.get_bool()); break;
    case boost::json::kind::int64: w.add_double(key, static_cast<double>(v.get_int64())); break;
    case boost::json::kind::uint64: w.add_double(key, static_cast<double>(v.get_uint64())); break;
    case boost::json::kind::double_: w.add_double(key, v.get_double()); break;
    case boost::json::kind::string: w.add_string(key, std::string_view(v.get_string())); break;
    case boost::json::kind::object:
    case boost::json::kind::array: {
      writer sub;
      auto r = json_members(sub, v, depth + 1);
      if (!r) return r;
      if (v.is_object())
        w.add_document(key, sub.finish());
      else
        w.add_array(key, sub.finish());
      break;
    }
  }
  return {};
}

plugin::result<void> json_members(writer& w, const boost::json::value& v, int depth) {
  if (depth > max_depth) return plugin::fail(plugin::errc::permanent, "the JSON nests deeper than BSON's 100 levels");
  if (v.is_object()) {
    for (const auto& m : v.get_object()) {
      auto r = add_json(w, std::string_view(m.key()), m.value(), depth);
      if (!r) return r;
    }
  } else {
    std::size_t i = 0;
    for (const auto& e : v.get_array()) {
      auto r = add_json(w, std::to_string(i++), e, depth);
      if (!r) return r;
    }
  }
  return {};
}

}  // namespace

std::int32_t read_int32(const char* p) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(p, 4))); }

void append_int32(std::string& out, std::int32_t v) { append_le(out, static_cast<std::uint32_t>(v), 4); }

writer::writer() { out_.assign(4, '\0'); }

void writer::key(type t, std::string_view k) {
  out_ += static_cast<char>(t);
  out_.append(k.substr(0, k.find('\0')));
  out_ += '\0';
}

writer& writer::add_double(std::string_view k, double v) {
  key(type::double_, k);
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, 8);
  append_le(out_, bits, 8);
  return *this;
}

writer& writer::add_string(std::string_view k, std::string_view v) {
  key(type::string, k);
  append_int32(out_, static_cast<std::int32_t>(v.size() + 1));
  out_.append(v);
  out_ += '\0';
  return *this;
}

writer& writer::add_document(std::string_view k, std::string_view encoded) {
  key(type::document, k);
  out_.append(encoded);
  return *this;
}

writer& writer::add_array(std::string_view k, std::string_view encoded) {
  key(type::array, k);
  out_.append(encoded);
  return *this;
}

writer& writer::add_binary(std::string_view k, std::string_view bytes, std::uint8_t subtype) {
  key(type::binary, k);
  append_int32(out_, static_cast<std::int32_t>(bytes.size()));
  out_ += static_cast<char>(subtype);
  out_.append(bytes);
  return *this;
}

writer& writer::add_bool(std::string_view k, bool v) {
  key(type::boolean, k);
  out_ += v ? '\1' : '\0';
  return *this;
}

writer& writer::add_null(std::string_view k) {
  key(type::null, k);
  return *this;
}

writer& writer::add_int32(std::string_view k, std::int32_t v) {
  key(type::int32, k);
  append_int32(out_, v);
  return *this;
}

writer& writer::add_int64(std::string_view k, std::int64_t v) {
  key(type::int64, k);
  append_le(out_, static_cast<std::uint64_t>(v), 8);
  return *this;
}

std::string writer::finish() {
  out_ += '\0';
  const auto len = static_cast<std::uint32_t>(out_.size());
  for (int i = 0; i < 4; ++i) out_[static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
  std::string done = std::move(out_);
  out_.assign(4, '\0');
  return done;
}

const value* value::find(std::string_view k) const {
  for (const auto& m : items)
    if (m.key == k) return &m;
  return nullptr;
}

std::string value::string_or(std::string_view k, std::string_view fallback) const {
  const value* v = find(k);
  return v && v->kind == type::string ? v->bytes : std::string(fallback);
}

plugin::result<value> decode(std::string_view doc) {
  reader r(doc);
  std::size_t end = 0;
  auto v = r.document(0, end, type::document, 0);
  if (!v) return v;
  if (end != doc.size())
    return plugin::fail(plugin::errc::permanent, "BSON: " + std::to_string(doc.size() - end) + " bytes after the document");
  return v;
}

plugin::result<std::string> from_json(std::string_view json) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = max_depth + 1;
  auto v = boost::json::parse(json, ec, {}, opts);
  if (ec) return plugin::fail(plugin::errc::permanent, "the payload is not JSON: " + ec.message());
  if (!v.is_object()) return plugin::fail(plugin::errc::permanent, "the payload is not a JSON object");
  writer w;
  auto r = json_members(w, v, 0);
  if (!r) return r.error();
  return w.finish();
}

}  // namespace storage_docdb::bson
