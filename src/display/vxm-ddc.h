/* vxm-ddc: DDC/CI (VESA MCCS over I2C) to a monitor: packets, and a bus to send them on.
 *
 * Packets (facts.md): the host writes to I2C address 0x37 `51 (0x80|len) payload... chk`,
 * chk the XOR of 0x6E and every byte; Set VCP is `03 code hi lo`, Get VCP `01 code`, whose
 * reply `6E 88 02 rc code type mh ml sh sl chk` has a checksum seeded with 0x50. A monitor
 * that is not ready answers the null message `6E 80 BE`.
 *
 * The bus is /dev/i2c-N with ioctl(I2C_SLAVE) and plain read()/write(): no I2C_RDWR (ddcutil
 * falls back to the same, and a FUSE simulation cannot pass pointer ioctls). It keeps the
 * protocol's waits (a reply is read no sooner than 40 ms after its request; a command is sent
 * no sooner than 50 ms after the previous one) and retries a NAK, a null reply or a bad
 * checksum a bounded number of times. A Set VCP of the input (0x60) is not read back: a
 * monitor that has switched away may stop answering on this bus.
 */
#pragma once

#include "common/vxm-hostfs.h"

G_BEGIN_DECLS

#define VXM_DDC_I2C_ADDRESS      0x37
#define VXM_DDC_EDID_I2C_ADDRESS 0x50
#define VXM_DDC_VCP_INPUT_SOURCE 0x60

/* The spec's waits and vxm's retry bound. */
#define VXM_DDC_REPLY_WAIT_MS   40 /* request -> reading its reply */
#define VXM_DDC_COMMAND_WAIT_MS 50 /* a command (Set VCP above all) -> the next one */
#define VXM_DDC_TRIES           3  /* attempts per command on NAK, null reply, bad checksum */

#define VXM_DDC_SET_VCP_LEN 7
#define VXM_DDC_GET_VCP_LEN 5
#define VXM_DDC_REPLY_LEN   11

/* XOR of @seed and @len bytes. */
guint8 vxm_ddc_checksum(guint8 seed, const guint8 *data, gsize len);

/* `51 84 03 code hi lo chk` */
void vxm_ddc_encode_set_vcp(guint8 code, guint16 value, guint8 out[VXM_DDC_SET_VCP_LEN]);
/* `51 82 01 code chk` */
void vxm_ddc_encode_get_vcp(guint8 code, guint8 out[VXM_DDC_GET_VCP_LEN]);

typedef struct {
  guint8 code;
  guint8 type; /* 0 set parameter, 1 momentary */
  guint16 maximum;
  guint16 current;
} VxmDdcVcpValue;

/* Decodes a Get VCP reply for @code. Errors: PROTOCOL for what a retry may fix (a null reply,
 * a bad checksum, garbage), UNSUPPORTED when the monitor says it has no such VCP code. */
gboolean vxm_ddc_decode_vcp_reply(const guint8 *reply, gsize len, guint8 code, VxmDdcVcpValue *out,
                                  GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Input names and numbers: vxm_vm_monitor_input_parse() and _to_string() (vm/vxm-vm-config.h). */

/* TRUE when @a and @b are the same input: only the low bytes count, since some monitors
 * answer with a high byte set. */
gboolean vxm_ddc_input_equal(guint a, guint b);

typedef struct _VxmDdcBus VxmDdcBus;

/* Opens /dev/i2c-@bus for DDC/CI (I2C_SLAVE 0x37). EBUSY names the driver that holds the
 * address and says what to do. */
VxmDdcBus *vxm_ddc_bus_open(VxmHostfs *hostfs, guint bus, GError **error) G_GNUC_WARN_UNUSED_RESULT;
void vxm_ddc_bus_free(VxmDdcBus *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmDdcBus, vxm_ddc_bus_free)

guint vxm_ddc_bus_get_number(VxmDdcBus *self);

/* One Set VCP, retried on a NAK; not read back. */
gboolean vxm_ddc_bus_set_vcp(VxmDdcBus *self, guint8 code, guint16 value,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;
/* Get VCP: request, the wait, the reply; retried on a NAK, null reply or bad checksum. */
gboolean vxm_ddc_bus_get_vcp(VxmDdcBus *self, guint8 code, VxmDdcVcpValue *out,
                             GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Microseconds this bus has spent in the protocol's mandated waits (for the benchmark). */
gint64 vxm_ddc_bus_get_waited_us(VxmDdcBus *self);

/* The EDID of whatever monitor answers at 0x50 on /dev/i2c-@bus (the base block and as many
 * extension blocks as it announces, at most @max_blocks). */
GBytes *vxm_ddc_read_edid(VxmHostfs *hostfs, guint bus, guint max_blocks,
                          GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* The driver bound to I2C address @address on bus @bus (ddcci, eeprom, ...), or NULL. */
char *vxm_ddc_address_driver(VxmHostfs *hostfs, guint bus, guint address);

G_END_DECLS
