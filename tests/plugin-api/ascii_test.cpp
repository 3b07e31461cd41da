// ASCII case folding: letters only, other bytes (digits, punctuation, UTF-8) unchanged.
#include <chainsd/plugin/ascii.hpp>

#include <catch2/catch.hpp>

using namespace chainsd::plugin;

TEST_CASE("iequals compares HTTP header names without case") {
  CHECK(iequals("WWW-Authenticate", "www-authenticate"));
  CHECK(iequals("OCI-Subject", "oci-SUBJECT"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Location", "Locations"));
  CHECK_FALSE(iequals("Content-Type", "Content_Type"));
  CHECK_FALSE(iequals("\xc3\x89", "\xc3\xa9"));  // É and é: not ASCII, not folded
}

TEST_CASE("to_lower_ascii folds A-Z only") {
  CHECK(to_lower_ascii("Bearer") == "bearer");
  CHECK(to_lower_ascii("Registry.Example:5000") == "registry.example:5000");
  CHECK(to_lower_ascii("X-Amz-Date_1@[]") == "x-amz-date_1@[]");
  CHECK(to_lower_ascii("\xc3\x89T\xc3\x89") == "\xc3\x89t\xc3\x89");
  CHECK(to_lower_ascii("") == "");
}
