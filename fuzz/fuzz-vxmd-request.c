/* Fuzz target: a request to vxmd (vxm_vxmd_request_parse), the bytes an unprivileged user
 * controls. A request that parses is written back and must parse again to the same request;
 * its names must pass the checks that keep paths out. */
#include <stdint.h>
#include <string.h>

#include "ops/vxm-vxmd-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmVxmdRequest) req = NULL;
  g_autoptr(VxmVxmdRequest) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  req = vxm_vxmd_request_parse((const char *)data, size, &error);
  if (req == NULL) {
    g_assert(error != NULL && error->message != NULL);
    return 0;
  }
  g_assert(req->vm == NULL || vxm_vxmd_check_vm_name(req->vm, NULL));
  g_assert(req->vm == NULL || strchr(req->vm, '/') == NULL);
  for (gsize i = 0; req->nodes != NULL && req->nodes[i] != NULL; i++) {
    g_autofree char *path = vxm_vxmd_node_host_path(req->nodes[i]);
    g_autofree char *dir = NULL;
    g_autofree char *base = NULL;

    /* a name leads to one entry of one of these folders (a bus folder of /dev/bus/usb for
     * usb:BBB/DDD), never out of it */
    g_assert(path != NULL);
    dir = g_path_get_dirname(path);
    base = g_path_get_basename(path);
    g_assert(g_str_equal(dir, "/dev/vfio") || g_str_equal(dir, "/dev/input") ||
             g_str_equal(dir, "/dev/input/by-id") || g_str_equal(dir, "/dev/input/by-path") ||
             (g_str_has_prefix(dir, "/dev/bus/usb/") && strlen(dir) == strlen("/dev/bus/usb/001") &&
              g_ascii_isdigit(dir[13]) && g_ascii_isdigit(dir[14]) && g_ascii_isdigit(dir[15])));
    g_assert(strcmp(base, ".") != 0 && strcmp(base, "..") != 0);
    g_assert(g_str_has_prefix(path, dir) && path[strlen(dir)] == '/' &&
             strcmp(path + strlen(dir) + 1, base) == 0);
  }
  line = vxm_vxmd_request_to_line(req);
  again = vxm_vxmd_request_parse(line, strlen(line), &error);
  g_assert(again != NULL);
  g_assert(again->op == req->op);
  g_assert(g_strcmp0(again->vm, req->vm) == 0);
  g_assert(g_strcmp0(again->gpu, req->gpu) == 0);
  g_assert(again->bytes == req->bytes && again->count == req->count);
  return 0;
}
