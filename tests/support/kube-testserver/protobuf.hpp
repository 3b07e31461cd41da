#pragma once
// Request bodies in Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf), as
// client-go's typed clients send them for built-in kinds (`kubectl create configmap|secret|
// serviceaccount|token`): the envelope "k8s\0" + runtime.Unknown{typeMeta=1, raw=2,
// contentEncoding=3, contentType=4}, raw holding the kind's generated.proto message. Decoded into
// the JSON the store keeps, with Go's omitempty (gogo-protobuf writes every non-pointer field,
// empty or not, so empty strings, zero numbers and zero times mean "unset").

#include "resources.hpp"

#include <string_view>

namespace chainsd::testserver {

// The object in `body` as JSON (apiVersion and kind from the envelope). Throws api_error 400 for
// a malformed envelope and 415 UnsupportedMediaType for a kind this server cannot decode.
json::value decode_protobuf_object(std::string_view body);

}  // namespace chainsd::testserver
