// Go's strconv.ParseBool spellings, exactly: Go accepts these twelve and nothing else.
#include <chainsd/plugin/parse_bool.hpp>

#include <catch2/catch.hpp>

using chainsd::plugin::parse_go_bool;

TEST_CASE("parse_go_bool takes Go's twelve spellings") {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) CHECK(parse_go_bool(t) == true);
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) CHECK(parse_go_bool(f) == false);
}

TEST_CASE("parse_go_bool refuses everything else") {
  for (const char* bad : {"", " true", "true ", "tRUE", "yes", "no", "on", "2", "00", "TrUe", "FaLsE", "y"}) {
    INFO(bad);
    CHECK_FALSE(parse_go_bool(bad).has_value());
  }
}
