#include "kube/list_splitter.hpp"

#include "kube/byte_classes.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstdint>

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

// The bits above `bit`: (2 << bit) - 1 is bit and those below it, well defined for bit 63 too.
std::uint64_t after(std::uint64_t bits, unsigned bit) { return bits & ~((std::uint64_t{2} << bit) - 1); }

// Bit i: the parity of the bits at or below i (set inside a string when x holds its quotes).
std::uint64_t prefix_xor(std::uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

}  // namespace

list_splitter::list_splitter(std::size_t max_item_bytes, item_fn on_item, oversize_fn on_oversize)
    : max_item_(max_item_bytes), on_item_(std::move(on_item)), on_oversize_(std::move(on_oversize)) {}

void list_splitter::feed(std::string_view bytes) {
  seen_ += bytes.size();
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  item_from_ = begin;
  text_from_ = begin;
  for (std::size_t offset = 0; offset < bytes.size(); offset += byte_classes::block) {
    const char* const block = begin + offset;
    const std::size_t n = std::min(bytes.size() - offset, byte_classes::block);
    const byte_classes c = byte_classes::of(block, n);
    const std::uint64_t every = n == byte_classes::block ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    std::uint64_t ahead = every;  // bits of this block not visited yet
    bool by_events = false;  // the rest of this block byte by byte of interest
    for (;;) {
      if (!by_events && !deeper_.empty() && !escape_ && unicode_left_ == 0) {
        const skipped how = skip_deeper(c, block, every, ahead);
        if (how == skipped::came_up) continue;
        if (how == skipped::to_block_end) break;
        by_events = true;
      }
      // Which bytes the current state looks at; every other byte leaves the state as it is.
      std::uint64_t wanted;
      if (in_string_) wanted = escape_ || unicode_left_ > 0 ? every : c.quote | c.backslash;
      else if (!deeper_.empty()) wanted = c.quote | c.bracket;
      else if (stack_.empty()) wanted = every;  // before the body's '{' or after its '}'
      else wanted = c.quote | c.bracket | c.comma;
      const std::uint64_t hits = wanted & ahead;
      if (hits == 0) break;
      const auto bit = static_cast<unsigned>(std::countr_zero(hits));
      ahead = after(ahead, bit);
      step(block + bit);
    }
  }
  if (in_item_) keep(item_from_, end);
  if (in_string_ && capture_ && !escape_ && unicode_left_ == 0) capture(text_from_, end);
}

list_splitter::skipped list_splitter::skip_deeper(const byte_classes& c, const char* block, std::uint64_t every,
                                                  std::uint64_t& ahead) {
  // Escapes: the lowest backslash left escapes the byte after it (another backslash, then). \u
  // takes four more bytes whatever they are: step() reads those.
  const std::uint64_t backslashes = c.backslash & ahead;
  std::uint64_t escaped = 0;
  bool escape_at_end = false;
  for (std::uint64_t left = backslashes; left != 0;) {
    const auto bit = static_cast<unsigned>(std::countr_zero(left));
    const std::uint64_t next = std::uint64_t{2} << bit;  // 0 when bit is 63
    if ((next & every) == 0) {  // it escapes the first byte of the next block or feed
      escape_at_end = true;
      break;
    }
    if (block[bit + 1] == 'u') return skipped::needs_events;
    escaped |= next;
    left &= ~(next | (next >> 1));
  }
  // Every other quote opens or closes a string: a bracket counts when the quotes before it are
  // even (odd when the block began inside a string). That holds only if each backslash was inside
  // a string (outside one, step() ignores it).
  std::uint64_t inside = prefix_xor(c.quote & ahead & ~escaped);
  if (in_string_) inside = ~inside;
  if (backslashes != 0 && (backslashes & ~inside) != 0) return skipped::needs_events;
  for (std::uint64_t brackets = c.bracket & ahead & ~inside; brackets != 0; brackets &= brackets - 1) {
    const auto bit = static_cast<unsigned>(std::countr_zero(brackets));
    const char ch = block[bit];
    if (ch == '{' || ch == '[') {
      deeper_ += ch;
      continue;
    }
    if (deeper_.back() != (ch == '}' ? '{' : '[')) throw json_error("list: unbalanced JSON nesting");
    deeper_.pop_back();
    if (deeper_.empty()) {
      in_string_ = false;
      ahead = after(ahead, bit);
      return skipped::came_up;
    }
  }
  in_string_ = (inside >> 63) != 0;  // no quotes past the end of a short block: the parity holds
  escape_ = escape_at_end;
  return skipped::to_block_end;
}

