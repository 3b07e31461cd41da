// list_splitter's block scan against a byte-at-a-time oracle: the same grammar read one byte at a
// time (what the splitter did before it classified 64-byte blocks), fed the whole body, must give
// the same items, metadata, oversize reports and errors as the splitter fed the body in random
// pieces: escapes and \u sequences cut anywhere, backslash runs, strings ending at a piece's end,
// multi-byte UTF-8, many tiny pieces, malformed bodies.
#include <catch2/catch.hpp>

#include "kube/byte_classes.hpp"
#include "kube/list_splitter.hpp"

#include <array>
#include <cctype>
#include <random>
#include <string>
#include <vector>

using namespace chainsd::kube;

namespace {

struct outcome {
  std::vector<std::string> items;     // "ns/name/uid/rv|raw"
  std::vector<std::string> oversize;  // "ns/name/uid/rv|bytes"
  std::string meta;                   // "rv|continue|items" or "error: ..."
};

std::string key_of(const object_meta& m) {
  return m.namespace_name + "/" + m.name + "/" + m.uid + "/" + m.resource_version + "|";
}

// The oracle. Every byte: counted into the item when one is open, then one step of the grammar.
class oracle {
 public:
  oracle(std::size_t max_item, outcome& out) : max_(max_item), out_(out) {}

  void run(std::string_view body) {
    try {
      for (char ch : body) byte(ch);
      if (!done_) throw json_error("list: the body ended before the JSON value did");
      out_.meta = lm_.resource_version + "|" + lm_.continue_token + "|" + std::to_string(lm_.items);
    } catch (const json_error& e) {
      out_.meta = std::string("error: ") + e.what();
    }
  }

 private:
  struct frame {
    char kind;
    bool want_key;
    std::string key;
  };

  static bool blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
  bool room() const { return capture_ && text_.size() < 4096; }

  void byte(char ch) {
    if (in_item_) {
      ++item_size_;
      if (!too_big_ && item_size_ > max_) {
        too_big_ = true;
        raw_.clear();
      }
      if (!too_big_) raw_.push_back(ch);
    }
    if (done_) {
      if (!blank(ch)) throw json_error("list: bytes after the end of the JSON value");
    } else if (in_str_) {
      in_string(ch);
    } else {
      outside(ch);
    }
  }

  void in_string(char ch) {
    if (hex_left_ > 0) {
      const bool digit = std::isxdigit(static_cast<unsigned char>(ch)) != 0;
      const unsigned v = !digit ? 0u : ch <= '9' ? unsigned(ch - '0') : unsigned((ch | 0x20) - 'a' + 10);
      cp_ = cp_ * 16 + v;
      if (--hex_left_ == 0 && room()) {
        if (cp_ < 0x80) {
          text_.push_back(char(cp_));
        } else if (cp_ < 0x800) {
          text_.push_back(char(0xC0 | (cp_ >> 6)));
          text_.push_back(char(0x80 | (cp_ & 0x3F)));
        } else {
          text_.push_back(char(0xE0 | (cp_ >> 12)));
          text_.push_back(char(0x80 | ((cp_ >> 6) & 0x3F)));
          text_.push_back(char(0x80 | (cp_ & 0x3F)));
        }
      }
    } else if (after_backslash_) {
      after_backslash_ = false;
      static const std::string from = "ntrbf", to = "\n\t\r\b\f";
      if (ch == 'u') {
        hex_left_ = 4;
        cp_ = 0;
      } else if (room()) {
        const auto i = from.find(ch);
        text_.push_back(i == std::string::npos ? ch : to[i]);
      }
    } else if (ch == '\\') {
      after_backslash_ = true;
    } else if (ch == '"') {
      in_str_ = false;
      ended_string();
    } else if (room()) {
      text_.push_back(ch);
    }
  }

