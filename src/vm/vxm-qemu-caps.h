/* vxm-qemu-caps: what the installed QEMU can do, asked of the binary itself.
 *
 * One QMP session (`-machine none -qmp stdio`: version, machine types and aliases, every QOM
 * type (devices, objects, accelerators), the pc machine's properties, command-line options,
 * an io_uring trial) runs beside `-audiodev help` (QMP has no list of audio backends in 7.2).
 * The result is cached as JSON in $XDG_CACHE_HOME/vxm/qemu-caps-HASH.json, keyed by the
 * binary's path, mtime and size, so an upgrade of QEMU is seen at once.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  char *binary; /* absolute path of the probed binary */
  gint64 mtime; /* microseconds since the epoch; with @binary and @size the cache key */
  guint64 size;
  char *version; /* "7.2.22" */
  guint version_major;
  guint version_minor;
  guint version_micro;
  char *package;             /* "Debian 1:7.2+dfsg-7+deb12u18+b3", may be empty */
  GHashTable *machines;      /* machine type -> alias or "" ("pc-q35-7.2" -> "q35") */
  GHashTable *types;         /* every non-abstract QOM type: devices, objects, accelerators */
  GHashTable *machine_props; /* properties of the pc machines ("smm", "hpet", ...) */
  GHashTable *options;       /* command-line option groups ("sandbox", "overcommit", ...) */
  GHashTable *audiodevs;     /* audio backends this build can load ("pa", "alsa", ...) */
  GHashTable *accels;        /* "kvm", "tcg" */
  gboolean io_uring;         /* blockdev aio=io_uring works (build and kernel) */
  double probe_seconds;      /* how long the probe took (0 when loaded from cache) */
} VxmQemuCaps;

void vxm_qemu_caps_free(VxmQemuCaps *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmQemuCaps, vxm_qemu_caps_free)

/* Resolves @binary (a path, or a name looked up in PATH) to an absolute path. */
char *vxm_qemu_caps_resolve_binary(const char *binary, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Runs the binary (no cache). */
VxmQemuCaps *vxm_qemu_caps_probe(const char *binary, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The capabilities of @binary from the cache when its path, mtime and size still match,
 * else probed and cached. @cache_dir NULL means $XDG_CACHE_HOME/vxm. A cache that cannot be
 * written is not an error (the probe result is still returned). */
VxmQemuCaps *vxm_qemu_caps_get(const char *binary, const char *cache_dir,
                               GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads what the probe's two runs printed: QMP replies (one JSON object a line, matched by id;
 * anything else skipped) and `-audiodev help`. Fails only without version, machines or types. */
VxmQemuCaps *vxm_qemu_caps_parse(const char *qmp_output, const char *audiodev_help,
                                 GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* How many times this process ran a probe: lets tests see a cache hit. */
guint vxm_qemu_caps_probe_count(void);

JsonNode *vxm_qemu_caps_to_json(const VxmQemuCaps *self);
VxmQemuCaps *vxm_qemu_caps_from_json(JsonNode *node, GError **error) G_GNUC_WARN_UNUSED_RESULT;
VxmQemuCaps *vxm_qemu_caps_load(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* "q35" -> "pc-q35-7.2"; a full name is returned as is; NULL when unknown. */
const char *vxm_qemu_caps_resolve_machine(const VxmQemuCaps *self, const char *machine);
gboolean vxm_qemu_caps_has_machine(const VxmQemuCaps *self, const char *machine);
gboolean vxm_qemu_caps_has_type(const VxmQemuCaps *self, const char *type);
gboolean vxm_qemu_caps_has_machine_prop(const VxmQemuCaps *self, const char *prop);
gboolean vxm_qemu_caps_has_option(const VxmQemuCaps *self, const char *option);
gboolean vxm_qemu_caps_has_audiodev(const VxmQemuCaps *self, const char *backend);
gboolean vxm_qemu_caps_has_accel(const VxmQemuCaps *self, const char *accel);
/* TRUE when the version is at least @major.@minor. */
gboolean vxm_qemu_caps_version_at_least(const VxmQemuCaps *self, guint major, guint minor);

G_END_DECLS
