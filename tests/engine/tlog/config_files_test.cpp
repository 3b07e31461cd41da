// Files the transparency.* keys name are read bounded (issue 23: transparency.publickey=/dev/zero
// grew RSS to 2.7 GB): regular files only, 64 KiB for PEM, 1 MiB for trust JSON, errors naming the
// key and the path; memory measured around the refusal.
#include <catch2/catch.hpp>

#include "../../support/rss.hpp"
#include "config/config.hpp"
#include "tlog/setup.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace chainsd;

namespace {

config::config with(const config::data_map& data) {
  auto parsed = config::parse(data);
  REQUIRE(parsed.ok());
  return *parsed.value;
}

std::string refusal(const config::config& cfg) {
  try {
    tlog::logger_options_for(cfg, tlog::read_config_file, 0);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("accepted");
  return {};
}

}  // namespace

TEST_CASE("transparency.publickey=/dev/zero is refused naming the key, and memory stays flat") {
  auto before = test_support::rss_kib();
  auto m = refusal(with({{"transparency.enabled", "true"}, {"transparency.publickey", "/dev/zero"}}));
  auto after = test_support::rss_kib();
  std::printf("transparency.publickey=/dev/zero: RSS %ld KiB before, %ld KiB after\n", before, after);
  CHECK(m == "transparency.publickey: /dev/zero is a character device, not a regular file");
  CHECK(after - before < 8 * 1024);  // an unbounded read grows by hundreds of MiB a second
}

TEST_CASE("other files the transparency keys name: a fifo, a directory, a PEM over 64 KiB, trust JSON over 1 MiB") {
  auto dir = fs::temp_directory_path() / ("chainsd-tlog-files-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  std::ofstream(dir / "big.pem") << std::string(65 * 1024, 'A');
  std::ofstream(dir / "big.json") << std::string((1 << 20) + 1, ' ');
  auto fifo = (dir / "fifo").string();
  CHECK(refusal(with({{"transparency.enabled", "true"}, {"transparency.publickey", fifo}})) ==
        "transparency.publickey: " + fifo + " is a fifo, not a regular file");
  CHECK(refusal(with({{"transparency.enabled", "true"}, {"transparency.publickey", dir.string()}})) ==
        "transparency.publickey: " + dir.string() + " is a directory, not a regular file");
  CHECK(refusal(with({{"transparency.enabled", "true"}, {"transparency.publickey", (dir / "big.pem").string()}})) ==
        "transparency.publickey: " + (dir / "big.pem").string() + " is 66560 bytes, more than the 64 KiB allowed");
  CHECK(refusal(with({{"transparency.timestamp.url", "http://127.0.0.1:9"},
                      {"transparency.timestamp.certchain", "/dev/urandom"}})) ==
        "transparency.timestamp.certchain: /dev/urandom is a character device, not a regular file");
  CHECK(refusal(with({{"transparency.enabled", "true"}, {"transparency.trusted-root", (dir / "big.json").string()}})) ==
        "transparency.trusted-root: " + (dir / "big.json").string() + " is 1048577 bytes, more than the 1 MiB allowed");
  fs::remove_all(dir);
}
