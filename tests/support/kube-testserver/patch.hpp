#pragma once
// Patch formats (RFC 7386 merge, strategic merge, RFC 6902 JSON patch) and the managed-fields
// bookkeeping behind server-side apply. Pure JSON transformations; the store decides when to
// call them and what to do with errors.

#include "util.hpp"

#include <stdexcept>
#include <string>

namespace chainsd::testserver {

// Carries the HTTP status and Status reason the API should answer with.
struct api_error : std::runtime_error {
  api_error(unsigned code, std::string reason, const std::string& message,
            json::array causes = {})
      : std::runtime_error(message), code(code), reason(std::move(reason)), causes(std::move(causes)) {}
  unsigned code;
  std::string reason;
  json::array causes;
  json::object details;  // when set: Status.details as is (422 Invalid carries group/kind/name/causes)
};

void apply_merge_patch(json::value& target, const json::value& patch);
void apply_strategic_merge_patch(json::value& target, const json::value& patch);
// Throws api_error 422 (Invalid) on a failed "test" or a bad path, as kube-apiserver does.
void apply_json_patch(json::value& target, const json::value& patch);

// Managed fields. A field set is a fieldsV1 tree ({"f:metadata":{"f:labels":{"f:a":{}}}});
// lists are treated as atomic leaves (no k:/v: keys), which is what kube does for lists without
// merge keys and is enough for the labels/annotations/data maps the tests use.
struct field_manager_context {
  std::string manager;
  std::string api_version;
  std::string subresource;  // "" or "status"
  bool include_status = true;   // false on the main resource of a type with a status subresource
  bool only_status = false;     // the /status subresource: only status is owned
};

// Server-side apply of `applied` (a partial object) onto `live` (null when creating).
// Returns the new object with metadata.managedFields updated; throws api_error 409 on conflicts
// unless `force`.
json::value server_side_apply(const json::value* live, const json::value& applied,
                              const field_manager_context& ctx, bool force);

// After a non-apply write (create, update, patch): gives `ctx.manager` the fields whose values
// changed between `before` (null on create) and `after`, taking them from other managers.
void record_update(const json::value* before, json::value& after,
                   const field_manager_context& ctx);

}  // namespace chainsd::testserver
