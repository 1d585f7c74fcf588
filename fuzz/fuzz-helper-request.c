/* Fuzz target: a request to vxmd (vxm_helper_request_parse), the bytes an unprivileged user
 * controls. A request that parses is written back and must parse again to the same request;
 * its names must pass the checks that keep paths out. */
#include <stdint.h>
#include <string.h>

#include "helper/vxm-helper-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(VxmHelperRequest) req = NULL;
  g_autoptr(VxmHelperRequest) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  req = vxm_helper_request_parse((const char *)data, size, &error);
  if (req == NULL) {
    g_assert(error != NULL && error->message != NULL);
    return 0;
  }
  g_assert(req->vm == NULL || vxm_helper_check_vm_name(req->vm, NULL));
  g_assert(req->vm == NULL || strchr(req->vm, '/') == NULL);
  for (gsize i = 0; req->nodes != NULL && req->nodes[i] != NULL; i++) {
    g_autofree char *path = vxm_helper_node_host_path(req->nodes[i]);
    g_assert(path != NULL && strstr(path, "..") == NULL);
  }
  line = vxm_helper_request_to_line(req);
  again = vxm_helper_request_parse(line, strlen(line), &error);
  g_assert(again != NULL);
  g_assert(again->op == req->op);
  g_assert(g_strcmp0(again->vm, req->vm) == 0);
  g_assert(g_strcmp0(again->gpu, req->gpu) == 0);
  g_assert(again->bytes == req->bytes && again->count == req->count);
  return 0;
}
