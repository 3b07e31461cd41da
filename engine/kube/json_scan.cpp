#include "kube/json_scan.hpp"

#include <simdjson.h>

#include <cstring>

namespace chainsd::kube {
namespace od = simdjson::ondemand;

namespace {

void check(simdjson::error_code ec, const char* what) {
  if (ec) throw json_error(std::string(what) + ": " + simdjson::error_message(ec));
}

void read_string(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) out.assign(s);
}

void read_meta(od::object md, object_meta& m) {
  for (auto field : md) {
    std::string_view key;
    check(field.unescaped_key().get(key), "metadata key");
    od::value v;
    check(field.value().get(v), "metadata value");
    if (key == "name") read_string(v, m.name);
    else if (key == "namespace") read_string(v, m.namespace_name);
    else if (key == "uid") read_string(v, m.uid);
    else if (key == "resourceVersion") read_string(v, m.resource_version);
  }
}

void clear_meta(object_meta& m) {
  m.namespace_name.clear();
  m.name.clear();
  m.uid.clear();
  m.resource_version.clear();
}

// One pass over an object's top-level fields: metadata, and Status fields (code/reason/message)
// in case the object is a Status.
void read_object(od::object o, object_meta& m, api_status* st) {
  clear_meta(m);
  for (auto field : o) {
    std::string_view key;
    check(field.unescaped_key().get(key), "object key");
    od::value v;
    check(field.value().get(v), "object value");
    if (key == "metadata") {
      od::object md;
      if (v.get_object().get(md) == simdjson::SUCCESS) read_meta(md, m);
    } else if (st) {
      if (key == "code") {
        int64_t c = 0;
        if (v.get_int64().get(c) == simdjson::SUCCESS) st->code = static_cast<unsigned>(c);
      } else if (key == "reason") {
        read_string(v, st->reason);
      } else if (key == "message") {
        read_string(v, st->message);
      }
    }
  }
}

}  // namespace

namespace {

// A cursor over JSON text that skips what it is not asked for. Malformed input makes a step fail
// (false); nothing is validated beyond what locating the field needs.
class skipper {
 public:
  explicit skipper(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  bool peek(char c) {
    ws();
    return p_ < end_ && *p_ == c;
  }
  bool eat(char c) {
    if (!peek(c)) return false;
    ++p_;
    return true;
  }
  // A string's raw contents (escapes left as they are); the cursor is past its closing quote.
  bool string(std::string_view& raw, bool& escaped) {
    if (!eat('"')) return false;
    const char* start = p_;
    escaped = false;
    for (;;) {
      auto* q = static_cast<const char*>(std::memchr(p_, '"', static_cast<std::size_t>(end_ - p_)));
      if (!q) return false;
      std::size_t backslashes = 0;
      for (const char* b = q; b > start && b[-1] == '\\'; --b) ++backslashes;
      escaped = escaped || backslashes > 0 || std::memchr(start, '\\', static_cast<std::size_t>(q - start));
      p_ = q + 1;
      if (backslashes % 2 == 0) {
        raw = std::string_view(start, static_cast<std::size_t>(q - start));
        return true;
      }
    }
  }
  bool skip_value() {
    ws();
    if (p_ >= end_) return false;
    if (*p_ == '"') {
      std::string_view raw;
      bool escaped;
      return string(raw, escaped);
    }
    if (*p_ != '{' && *p_ != '[') {  // number or literal
      while (p_ < end_ && *p_ != ',' && *p_ != '}' && *p_ != ']') ++p_;
      return p_ < end_;
    }
    int depth = 0;
    while (p_ < end_) {
      char c = *p_;
      if (c == '"') {
        std::string_view raw;
        bool escaped;
        if (!string(raw, escaped)) return false;
        continue;
      }
      ++p_;
      if (c == '{' || c == '[') ++depth;
      else if ((c == '}' || c == ']') && --depth == 0) return true;
    }
    return false;
  }

 private:
  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  const char* p_;
  const char* end_;
};

// Calls on_member(key, cursor) for each member of the object at the cursor; on_member consumes
// the value and returns 1 to go on, 0 to stop with success, -1 on failure.
template <class F>
bool for_members(skipper& s, F&& on_member) {
  if (!s.eat('{')) return false;
  if (s.eat('}')) return true;
  for (;;) {
    std::string_view key;
    bool escaped;
    if (!s.string(key, escaped) || !s.eat(':')) return false;
    int r = on_member(escaped ? std::string_view() : key);
    if (r <= 0) return r == 0;
    if (s.eat(',')) continue;
    return s.eat('}');
  }
}

}  // namespace

std::optional<std::string> quick_resource_version(std::string_view body) {
  skipper s(body);
  std::optional<std::string> found;
  bool ok = for_members(s, [&](std::string_view key) {
    if (key != "metadata") return s.skip_value() ? 1 : -1;
    if (!s.peek('{')) return -1;
    bool md_ok = for_members(s, [&](std::string_view k) {
      if (k != "resourceVersion") return s.skip_value() ? 1 : -1;
      std::string_view raw;
      bool escaped;
      if (!s.peek('"') || !s.string(raw, escaped) || escaped) return -1;
      found = std::string(raw);
      return 0;
    });
    return md_ok && found ? 0 : -1;
  });
  if (!ok) return std::nullopt;
  return found;
}

struct json_scanner::impl {
  od::parser parser_;
  std::string scratch_;  // padded copy of a watch line

