#pragma once
// What kube-apiserver 1.32 refuses in an object's metadata (apimachinery's ValidateObjectMeta,
// ValidateLabels, ValidateAnnotations), with its texts: 422 Invalid whose message aggregates the
// field errors and whose Status.details carry group, kind, name and one cause per error.

#include "patch.hpp"
#include "resources.hpp"

#include <string>
#include <vector>

namespace chainsd::testserver {

// The byte limits the texts mention.
inline constexpr std::size_t total_annotation_size_limit = 256 * 1024;  // TotalAnnotationSizeLimitB
inline constexpr std::size_t max_request_body_bytes = 3 * 1024 * 1024;  // apiserver MaxRequestBodyBytes
inline constexpr std::size_t etcd_max_request_bytes = 3 * 512 * 1024;    // etcd --max-request-bytes default

// One field.Error: `type` is its CauseType (FieldValueInvalid, …), `body` its ErrorBody()
// ("Invalid value: \"x\": …", "Too long: must have at most 262144 bytes").
struct field_error {
  std::string type;
  std::string field;
  std::string body;
};

// Go's %q of a string, as field.Invalid prints bad values.
std::string go_quote(std::string_view s);

// Errors in md (a create's or an update's resulting metadata) for type t. Names of objects are
// DNS-1123 subdomains (namespaces: labels), generateName the same with a trailing '-' allowed.
// `creating`: also name, generateName and namespace (an update cannot change them; kube checks
// only labels and annotations again).
std::vector<field_error> validate_object_meta(const resource_type& t, const json::object& md, bool creating);

// Throws 422 Invalid for `errs` (non-empty) the way apierrors.NewInvalid builds it.
[[noreturn]] void throw_invalid(const resource_type& t, std::string_view name, const std::vector<field_error>& errs);

// validate_object_meta, then throw_invalid when anything is wrong.
void check_object_meta(const resource_type& t, const json::object& md, bool creating);

}  // namespace chainsd::testserver
