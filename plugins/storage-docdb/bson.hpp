#pragma once
// The part of BSON (bsonspec.org, version 1.1) the docdb backend needs: a writer for the commands
// and documents it sends, and a reader for the replies. Little-endian, length-prefixed, keys are
// NUL-terminated (so they may not contain NUL). Pure: no I/O.

#include <chainsd/plugin/errors.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace storage_docdb::bson {

enum class type : std::uint8_t {
  double_ = 0x01,
  string = 0x02,
  document = 0x03,
  array = 0x04,
  binary = 0x05,
  object_id = 0x07,
  boolean = 0x08,
  date_time = 0x09,
  null = 0x0A,
  int32 = 0x10,
  timestamp = 0x11,
  int64 = 0x12,
};

// Appends elements to one document; finish() closes it. Nested documents and arrays are built
// with their own writer and added as bytes.
class writer {
 public:
  writer();
  writer& add_double(std::string_view key, double v);
  writer& add_string(std::string_view key, std::string_view v);
  writer& add_document(std::string_view key, std::string_view encoded);
  writer& add_array(std::string_view key, std::string_view encoded);  // a document keyed "0", "1", ...
  writer& add_binary(std::string_view key, std::string_view bytes, std::uint8_t subtype = 0);
  writer& add_bool(std::string_view key, bool v);
  writer& add_null(std::string_view key);
  writer& add_int32(std::string_view key, std::int32_t v);
  writer& add_int64(std::string_view key, std::int64_t v);
  // The encoded document. The writer is empty afterwards.
  std::string finish();

 private:
  void key(type t, std::string_view k);
  std::string out_;
};

// A decoded element. Documents and arrays hold their members in `items` (each with its `key`).
struct value {
  type kind = type::null;
  std::string key;
  double number = 0;        // double_
  std::int64_t integer = 0; // int32, int64, date_time, timestamp
  bool flag = false;        // boolean
  std::string bytes;        // string, binary, object_id
  std::uint8_t subtype = 0; // binary
  std::vector<value> items; // document, array

  const value* find(std::string_view k) const;  // a member of a document, or null
  bool is_number() const { return kind == type::double_ || kind == type::int32 || kind == type::int64; }
  double as_double() const { return kind == type::double_ ? number : static_cast<double>(integer); }
  // A string member's text, or `fallback`.
  std::string string_or(std::string_view k, std::string_view fallback = {}) const;
};

// Decodes one whole document (no trailing bytes). Errors are `permanent` and say where.
chainsd::plugin::result<value> decode(std::string_view doc);

// JSON text → a BSON document, types as Go's encoding/json gives them to the Go BSON encoder
// (numbers as doubles, objects in their order). Fails on JSON that is not an object.
chainsd::plugin::result<std::string> from_json(std::string_view json);

// Little-endian int32 at `p` (callers check the bounds).
std::int32_t read_int32(const char* p);
void append_int32(std::string& out, std::int32_t v);

}  // namespace storage_docdb::bson