  void outside(char ch) {
    const std::size_t depth = st_.size();
    if (ch == '"') {
      in_str_ = true;
      is_key_ = depth > 0 && st_.back().kind == '{' && st_.back().want_key;
      const bool list_md = depth == 2 && st_[0].key == "metadata";
      const bool item_md = depth == 4 && st_[2].key == "metadata" && in_item_;
      capture_ = is_key_ ? depth <= 4 : (list_md || item_md);
      text_.clear();
    } else if (ch == '{' || ch == '[') {
      if (depth == 0 && ch == '[') throw json_error("list: the body is not a JSON object");
      if (depth == 2 && ch == '{' && st_[1].kind == '[' && st_[0].key == "items") {
        in_item_ = true;
        too_big_ = false;
        item_size_ = 1;
        raw_ = "{";
        im_ = {};
      }
      st_.push_back({ch, ch == '{', ""});
    } else if (ch == '}' || ch == ']') {
      if (depth == 0 || st_.back().kind != (ch == '}' ? '{' : '['))
        throw json_error("list: unbalanced JSON nesting");
      st_.pop_back();
      if (st_.empty()) {
        done_ = true;
      } else if (in_item_ && st_.size() == 2) {
        in_item_ = false;
        ++lm_.items;
        if (too_big_) out_.oversize.push_back(key_of(im_) + std::to_string(item_size_));
        else out_.items.push_back(key_of(im_) + raw_);
      }
    } else if (ch == ',') {
      if (depth > 0 && st_.back().kind == '{') st_.back().want_key = true;
    } else if (depth == 0 && ch != ':' && !blank(ch)) {
      throw json_error("list: the body is not a JSON object");
    }
  }

  void ended_string() {
    if (st_.empty()) throw json_error("list: the body is not a JSON object");
    frame& top = st_.back();
    if (is_key_) {
      top.key = text_;
      top.want_key = false;
      return;
    }
    if (!capture_) return;
    const std::string& k = top.key;
    if (st_.size() == 2) {
      if (k == "resourceVersion") lm_.resource_version = text_;
      if (k == "continue") lm_.continue_token = text_;
    } else {
      if (k == "name") im_.name = text_;
      if (k == "namespace") im_.namespace_name = text_;
      if (k == "uid") im_.uid = text_;
      if (k == "resourceVersion") im_.resource_version = text_;
    }
  }

  std::size_t max_;
  outcome& out_;
  std::vector<frame> st_;
  bool in_str_ = false, after_backslash_ = false, is_key_ = false, capture_ = false, done_ = false;
  bool in_item_ = false, too_big_ = false;
  int hex_left_ = 0;
  unsigned cp_ = 0;
  std::string text_, raw_;
  std::size_t item_size_ = 0;
  object_meta im_;
  list_meta lm_;
};

outcome by_oracle(std::string_view body, std::size_t max_item) {
  outcome o;
  oracle(max_item, o).run(body);
  return o;
}

// The splitter fed body cut at `cuts` (ascending offsets).
outcome by_splitter(std::string_view body, std::size_t max_item, const std::vector<std::size_t>& cuts) {
  outcome o;
  list_splitter s(
      max_item, [&](const object_meta& m, std::string_view raw) { o.items.push_back(key_of(m) + std::string(raw)); },
      [&](const object_meta& m, std::size_t bytes) { o.oversize.push_back(key_of(m) + std::to_string(bytes)); });
  try {
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
      s.feed(body.substr(from, cut - from));
      from = cut;
    }
    s.feed(body.substr(from));
    const list_meta lm = s.finish();
    o.meta = lm.resource_version + "|" + lm.continue_token + "|" + std::to_string(lm.items);
  } catch (const json_error& e) {
    o.meta = std::string("error: ") + e.what();
  }
  return o;
}

void same(std::string_view body, std::size_t max_item, const std::vector<std::size_t>& cuts) {
  const outcome want = by_oracle(body, max_item);
  const outcome got = by_splitter(body, max_item, cuts);
  if (got.meta == want.meta && got.items == want.items && got.oversize == want.oversize) return;
  std::string where;
  for (std::size_t c : cuts) where += std::to_string(c) + " ";
  INFO("body: " << body << "\nmax_item " << max_item << ", cuts: " << where);
  CHECK(got.meta == want.meta);
  CHECK(got.items == want.items);
  CHECK(got.oversize == want.oversize);
}

// Random List-shaped bodies with the hard parts: escapes of every kind, \u with and without
// surrogates, runs of backslashes before quotes, raw UTF-8, deep nesting, long strings, metadata
// keys at the wrong depths.
class body_maker {
 public:
  explicit body_maker(std::uint32_t seed) : rng_(seed) {}

