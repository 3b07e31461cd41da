#pragma once
// Small helpers shared by the test API server: YAML → JSON, timestamps, ids, base64.
// Nothing here touches Asio, so these files compile in seconds.

#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::testserver {

namespace json = boost::json;

// Parses one JSON value or, failing that, one YAML document. Throws std::runtime_error with the
// parser's message; callers turn it into a 400 BadRequest.
json::value parse_json_or_yaml(std::string_view text);

// Parses every document in `text`: a stream of JSON values (objects back to back or one per
// line) or a multi-document YAML file. Empty documents are skipped.
std::vector<json::value> parse_documents(std::string_view text);
// Same, handing each document to `fn` as soon as it is parsed: preloading 100k objects then
// never holds more than one parsed tree. With `transient`, each JSON document lives in a scratch
// arena that is recycled after `fn` returns (fn must not keep the value): ~2x faster parsing.
void for_each_document(std::string_view text, const std::function<void(json::value&&)>& fn,
                       bool transient = false);

// json::serialize's output meaning, several times faster on the long strings objects carry
// (Tekton Chains' annotations: tens of KB of base64 each): strings are copied in 16-byte runs.
// Every stored object is serialized once per write, so this is the server's main cost per patch.
std::string to_json(const json::value& v);
void append_json(std::string& out, const json::value& v);

// RFC 3339 with second precision, as kube-apiserver writes creationTimestamp.
std::string rfc3339(std::chrono::system_clock::time_point t);
std::string now_rfc3339();
// Same with microseconds, as kube writes MicroTime fields (lease renewTime, event eventTime).
std::string now_rfc3339_micro();

std::string random_uuid();
// Five characters from Kubernetes' generateName alphabet (no vowels, no confusable digits).
std::string random_suffix();

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);
bool base64url_decode(std::string_view in, std::string& out);

bool parse_uint(std::string_view s, std::uint64_t& out);

// Returns the string at obj[key] or empty.
std::string_view string_at(const json::object& obj, std::string_view key);
json::object* object_at(json::object& obj, std::string_view key);
const json::object* object_at(const json::object& obj, std::string_view key);

}  // namespace chainsd::testserver
