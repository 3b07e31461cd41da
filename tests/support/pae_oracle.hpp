#pragma once
// DSSE's pre-authentication encoding written out from the specification, for tests that check
// signatures independently of engine/signing's own pae():
//   "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body   (lengths in ASCII decimal bytes)

#include <string>
#include <string_view>

namespace chainsd::test_support {

inline std::string pae_oracle(std::string_view type, std::string_view body) {
  return "DSSEv1 " + std::to_string(type.size()) + " " + std::string(type) + " " + std::to_string(body.size()) + " " +
         std::string(body);
}

}  // namespace chainsd::test_support

namespace test_support = chainsd::test_support;
