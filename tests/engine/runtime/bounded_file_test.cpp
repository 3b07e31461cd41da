// runtime::read_bounded_file: regular files only, a cap refused (never truncated), fifos refused
// without blocking, errors naming the config key and the path.
#include <catch2/catch.hpp>

#include "runtime/bounded_file.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using chainsd::runtime::file_error;
using chainsd::runtime::read_bounded_file;

namespace {

struct scratch {
  fs::path dir = fs::temp_directory_path() / ("chainsd-bounded-" + std::to_string(std::random_device{}()));
  scratch() { fs::create_directories(dir); }
  ~scratch() { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return dir / name;
  }
};

file_error::kind kind_of_failure(const std::string& path, std::size_t max, std::string* message) {
  try {
    read_bounded_file(path, max, "some.key");
  } catch (const file_error& e) {
    *message = e.what();
    return e.which();
  }
  FAIL("read succeeded: " << path);
  return file_error::kind::missing;
}

}  // namespace

TEST_CASE("bounded file: reads a regular file up to its cap, through a symlink") {
  scratch s;
  auto p = s.write("a.pem", std::string(1000, 'x'));
  CHECK(read_bounded_file(p.string(), 1000, "k").size() == 1000);
  fs::create_symlink(p, s.dir / "link");
  CHECK(read_bounded_file((s.dir / "link").string(), 1000, "k") == std::string(1000, 'x'));
  CHECK(read_bounded_file(s.write("empty", "").string(), 10, "k").empty());
}

TEST_CASE("bounded file: refusals name the key, the path and the reason") {
  scratch s;
  std::string m;
  CHECK(kind_of_failure(s.write("big", std::string(1001, 'x')).string(), 1000, &m) == file_error::kind::refused);
  CHECK_THAT(m, Catch::Contains("some.key: " + (s.dir / "big").string() + " is 1001 bytes, more than the 1000 bytes allowed"));
  CHECK(kind_of_failure("/dev/zero", 65536, &m) == file_error::kind::refused);
  CHECK(m == "some.key: /dev/zero is a character device, not a regular file");
  CHECK(kind_of_failure(s.dir.string(), 65536, &m) == file_error::kind::refused);
  CHECK_THAT(m, Catch::Contains("is a directory, not a regular file"));
  REQUIRE(::mkfifo((s.dir / "fifo").c_str(), 0600) == 0);  // no writer: a blocking open would hang here
  CHECK(kind_of_failure((s.dir / "fifo").string(), 65536, &m) == file_error::kind::refused);
  CHECK_THAT(m, Catch::Contains("is a fifo, not a regular file"));
  CHECK(kind_of_failure((s.dir / "absent").string(), 65536, &m) == file_error::kind::missing);
  CHECK_THAT(m, Catch::Contains("some.key: " + (s.dir / "absent").string() + " cannot be read: No such file"));
}

TEST_CASE("bounded file: a file whose size says 0 (procfs) is read to the cap, and refused past it") {
  CHECK_THAT(read_bounded_file("/proc/self/status", 65536, "k"), Catch::Contains("VmRSS:"));
  std::string m;
  CHECK(kind_of_failure("/proc/self/status", 100, &m) == file_error::kind::refused);
  CHECK_THAT(m, Catch::Contains("grew past the 100 bytes allowed while read"));
}