  od::document iterate(const char* data, std::size_t len, std::size_t capacity) {
    od::document doc;
    check(parser_.iterate(data, len, capacity).get(doc), "json");
    return doc;
  }
  od::document iterate_copy(std::string_view text) {
    if (scratch_.capacity() < text.size() + simdjson::SIMDJSON_PADDING)
      scratch_.reserve(text.size() + simdjson::SIMDJSON_PADDING);
    scratch_.assign(text);
    return iterate(scratch_.data(), scratch_.size(), scratch_.capacity());
  }
};

json_scanner::json_scanner() : impl_(std::make_unique<impl>()) {}
json_scanner::~json_scanner() = default;

list_meta json_scanner::scan_list(std::string& body, const item_fn& on_item) {
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING)
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  list_meta lm;
  od::document doc = impl_->iterate(body.data(), body.size(), body.capacity());
  od::object root;
  check(doc.get_object().get(root), "list");
  // metadata first (servers put it before items, but do not rely on that), then rewind for items.
  {
    od::object md;
    if (root.find_field_unordered("metadata").get_object().get(md) == simdjson::SUCCESS) {
      for (auto field : md) {
        std::string_view key;
        check(field.unescaped_key().get(key), "list metadata key");
        od::value v;
        check(field.value().get(v), "list metadata value");
        if (key == "resourceVersion") read_string(v, lm.resource_version);
        else if (key == "continue") read_string(v, lm.continue_token);
      }
    }
  }
  doc.rewind();
  check(doc.get_object().get(root), "list");
  od::value items_v;
  auto ec = root.find_field_unordered("items").get(items_v);
  if (ec == simdjson::NO_SUCH_FIELD) return lm;  // an empty list may omit items
  check(ec, "list items");
  if (items_v.is_null()) return lm;
  od::array items;
  check(items_v.get_array().get(items), "list items");
  object_meta m;
  for (auto item : items) {
    od::object o;
    check(item.get_object().get(o), "list item");
    std::string_view raw;
    check(o.raw_json().get(raw), "list item");
    bool reset_ok = false;
    check(o.reset().get(reset_ok), "list item");
    read_object(o, m, nullptr);
    ++lm.items;
    on_item(m, raw);
  }
  return lm;
}

static_assert(json_scanner::parse_padding == simdjson::SIMDJSON_PADDING);

bool json_scanner::parse_event(std::string_view line, watch_line& out, std::size_t readable_after) {
  const std::size_t trimmed_from = line.size();
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return false;
  readable_after += trimmed_from - line.size();
  out.type = raw_event_type::unknown;
  out.object = {};
  out.status = {};
  clear_meta(out.meta);
  // In place when the caller's buffer has the parser's padding after the line (events of runs
  // carrying stored payloads are tens of KB: no copy of them); into scratch otherwise.
  od::document doc = readable_after >= simdjson::SIMDJSON_PADDING
                         ? impl_->iterate(line.data(), line.size(), line.size() + readable_after)
                         : impl_->iterate_copy(line);
  od::object root;
  check(doc.get_object().get(root), "watch event");
  for (auto field : root) {
    std::string_view key;
    check(field.unescaped_key().get(key), "watch event key");
    od::value v;
    check(field.value().get(v), "watch event value");
    if (key == "type") {
      std::string_view t;
      check(v.get_string().get(t), "watch event type");
      if (t == "ADDED") out.type = raw_event_type::added;
      else if (t == "MODIFIED") out.type = raw_event_type::modified;
      else if (t == "DELETED") out.type = raw_event_type::deleted;
      else if (t == "BOOKMARK") out.type = raw_event_type::bookmark;
      else if (t == "ERROR") out.type = raw_event_type::error;
    } else if (key == "object") {
      od::object o;
      check(v.get_object().get(o), "watch event object");
      std::string_view raw;
      check(o.raw_json().get(raw), "watch event object");
      bool reset_ok = false;
      check(o.reset().get(reset_ok), "watch event object");
      read_object(o, out.meta, &out.status);
      // raw points into the caller's line or scratch_, untouched until the next parse_event.
      out.object = raw;
    }
  }
  if (out.type == raw_event_type::error && out.status.code == 0) out.status.code = 500;
  return true;
}

object_meta json_scanner::scan_object(std::string_view body) {
  object_meta m;
  od::document doc = impl_->iterate_copy(body);
  od::object o;
  check(doc.get_object().get(o), "object");
  read_object(o, m, nullptr);
  return m;
}

// ---- Status decoding (lives here: it is the other simdjson user) --------------------------------

std::string_view reason_for(unsigned s) {
  switch (s) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return {};
  }
}

api_status decode_status(unsigned http_status, std::string_view body) {
  api_status st;
  st.code = http_status;
  bool parsed = false;
  try {
    od::parser p;
    simdjson::padded_string padded(body);
    od::document doc;
    if (p.iterate(padded).get(doc) == simdjson::SUCCESS) {
      od::object o;
      if (doc.get_object().get(o) == simdjson::SUCCESS) {
        for (auto field : o) {
          std::string_view key;
          if (field.unescaped_key().get(key)) break;
          od::value v;
          if (field.value().get(v)) break;
          if (key == "kind") {
            std::string_view k;
            if (v.get_string().get(k) == simdjson::SUCCESS && k == "Status") parsed = true;
          } else if (key == "code") {
            int64_t c = 0;
            if (v.get_int64().get(c) == simdjson::SUCCESS && c > 0) st.code = static_cast<unsigned>(c);
          } else if (key == "reason") {
            read_string(v, st.reason);
          } else if (key == "message") {
            read_string(v, st.message);
          }
        }
        if (!st.reason.empty() || !st.message.empty()) parsed = true;
      }
    }
  } catch (const std::exception&) {
    parsed = false;
  }
  if (!parsed) {
    st.code = http_status;
    st.message.assign(body.substr(0, 200));
    st.reason.clear();
  }
  if (st.reason.empty()) st.reason = reason_for(st.code);
  return st;
}

}  // namespace chainsd::kube