  std::string list() {
    // A third of the bodies have no escapes at all, a third a few: blocks without a backslash
    // take another path through the splitter.
    plain_odds_ = std::array<int, 3>{6, 200, 1 << 30}[std::size_t(pick(3))];
    std::string s = "{";
    if (pick(4) == 0) s += R"("kind":"TaskRunList",)";
    if (pick(3) != 0) s += R"("metadata":{"resourceVersion":)" + str() + R"(,"continue":)" + str() + "},";
    s += R"("items":[)";
    const int n = pick(5);
    for (int i = 0; i < n; ++i) s += (i ? "," : "") + ws() + item();
    s += "]";
    if (pick(4) == 0) s += R"(,"metadata":{"continue":)" + str() + "}";
    return s + "}" + ws();
  }

  std::string mangled() {
    std::string s = list();
    const int edits = 1 + pick(3);
    static const std::string junk = "\"\\{}[],:u x\n";
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng_);
      switch (pick(3)) {
        case 0: s.erase(at, 1); break;
        case 1: s.insert(at, 1, junk[pick(int(junk.size()))]); break;
        default: s[at] = junk[pick(int(junk.size()))]; break;
      }
    }
    return s;
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937& rng() { return rng_; }

 private:
  std::string ws() {
    static const char* spaces[] = {"", "", " ", "\n  ", "\t", "\r\n"};
    return spaces[pick(6)];
  }

  std::string str() {
    std::string s = "\"";
    const int len = pick(10) == 0 ? 60 + pick(300) : pick(20);
    for (int i = 0; i < len; ++i) {
      if (pick(plain_odds_) == 0) {
        switch (pick(6)) {
          case 0: s += "\\\""; break;
          case 1: s += std::string(std::size_t(2 * (1 + pick(3))), '\\'); break;  // even run: literal backslashes
          case 2: s += "\\n"; break;
          case 3: s += pick(2) ? "\\u00e9" : "\\/"; break;
          case 4: s += "\\uD83D\\uDE00"; break;
          default: s += "\\u41zz"; break;  // not hex: read as 0 digits
        }
        continue;
      }
      switch (pick(12)) {
        case 0: s += "\xc3\xa9"; break;
        case 1: s += "\xe2\x82\xac\xf0\x9f\x98\x80"; break;
        case 2: s += "{[,]}:"; break;
        case 3: s += pick(2) ? "}" : "]"; break;
        default: s += char('a' + pick(26)); break;
      }
    }
    if (pick(30) == 0) s += std::string(4100, 'x');  // past the captured-string limit
    if (plain_odds_ < 1000 && pick(60) == 0) s += "\\u4";  // a short \u eats the closing quote as a digit
    return s + "\"";
  }

  std::string value(int depth) {
    switch (depth > 6 ? pick(3) : pick(6)) {
      case 0: return str();
      case 1: return std::to_string(pick(100000));
      case 2: return pick(2) ? "true" : "null";
      case 3: return object(depth + 1);
      case 4: {
        std::string s = "[";
        const int n = pick(4);
        for (int i = 0; i < n; ++i) s += (i ? "," : "") + value(depth + 1);
        return s + "]";
      }
      default: return object(depth + 1);
    }
  }

  std::string object(int depth) {
    static const char* keys[] = {"name", "namespace", "uid", "resourceVersion", "metadata", "items", "spec", "x\\\"y"};
    std::string s = "{";
    const int n = pick(5);
    for (int i = 0; i < n; ++i) {
      s += (i ? "," : "") + ws();
      s += pick(3) ? std::string("\"") + keys[pick(8)] + "\"" : str();
      s += ":" + ws() + value(depth);
    }
    return s + "}";
  }

  std::string item() {
    std::string md = "{";
    static const char* fields[] = {"name", "namespace", "uid", "resourceVersion", "labels"};
    const int n = 1 + pick(5);
    for (int i = 0; i < n; ++i) {
      const int f = pick(5);
      md += std::string(i ? "," : "") + "\"" + fields[f] + "\":" + (f == 4 ? object(4) : str());
    }
    md += "}";
    std::string s = "{";
    if (pick(2)) s += R"("apiVersion":"tekton.dev/v1",)";
    s += R"("metadata":)" + md;
    if (pick(2)) s += R"(,"spec":)" + object(3);
    if (pick(2)) s += R"(,"status":)" + object(3);
    return s + "}";
  }

  std::mt19937 rng_;
  int plain_odds_ = 14;  // one char in plain_odds_ is an escape or another odd one
};

