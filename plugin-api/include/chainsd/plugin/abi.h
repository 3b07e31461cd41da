/* The C descriptor every chainsd plugin exports as the symbol `chainsd_plugin_descriptor`.
 * The loader reads it before trusting anything else in the shared object: magic, descriptor
 * version and an exact build id (see build_id.h) must match, otherwise the plugin is refused
 * and its factory is never called. Plain C so a mismatched C++ ABI cannot crash the check. */
#ifndef CHAINSD_PLUGIN_ABI_H
#define CHAINSD_PLUGIN_ABI_H

#include <stdint.h>

#define CHAINSD_PLUGIN_MAGIC 0x44534843u /* "CHSD" little-endian */
#define CHAINSD_PLUGIN_DESCRIPTOR_VERSION 1u
#define CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL "chainsd_plugin_descriptor"
#define CHAINSD_PLUGIN_FACTORY_SYMBOL "chainsd_plugin_factory"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chainsd_plugin_descriptor_t {
  uint32_t magic;              /* CHAINSD_PLUGIN_MAGIC */
  uint32_t descriptor_version; /* CHAINSD_PLUGIN_DESCRIPTOR_VERSION */
  const char* kind;            /* "signer" or "storage" */
  const char* name;            /* the chains-config value that selects it: "x509", "tekton", "oci" ... */
  const char* version;         /* the plugin's own version, for logs */
  const char* build_id;        /* CHAINSD_PLUGIN_BUILD_ID of the headers it was built against */
} chainsd_plugin_descriptor_t;

#ifdef __cplusplus
}
#endif

#endif
