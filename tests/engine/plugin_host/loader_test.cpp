#include <catch2/catch.hpp>

#include "plugin_host/registry.hpp"
#include "../../support/fake_host.hpp"
#include "../../support/prerequisites.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace chainsd;

namespace {

using test_support::fake_host;

// A private plugin directory holding copies of the test modules (mode 0755, dir 0755).
struct plugin_dir {
  fs::path path;
  plugin_dir() {
    const char* build = std::getenv("TEST_PLUGIN_BUILD_DIR");
    REQUIRE(build != nullptr);
    path = fs::temp_directory_path() / ("chainsd-plugins-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
    ::chmod(path.c_str(), 0755);
    for (const auto& e : fs::directory_iterator(build)) {
      if (e.path().extension() != ".so") continue;
      auto dst = path / e.path().filename();
      fs::copy_file(e.path(), dst, fs::copy_options::overwrite_existing);
      ::chmod(dst.c_str(), 0755);
    }
  }
  ~plugin_dir() { fs::remove_all(path); }
};


std::string reason_for(const plugin_host::scan_result& r, std::string_view file) {
  for (const auto& rej : r.rejected)
    if (fs::path(rej.path).filename() == file) return rej.reason;
  return "<accepted or absent>";
}

}  // namespace

TEST_CASE("loader accepts good plugins and rejects each broken one with its reason") {
  plugin_dir dir;
  fs::copy_file(dir.path / "a_good_signer.so", dir.path / "z_world_writable.so");
  ::chmod((dir.path / "z_world_writable.so").c_str(), 0666);
  fs::create_directory(dir.path / "subdir.so");

  ::unsetenv("CHAINSD_TEST_STATIC_INIT_RAN");
  auto r = plugin_host::scan_plugins(dir.path);
  // The descriptor is read from the file: no refused plugin was loaded (none ran its static
  // initializers).
  CHECK(std::getenv("CHAINSD_TEST_STATIC_INIT_RAN") == nullptr);
  REQUIRE(r.accepted.size() == 3);
  CHECK(r.accepted[0].name == "echo");
  CHECK(r.accepted[0].version == "1.2.3");
  CHECK(r.accepted[0].make_signer != nullptr);
  CHECK(r.accepted[1].name == "note");
  CHECK(r.accepted[1].kind == "storage");
  CHECK(r.accepted[2].name == "throwing");

  CHECK_THAT(reason_for(r, "b_duplicate_signer.so"), Catch::Contains("already provided by") && Catch::Contains("a_good_signer.so"));
  CHECK_THAT(reason_for(r, "c_bad_magic.so"), Catch::Contains("bad descriptor magic"));
  CHECK_THAT(reason_for(r, "d_wrong_build_id.so"), Catch::Contains("build id 0123456789abcdef") && Catch::Contains("rebuild it"));
  CHECK_THAT(reason_for(r, "e_missing_factory.so"), Catch::Contains("no chainsd_plugin_factory"));
  CHECK_THAT(reason_for(r, "f_not_a_plugin.so"), Catch::Contains("not a chainsd plugin"));
  CHECK_THAT(reason_for(r, "z_world_writable.so"), Catch::Contains("writable by group or others (mode 0666)"));
  CHECK_THAT(reason_for(r, "subdir.so"), Catch::Contains("not a regular file"));
  CHECK_THAT(reason_for(r, "i_v1_descriptor.so"),
             Catch::Contains("descriptor version 1") && Catch::Contains("no longer accepted") &&
                 Catch::Contains("rebuild the plugin"));
}

TEST_CASE("loader: the descriptor is read from the ELF file; non-ELF, symlinked and truncated files are refused") {
  plugin_dir dir;
  {
    std::ofstream(dir.path / "text.so") << "not an ELF file at all";
    ::chmod((dir.path / "text.so").c_str(), 0644);
  }
  fs::create_symlink(dir.path / "a_good_signer.so", dir.path / "link.so");
  {
    // The first 4 KiB of a good plugin: the ELF header is there, its section headers are not.
    std::ifstream in(dir.path / "a_good_signer.so", std::ios::binary);
    std::string head(4096, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(dir.path / "truncated.so", std::ios::binary) << head;
    ::chmod((dir.path / "truncated.so").c_str(), 0644);
  }
  auto r = plugin_host::scan_plugins(dir.path);
  CHECK_THAT(reason_for(r, "text.so"), Catch::Contains("not an ELF file"));
  CHECK_THAT(reason_for(r, "link.so"), Catch::Contains("symbolic link"));
  CHECK_THAT(reason_for(r, "truncated.so"), Catch::Contains("not a chainsd plugin"));
  CHECK(r.accepted.size() == 3);
}

TEST_CASE("loader: owner must be root or chainsd's uid; no directory above writable by others unless sticky") {
  plugin_dir dir;
  SECTION("a plugin owned by another user is refused") {
    if (::geteuid() != 0) {
      TEST_SUPPORT_SKIP_SECTION("not root: cannot chown a file to another user");
      return;
    }
    REQUIRE(::chown((dir.path / "g_storage.so").c_str(), 4242, 4242) == 0);
    auto r = plugin_host::scan_plugins(dir.path);
    CHECK_THAT(reason_for(r, "g_storage.so"), Catch::Contains("owned by uid 4242") && Catch::Contains("root or that uid only"));
    CHECK(r.accepted.size() == 2);
  }
  SECTION("a plugin directory owned by another user is refused") {
    if (::geteuid() != 0) {
      TEST_SUPPORT_SKIP_SECTION("not root: cannot chown a directory to another user");
      return;
    }
    REQUIRE(::chown(dir.path.c_str(), 4242, 4242) == 0);
    auto r = plugin_host::scan_plugins(dir.path);
    CHECK(r.accepted.empty());
    REQUIRE(r.rejected.size() == 1);
    CHECK_THAT(r.rejected[0].reason, Catch::Contains("plugin directory is owned by uid 4242"));
  }
  SECTION("a world-writable parent without the sticky bit is refused; with it, accepted") {
    const fs::path parent = dir.path / "open";
    const fs::path plugins = parent / "plugins";
    fs::create_directories(plugins);
    ::chmod(plugins.c_str(), 0755);
    fs::copy_file(dir.path / "a_good_signer.so", plugins / "a_good_signer.so");
    ::chmod((plugins / "a_good_signer.so").c_str(), 0755);
    ::chmod(parent.c_str(), 0777);
    auto r = plugin_host::scan_plugins(plugins);
    CHECK(r.accepted.empty());
    REQUIRE(r.rejected.size() == 1);
    CHECK_THAT(r.rejected[0].reason, Catch::Contains("parent directory " + parent.string()) &&
                                         Catch::Contains("without the sticky bit"));
    ::chmod(parent.c_str(), 01777);
    auto ok = plugin_host::scan_plugins(plugins);
    CHECK(ok.accepted.size() == 1);
  }
  SECTION("a world-writable parent on a read-only mount (the Deployment's emptyDir) is accepted") {
    const fs::path mnt = dir.path / "emptydir";
    fs::create_directories(mnt);
    if (::mount("none", mnt.c_str(), "tmpfs", 0, "mode=0777") != 0) {
      TEST_SUPPORT_SKIP_SECTION("cannot mount a tmpfs here");
      return;
    }
    const fs::path plugins = mnt / "plugins";
    fs::create_directories(plugins);
    ::chmod(plugins.c_str(), 0755);
    fs::copy_file(dir.path / "a_good_signer.so", plugins / "a_good_signer.so");
    ::chmod((plugins / "a_good_signer.so").c_str(), 0644);
    auto rw = plugin_host::scan_plugins(plugins);
    CHECK(rw.accepted.empty());  // writable by anyone: refused
    REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
    auto ro = plugin_host::scan_plugins(plugins);
    ::umount2(mnt.c_str(), MNT_DETACH);
    CHECK(ro.accepted.size() == 1);
  }
}

TEST_CASE("a group- or world-writable plugin directory is refused as a whole") {
  plugin_dir dir;
  ::chmod(dir.path.c_str(), 0777);
  auto r = plugin_host::scan_plugins(dir.path);
  CHECK(r.accepted.empty());
  REQUIRE(r.rejected.size() == 1);
  CHECK_THAT(r.rejected[0].reason, Catch::Contains("plugin directory is writable by group or others"));
  ::chmod(dir.path.c_str(), 0755);
}

TEST_CASE("a missing plugin directory yields a clear rejection") {
  auto r = plugin_host::scan_plugins("/nonexistent/chainsd/plugins");
  REQUIRE(r.rejected.size() == 1);
  CHECK_THAT(r.rejected[0].reason, Catch::Contains("does not exist"));
}

TEST_CASE("registry builds instances, classifies factory errors and lists installed names") {
  plugin_dir dir;
  plugin_host::registry reg(plugin_host::scan_plugins(dir.path));
  fake_host host;

  SECTION("a working signer signs through its awaitable interface") {
    auto s = reg.make_signer("echo", host, {{"test.prefix", "p:"}});
    REQUIRE(s.has_value());
    auto fut = boost::asio::co_spawn(host.ctx, (*s)->sign("hello"), boost::asio::use_future);
    host.ctx.run();
    auto sig = fut.get();
    REQUIRE(sig.has_value());
    CHECK(sig->signature == "p:hello");
  }
  SECTION("bad config from the factory is returned as bad_config") {
    auto s = reg.make_signer("echo", host, {{"test.prefix", "bad"}});
    REQUIRE(s.has_error());
    CHECK(s.error().code == plugin::errc::bad_config);
    CHECK_THAT(s.error().message, Catch::Contains("test.prefix"));
  }
  SECTION("an exception escaping a factory becomes permanent, naming the plugin and version") {
    auto s = reg.make_signer("throwing", host, {});
    REQUIRE(s.has_error());
    CHECK(s.error().code == plugin::errc::permanent);
    CHECK_THAT(s.error().message, Catch::Contains("signer plugin throwing 0.0.1 threw: factory exploded"));
  }
  SECTION("an unknown name is not_found with the installed list") {
    auto s = reg.make_signer("kms", host, {});
    REQUIRE(s.has_error());
    CHECK(s.error().code == plugin::errc::not_found);
    CHECK_THAT(s.error().message, Catch::Contains("installed: echo, throwing"));
    auto st = reg.make_storage("oci", host, {});
    REQUIRE(st.has_error());
    CHECK_THAT(st.error().message, Catch::Contains("installed: note"));
  }
  SECTION("storage plugins return annotations for the engine's single patch") {
    auto st = reg.make_storage("note", host, {});
    REQUIRE(st.has_value());
    plugin::store_request req;
    req.short_key = "taskrun-1";
    req.payload = "{}";
    auto fut = boost::asio::co_spawn(host.ctx, (*st)->store(req), boost::asio::use_future);
    host.ctx.run();
    auto res = fut.get();
    REQUIRE(res.has_value());
    CHECK(res->annotations.at("test/stored-taskrun-1") == "{}");
  }
}