void list_splitter::keep(const char* from, const char* to) {
  const auto n = static_cast<std::size_t>(to - from);
  item_bytes_ += n;
  if (!item_oversize_ && item_bytes_ > max_item_) {
    item_oversize_ = true;  // from here on only its metadata strings are looked at
    item_.clear();
    item_.shrink_to_fit();
  }
  if (!item_oversize_) item_.append(from, n);
  item_from_ = to;
}

void list_splitter::capture(const char* from, const char* to) {
  if (text_.size() >= max_captured_string) return;
  text_.append(from, std::min(static_cast<std::size_t>(to - from), max_captured_string - text_.size()));
}

void list_splitter::step(const char* at) {
  const char ch = *at;
  if (in_string_) {
    if (escape_ || unicode_left_ > 0) {
      escaped(ch);
      if (!escape_ && unicode_left_ == 0) text_from_ = at + 1;
      return;
    }
    if (capture_) capture(text_from_, at);
    if (ch == '\\') {
      escape_ = true;
      return;
    }
    in_string_ = false;  // ch == '"'
    string_done();
    return;
  }
  if (done_) {
    if (!is_space(ch)) throw json_error("list: bytes after the end of the JSON value");
    return;
  }
  switch (ch) {
    case '"':
      begin_string(at);
      return;
    case '{':
    case '[':
      open(ch, at);
      return;
    case '}':
    case ']':
      close(ch, at);
      return;
    case ',':
      if (deeper_.empty() && !stack_.empty() && stack_.back().kind == '{') stack_.back().expect_key = true;
      return;
    case ':':
      return;
    default:
      if (stack_.empty() && !is_space(ch)) throw json_error("list: the body is not a JSON object");
      return;  // numbers, true/false/null, whitespace
  }
}

void list_splitter::escaped(char ch) {
  const bool wanted = capture_ && text_.size() < max_captured_string;
  if (unicode_left_ > 0) {
    unicode_ = unicode_ * 16 + static_cast<unsigned>(std::isxdigit(static_cast<unsigned char>(ch))
                                                         ? (ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10)
                                                         : 0);
    if (--unicode_left_ == 0 && wanted) append_utf8(text_, unicode_);
    return;
  }
  escape_ = false;
  if (ch == 'u') {
    unicode_left_ = 4;
    unicode_ = 0;
  } else if (wanted) {
    text_ += unescape(ch);
  }
}

void list_splitter::begin_string(const char* at) {
  in_string_ = true;
  if (!deeper_.empty()) {  // nothing below an item's fields is read
    string_is_key_ = false;
    capture_ = false;
    return;
  }
  string_is_key_ = !stack_.empty() && stack_.back().kind == '{' && stack_.back().expect_key;
  // Keys are wanted at the levels that are looked at; values only under a metadata object.
  const std::size_t d = stack_.size();
  const bool meta_value = !string_is_key_ &&
                          ((d == 2 && stack_[0].key == "metadata") ||
                           (d == 4 && stack_[2].key == "metadata" && in_item_));
  capture_ = (string_is_key_ && d <= tracked_levels) || meta_value;
  text_.clear();
  text_from_ = at + 1;
}

void list_splitter::string_done() {
  if (!deeper_.empty()) return;
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

void list_splitter::open(char kind, const char* at) {
  const std::size_t d = stack_.size() + deeper_.size();
  if (d == 0 && kind != '{') throw json_error("list: the body is not a JSON object");
  if (d >= tracked_levels) {
    deeper_ += kind;
    capture_ = false;  // strings down there are skipped unread (skip_deeper does not reset it)
    return;
  }
  if (d == 2 && kind == '{' && stack_[1].kind == '[' && stack_[0].key == "items") {
    in_item_ = true;
    item_oversize_ = false;
    item_bytes_ = 0;
    item_.clear();
    item_from_ = at;
    item_meta_ = {};
  }
  stack_.push_back(level{kind, kind == '{', {}});
}

void list_splitter::close(char kind, const char* at) {
  const char opener = kind == '}' ? '{' : '[';
  if (!deeper_.empty()) {
    if (deeper_.back() != opener) throw json_error("list: unbalanced JSON nesting");
    deeper_.pop_back();
    return;
  }
  if (stack_.empty() || opener != stack_.back().kind) throw json_error("list: unbalanced JSON nesting");
  stack_.pop_back();
  if (stack_.empty()) {
    done_ = true;
    return;
  }
  if (in_item_ && stack_.size() == 2) {
    in_item_ = false;
    ++meta_.items;
    const auto tail = static_cast<std::size_t>(at + 1 - item_from_);
    if (item_bytes_ == 0 && tail <= max_item_) {
      on_item_(item_meta_, std::string_view(item_from_, tail));  // arrived whole in this feed: no copy
      return;
    }
    keep(item_from_, at + 1);
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
