/* vxm static-binding: bind the guest GPU to vfio-pci at boot instead of at run time.
 * Also reachable as `vxm config NAME --static-binding on|off`; the engine is vxm-vfio-static. */
#include <string.h>

#include "pci/vxm-vfio-static.h"
#include "pci/vxm-vfio.h"
#include "vxm-cli.h"

int
vxm_cli_cmd_static_binding(VxmCli *cli, int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, "status: print JSON", NULL},
      {NULL},
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *next = NULL;
  VxmCliTarget target = {0};
  VxmHostfs *hostfs;
  const char *what;
  int status = VXM_EXIT_OK;

  if (!vxm_cli_parse(cli, &argc, &argv, entries, "on|off|status [NAME|ADDR]",
                     "Bind the guest GPU to vfio-pci at boot (/etc/modprobe.d/vxm-vfio.conf), "
                     "for systems where binding at run time cannot work."))
    return VXM_EXIT_USAGE;
  if (argc < 2 || argc > 3)
    return vxm_cli_usage_error(cli, "say on, off or status");
  what = argv[1];
  if (strcmp(what, "on") != 0 && strcmp(what, "off") != 0 && strcmp(what, "status") != 0)
    return vxm_cli_usage_error(cli, "'%s' is not on, off or status", what);
  hostfs = vxm_cli_get_hostfs(cli, &error);
  if (hostfs == NULL)
    return vxm_cli_fail(cli, error);
  if (strcmp(what, "off") != 0) {
    if (argc == 3) {
      if (!vxm_cli_resolve_target(cli, hostfs, argv[2], &target, &error))
        return vxm_cli_fail_arg(cli, error);
    } else if (strcmp(what, "on") == 0 &&
               !vxm_cli_resolve_target(cli, hostfs, "default", &target, &error)) {
      g_prefix_error(&error, "give the GPU's address: ");
      return vxm_cli_fail(cli, error);
    }
  }

  if (strcmp(what, "on") == 0) {
    if (!vxm_vfio_static_binding_write(hostfs, target.gpu, &next, &error))
      goto fail;
    if (!cli->quiet)
      g_print("wrote %s for %s\n%s\n", VXM_VFIO_STATIC_CONF, vxm_gpu_get_address(target.gpu), next);
  } else if (strcmp(what, "off") == 0) {
    if (!vxm_vfio_static_binding_remove(hostfs, &next, &error))
      goto fail;
    if (!cli->quiet)
      g_print(next != NULL ? "removed %s\n%s\n" : "static binding was off (no %s)\n",
              VXM_VFIO_STATIC_CONF, next);
  } else {
    g_autoptr(JsonNode) node = vxm_vfio_static_binding_status(hostfs, target.gpu, &error);
    JsonObject *obj;

    if (node == NULL)
      goto fail;
    if (json) {
      vxm_cli_print_json(node);
      goto out;
    }
    obj = json_node_get_object(node);
    if (!json_object_get_boolean_member(obj, "enabled"))
      g_print("static binding is off (no %s)\n", VXM_VFIO_STATIC_CONF);
    else if (target.gpu == NULL)
      g_print("static binding is on (%s)\n", VXM_VFIO_STATIC_CONF);
    else
      g_print("static binding is on (%s), %s\n", VXM_VFIO_STATIC_CONF,
              json_object_get_boolean_member(obj, "in_effect")
                  ? "in effect: every device is on vfio-pci"
                  : "not in effect yet: run update-initramfs -u and reboot");
    if (json_object_has_member(obj, "lasting_file")) {
      JsonNode *lasting = json_object_get_member(obj, "lasting_enabled");

      g_print("  until reboot: / is an overlay that the next boot discards; the next boot reads "
              "%s, which %s\n",
              json_object_get_string_member(obj, "lasting_file"),
              JSON_NODE_HOLDS_NULL(lasting) ? "is not visible here (the lower layer)"
              : json_node_get_boolean(lasting)
                  ? "has it: static binding is on after the reboot"
                  : "does not exist: static binding is off after the reboot");
    } else if (g_strcmp0(json_object_get_string_member(obj, "kind"), "lasting") != 0) {
      g_print("  until reboot: / is an overlay that the next boot discards; change it in the "
              "lasting layer (sudo overlayroot-chroot)\n");
    } else {
      g_print("  lasting: %s is on the root file system the next boot reads\n",
              VXM_VFIO_STATIC_CONF);
    }
  }
  goto out;
fail:
  status = vxm_cli_fail(cli, error);
out:
  vxm_cli_target_clear(&target);
  return status;
}
