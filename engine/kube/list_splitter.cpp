#include "kube/list_splitter.hpp"

#include <cctype>
#include <cstring>

namespace chainsd::kube {
namespace {

constexpr std::size_t max_captured_string = 4096;  // names, uids, versions, continue tokens

bool is_space(char ch) { return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t'; }

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

char unescape(char ch) {
  switch (ch) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'b': return '\b';
    case 'f': return '\f';
    default: return ch;  // " \ /
  }
}

// Where the next '"' or '\\' is (else the end): two memchr calls, which run at memory speed
// whatever the build's optimisation level (string_view::find_first_of tests byte by byte).
std::size_t next_quote_or_backslash(std::string_view s, std::size_t from) {
  const char* begin = s.data() + from;
  const std::size_t n = s.size() - from;
  const void* q = std::memchr(begin, '"', n);
  const std::size_t until = q ? static_cast<std::size_t>(static_cast<const char*>(q) - begin) : n;
  const void* b = std::memchr(begin, '\\', until);
  return from + (b ? static_cast<std::size_t>(static_cast<const char*>(b) - begin) : until);
}

}  // namespace

list_splitter::list_splitter(std::size_t max_item_bytes, item_fn on_item, oversize_fn on_oversize)
    : max_item_(max_item_bytes), on_item_(std::move(on_item)), on_oversize_(std::move(on_oversize)) {}

void list_splitter::feed(std::string_view bytes) {
  seen_ += bytes.size();
  for (std::size_t i = 0; i < bytes.size();) {
    if (in_string_ && !escape_ && unicode_left_ == 0 && !capture_) {
      // The bulk of a page: string contents nobody looks at, skipped up to the next quote or
      // backslash in one search.
      std::size_t j = next_quote_or_backslash(bytes, i);
      if (j > i) {
        keep(bytes.substr(i, j - i));
        i = j;
        continue;
      }
    }
    keep(bytes.substr(i, 1));
    on_char(bytes[i]);
    ++i;
  }
}

void list_splitter::keep(std::string_view bytes) {
  if (!in_item_) return;
  item_bytes_ += bytes.size();
  if (!item_oversize_ && item_bytes_ > max_item_) {
    item_oversize_ = true;  // from here on only its metadata strings are looked at
    item_.clear();
    item_.shrink_to_fit();
  }
  if (!item_oversize_) item_ += bytes;
}

void list_splitter::on_char(char ch) {
  if (done_) {
    if (!is_space(ch)) throw json_error("list: bytes after the end of the JSON value");
    return;
  }
  if (in_string_) {
    if (unicode_left_ > 0) {
      unicode_ = unicode_ * 16 + static_cast<unsigned>(std::isxdigit(static_cast<unsigned char>(ch))
                                                           ? (ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10)
                                                           : 0);
      if (--unicode_left_ == 0 && capture_ && text_.size() < max_captured_string) append_utf8(text_, unicode_);
      return;
    }
    if (escape_) {
      escape_ = false;
      if (ch == 'u') {
        unicode_left_ = 4;
        unicode_ = 0;
      } else if (capture_ && text_.size() < max_captured_string) {
        text_ += unescape(ch);
      }
      return;
    }
    if (ch == '\\') {
      escape_ = true;
    } else if (ch == '"') {
      in_string_ = false;
      string_done();
    } else if (capture_ && text_.size() < max_captured_string) {
      text_ += ch;
    }
    return;
  }
  switch (ch) {
    case '"': {
      in_string_ = true;
      string_is_key_ = !stack_.empty() && stack_.back().kind == '{' && stack_.back().expect_key;
      // Keys are wanted at the levels that are looked at; values only under a metadata object.
      const std::size_t d = stack_.size();
      const bool meta_value = !string_is_key_ &&
                              ((d == 2 && stack_[0].key == "metadata") ||
                               (d == 4 && stack_[2].key == "metadata" && in_item_));
      capture_ = (string_is_key_ && d <= 4) || meta_value;
      text_.clear();
      return;
    }
    case '{':
    case '[':
      open(ch);
      return;
    case '}':
    case ']':
      close(ch);
      return;
    case ':':
      return;
    case ',':
      if (!stack_.empty() && stack_.back().kind == '{') stack_.back().expect_key = true;
      return;
    default:
      if (stack_.empty() && !is_space(ch)) throw json_error("list: the body is not a JSON object");
      return;  // numbers, true/false/null, whitespace
  }
}

void list_splitter::string_done() {
  if (stack_.empty()) throw json_error("list: the body is not a JSON object");
  auto& top = stack_.back();
  if (string_is_key_) {
    top.key = std::move(text_);
    top.expect_key = false;
    return;
  }
  if (!capture_) return;
  const std::size_t d = stack_.size();
  if (d == 2) {  // the list's metadata
    if (top.key == "resourceVersion") meta_.resource_version = text_;
    else if (top.key == "continue") meta_.continue_token = text_;
  } else if (d == 4) {  // items[i].metadata
    if (top.key == "name") item_meta_.name = text_;
    else if (top.key == "namespace") item_meta_.namespace_name = text_;
    else if (top.key == "uid") item_meta_.uid = text_;
    else if (top.key == "resourceVersion") item_meta_.resource_version = text_;
  }
}

void list_splitter::open(char kind) {
  const std::size_t d = stack_.size();
  if (d == 0 && kind != '{') throw json_error("list: the body is not a JSON object");
  if (d == 2 && kind == '{' && stack_[1].kind == '[' && stack_[0].key == "items") {
    in_item_ = true;
    item_oversize_ = false;
    item_bytes_ = 1;
    item_.assign(1, '{');
    item_meta_ = {};
  }
  stack_.push_back(level{kind, kind == '{', {}});
}

void list_splitter::close(char kind) {
  if (stack_.empty() || (kind == '}' ? '{' : '[') != stack_.back().kind)
    throw json_error("list: unbalanced JSON nesting");
  stack_.pop_back();
  if (stack_.empty()) {
    done_ = true;
    return;
  }
  if (in_item_ && stack_.size() == 2) {
    in_item_ = false;
    ++meta_.items;
    if (item_oversize_) {
      on_oversize_(item_meta_, item_bytes_);
    } else {
      on_item_(item_meta_, item_);
    }
    item_.clear();
    if (item_.capacity() > (4u << 20)) item_.shrink_to_fit();  // one huge item does not pin its size
  }
}

list_meta list_splitter::finish() {
  if (!done_) throw json_error("list: the body ended before the JSON value did");
  return meta_;
}

}  // namespace chainsd::kube
