#include "pci/vxm-pci-address.h"
#include "common/vxm-error.h"

#include <string.h>

static void
test_accepts_forms(void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"0000:01:00.0", "0000:01:00.0"}, {"01:00.0", "0000:01:00.0"},
      {"1:0.0", "0000:01:00.0"},        {"0000:0A:1F.7", "0000:0a:1f.7"},
      {"  2:00.1 ", "0000:02:00.1"},    {"ffff:ff:1f.7", "ffff:ff:1f.7"},
      {"1:2:3.4", "0001:02:03.4"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *norm = vxm_pci_address_normalize(cases[i].in, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(norm, ==, cases[i].out);
  }
}

static void
test_rejects_garbage(void)
{
  static const char *const bad[] = {
      "",
      "0000:01:00",
      "01:00:0",
      "0000:01:20.0",
      "0000:01:00.8",
      "00000:01:00.0",
      "0000:001:00.0",
      "01.00.0",
      "g1:00.0",
      "0000:01:00.0x",
      "/sys/bus/pci",
      "0000:01:00.0/..",
  };

  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *norm = vxm_pci_address_normalize(bad[i], &error);

    g_assert_null(norm);
    g_assert_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT);
    if (*bad[i] != '\0')
      g_assert_nonnull(strstr(error->message, bad[i]));
  }
}

static void
test_slot_and_order(void)
{
  VxmPciAddress a, b, c;

  g_assert_true(vxm_pci_address_parse("01:00.0", &a, NULL));
  g_assert_true(vxm_pci_address_parse("01:00.3", &b, NULL));
  g_assert_true(vxm_pci_address_parse("02:00.0", &c, NULL));
  g_assert_true(vxm_pci_address_same_slot(&a, &b));
  g_assert_false(vxm_pci_address_same_slot(&a, &c));
  g_assert_cmpint(vxm_pci_address_compare(&a, &b), <, 0);
  g_assert_cmpint(vxm_pci_address_compare(&c, &b), >, 0);
  g_assert_cmpint(vxm_pci_address_compare(&a, &a), ==, 0);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/vxm/pci/address/accepts-forms", test_accepts_forms);
  g_test_add_func("/vxm/pci/address/rejects-garbage", test_rejects_garbage);
  g_test_add_func("/vxm/pci/address/slot-and-order", test_slot_and_order);
  return g_test_run();
}
