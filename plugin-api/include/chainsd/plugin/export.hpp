#pragma once
// What a plugin writes once, at namespace scope in one of its .cpp files:
//
//   chainsd::plugin::result<std::unique_ptr<chainsd::plugin::signer>>
//   make_my_signer(chainsd::plugin::host& h, const chainsd::plugin::config_map& cfg);
//   CHAINSD_SIGNER_PLUGIN("my-signer", "1.0.0", make_my_signer)
//
// (CHAINSD_STORAGE_PLUGIN for storage.) The name is the chains-config value that selects the plugin.
// A factory validates the config it needs and returns bad_config naming the key; it must not
// block for long (it runs on the loop), except for reading secrets once.

#include "chainsd/plugin/abi.h"
#include "chainsd/plugin/build_id.h"
#include "chainsd/plugin/config.hpp"
#include "chainsd/plugin/host.hpp"
#include "chainsd/plugin/signer.hpp"
#include "chainsd/plugin/storage.hpp"

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

#include <memory>
#include <type_traits>

namespace chainsd::plugin {

using signer_factory = result<std::unique_ptr<signer>>(host&, const config_map&);
using storage_factory = result<std::unique_ptr<storage>>(host&, const config_map&);

}  // namespace chainsd::plugin

// A const object without pointers: it lands in .rodata with no relocation, so the loader can read
// it from the file before dlopen. A name or version too long for its field does not compile.
#define CHAINSD_PLUGIN_DESCRIPTOR_(KIND, NAME, VERSION)                                        \
  extern "C" BOOST_SYMBOL_EXPORT const chainsd_plugin_descriptor_t chainsd_plugin_descriptor; \
  extern "C" __attribute__((used)) const chainsd_plugin_descriptor_t chainsd_plugin_descriptor = { \
      CHAINSD_PLUGIN_MAGIC, CHAINSD_PLUGIN_DESCRIPTOR_VERSION,                                 \
      sizeof(chainsd_plugin_descriptor_t), 0, KIND, NAME, VERSION, CHAINSD_PLUGIN_BUILD_ID};

// FACTORY must be a function name visible at global scope (qualify it if it is in a namespace).
#define CHAINSD_SIGNER_PLUGIN(NAME, VERSION, FACTORY)                                  \
  static_assert(std::is_same_v<decltype(FACTORY), ::chainsd::plugin::signer_factory>,  \
                "signer factory has the wrong signature");                             \
  CHAINSD_PLUGIN_DESCRIPTOR_("signer", NAME, VERSION)                                  \
  BOOST_DLL_ALIAS(FACTORY, chainsd_plugin_factory)

#define CHAINSD_STORAGE_PLUGIN(NAME, VERSION, FACTORY)                                 \
  static_assert(std::is_same_v<decltype(FACTORY), ::chainsd::plugin::storage_factory>, \
                "storage factory has the wrong signature");                            \
  CHAINSD_PLUGIN_DESCRIPTOR_("storage", NAME, VERSION)                                 \
  BOOST_DLL_ALIAS(FACTORY, chainsd_plugin_factory)
