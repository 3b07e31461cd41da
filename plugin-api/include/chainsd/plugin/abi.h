/* The C descriptor every chainsd plugin exports as the symbol `chainsd_plugin_descriptor`.
 *
 * Version 2: fixed-size fields only, no pointers, so the object needs no relocation and its bytes
 * lie in the shared object's file as they will in memory. The loader reads them from the ELF
 * file (the symbol found through the dynamic symbol table) BEFORE dlopen, as libcamera reads its
 * IPA module info: a plugin that is refused (wrong magic, version, build id, kind, a duplicate)
 * never runs a line of its code, static initializers included. Magic, descriptor version, size
 * and an exact build id (see build_id.h) must match. Each string field is NUL-terminated within
 * its array (CHAINSD_*_PLUGIN checks the lengths at compile time).
 *
 * Version 1 (pointer fields, readable only after dlopen) is refused with a message saying so.
 * Plain C so a mismatched C++ ABI cannot crash the check. */
#ifndef CHAINSD_PLUGIN_ABI_H
#define CHAINSD_PLUGIN_ABI_H

#include <stdint.h>

#define CHAINSD_PLUGIN_MAGIC 0x44534843u /* "CHSD" little-endian */
#define CHAINSD_PLUGIN_DESCRIPTOR_VERSION 2u
#define CHAINSD_PLUGIN_DESCRIPTOR_SYMBOL "chainsd_plugin_descriptor"
#define CHAINSD_PLUGIN_FACTORY_SYMBOL "chainsd_plugin_factory"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chainsd_plugin_descriptor_t {
  uint32_t magic;              /* CHAINSD_PLUGIN_MAGIC */
  uint32_t descriptor_version; /* CHAINSD_PLUGIN_DESCRIPTOR_VERSION */
  uint32_t size;               /* sizeof(chainsd_plugin_descriptor_t): 176 */
  uint32_t reserved;           /* 0 */
  char kind[16];               /* "signer" or "storage" */
  char name[64];               /* the chains-config value that selects it: "x509", "tekton", "oci" ... */
  char version[32];            /* the plugin's own version, for logs */
  char build_id[48];           /* CHAINSD_PLUGIN_BUILD_ID of the headers it was built against */
} chainsd_plugin_descriptor_t;

#ifdef __cplusplus
}
#endif

#endif