std::vector<std::size_t> random_cuts(std::mt19937& rng, std::size_t size) {
  std::vector<std::size_t> cuts;
  if (size == 0) return cuts;
  std::uniform_int_distribution<int> style(0, 3);
  const int how = style(rng);
  for (std::size_t at = 0;;) {
    std::size_t step;
    if (how == 0) step = 1 + rng() % 3;          // many tiny pieces
    else if (how == 1) step = 1 + rng() % 200;   // around a block
    else if (how == 2) step = 60 + rng() % 10;   // just under and over 64
    else step = 1 + rng() % 5000;
    at += step;
    if (at >= size) break;
    cuts.push_back(at);
  }
  return cuts;
}

}  // namespace

TEST_CASE("byte_classes: the masks of a block or a partial block are its bytes' classes") {
  std::mt19937 rng(7);
  const std::string alphabet = "\"\\{}[],:ax \n\xc3\xa9";
  for (int round = 0; round < 2000; ++round) {
    char buf[64];
    for (char& c : buf) c = alphabet[rng() % alphabet.size()];
    const std::size_t n = round % 65;
    const byte_classes got = byte_classes::of(buf, n);
    byte_classes want;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t bit = std::uint64_t{1} << i;
      if (buf[i] == '"') want.quote |= bit;
      if (buf[i] == '\\') want.backslash |= bit;
      if (buf[i] == ',') want.comma |= bit;
      if (std::string_view("{}[]").find(buf[i]) != std::string_view::npos) want.bracket |= bit;
    }
    INFO("round " << round);
    CHECK(got.quote == want.quote);
    CHECK(got.backslash == want.backslash);
    CHECK(got.comma == want.comma);
    CHECK(got.bracket == want.bracket);
  }
}

TEST_CASE("list_splitter: random bodies in random pieces read as the byte-at-a-time oracle does") {
  body_maker make(20261204);
  std::size_t items = 0, oversize = 0, errors = 0;
  for (int round = 0; round < 1500; ++round) {
    const std::string body = round % 3 == 2 ? make.mangled() : make.list();
    const std::size_t max_item = make.pick(4) == 0 ? 1 + make.pick(400) : 1 << 20;
    const outcome o = by_oracle(body, max_item);
    items += o.items.size();
    oversize += o.oversize.size();
    errors += o.meta.rfind("error", 0) == 0;
    same(body, max_item, random_cuts(make.rng(), body.size()));
    same(body, max_item, {});
  }
  // The bodies did carry items, big ones, and broken ones.
  CHECK(items > 1000);
  CHECK(oversize > 100);
  CHECK(errors > 100);
  CHECK(errors < 1000);
}

TEST_CASE("list_splitter: every two-piece cut of a body full of escapes") {
  const std::string body =
      R"({"metadata":{"resourceVersion":"7\\\"\\","continue":"a\u00e9\/b"},"items":[)"
      R"({"metadata":{"name":"n\\\\\"\\\\","namespace":"\uD83D\uDE00)" "\xe2\x82\xac" R"(","uid":"\u41zz","resourceVersion":"x"}},)"
      R"({"metadata":{"name":")" + std::string(70, 'q') + R"(\\"},"spec":{"a":[{"b":"}\"]"}],"c":"\\\\"}}]})" "\n";
  for (std::size_t max_item : {std::size_t{1} << 20, std::size_t{60}}) {
    same(body, max_item, {});
    for (std::size_t cut = 1; cut < body.size(); ++cut) same(body, max_item, {cut});
    for (std::size_t cut = 1; cut + 3 < body.size(); cut += 5) same(body, max_item, {cut, cut + 1, cut + 3});
  }
  CHECK(by_oracle(body, 1 << 20).items.size() == 2);
}

TEST_CASE("list_splitter: an item of exactly the limit is handed out, one byte more is not") {
  const std::string item = R"({"metadata":{"name":"edge"},"data":")" + std::string(100, 'z') + R"("})";
  const std::string body = R"({"items":[)" + item + "]}";
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{64}, body.size()}) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = piece; at < body.size(); at += piece) cuts.push_back(at);
    const outcome fits = by_splitter(body, item.size(), cuts);
    REQUIRE(fits.items.size() == 1);
    CHECK(fits.items[0] == "/edge//|" + item);
    const outcome over = by_splitter(body, item.size() - 1, cuts);
    CHECK(over.items.empty());
    REQUIRE(over.oversize.size() == 1);
    CHECK(over.oversize[0] == "/edge//|" + std::to_string(item.size()));
  }
}
