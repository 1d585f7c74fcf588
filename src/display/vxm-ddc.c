/* vxm-ddc: DDC/CI packets and the I2C bus they travel on (see the header). */
#include "vxm-ddc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"

#define HOST_ADDRESS_BYTE 0x51 /* source address of what the host sends */
#define WRITE_SEED        0x6e /* the monitor's write address: 0x37 << 1 */
#define REPLY_SEED        0x50 /* replies are checksummed from the host's "virtual" address */
#define OP_GET_VCP        0x01
#define OP_GET_VCP_REPLY  0x02
#define OP_SET_VCP        0x03

struct _VxmDdcBus {
  VxmHostfs *hostfs;
  guint number;
  char *dev_path; /* host path, for messages */
  int fd;
  gint64 last_write_us; /* monotonic; 0 before the first command */
  gint64 waited_us;
};

guint8
vxm_ddc_checksum(guint8 seed, const guint8 *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    seed ^= data[i];
  return seed;
}

void
vxm_ddc_encode_set_vcp(guint8 code, guint16 value, guint8 out[VXM_DDC_SET_VCP_LEN])
{
  out[0] = HOST_ADDRESS_BYTE;
  out[1] = 0x80 | 4;
  out[2] = OP_SET_VCP;
  out[3] = code;
  out[4] = value >> 8;
  out[5] = value & 0xff;
  out[6] = vxm_ddc_checksum(WRITE_SEED, out, 6);
}

void
vxm_ddc_encode_get_vcp(guint8 code, guint8 out[VXM_DDC_GET_VCP_LEN])
{
  out[0] = HOST_ADDRESS_BYTE;
  out[1] = 0x80 | 2;
  out[2] = OP_GET_VCP;
  out[3] = code;
  out[4] = vxm_ddc_checksum(WRITE_SEED, out, 4);
}

static char *
hex_bytes(const guint8 *data, gsize len)
{
  GString *s = g_string_new(NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf(s, i == 0 ? "%02x" : " %02x", data[i]);
  return g_string_free(s, FALSE);
}

gboolean
vxm_ddc_decode_vcp_reply(const guint8 *reply, gsize len, guint8 code, VxmDdcVcpValue *out,
                         GError **error)
{
  g_autofree char *hex = hex_bytes(reply, MIN(len, VXM_DDC_REPLY_LEN));
  gsize payload;

  if (len < 3 || reply[0] != WRITE_SEED || !(reply[1] & 0x80)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "the monitor's reply is not DDC/CI (%s)",
                hex);
    return FALSE;
  }
  payload = reply[1] & 0x7f;
  if (payload == 0) {
    g_set_error_literal(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                        "the monitor sent a null reply (it was not ready)");
    return FALSE;
  }
  if (payload != 8 || len < 3 + payload) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "the monitor's reply has the wrong length (%s): not a Get VCP reply", hex);
    return FALSE;
  }
  if (vxm_ddc_checksum(REPLY_SEED, reply, 2 + payload) != reply[2 + payload]) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL, "the monitor's reply has a bad checksum (%s)",
                hex);
    return FALSE;
  }
  if (reply[2] != OP_GET_VCP_REPLY || reply[4] != code) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "the monitor answered something else than VCP 0x%02x (%s)", code, hex);
    return FALSE;
  }
  if (reply[3] != 0) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_UNSUPPORTED,
                "the monitor does not support VCP code 0x%02x (result code %u)", code, reply[3]);
    return FALSE;
  }
  out->code = reply[4];
  out->type = reply[5];
  out->maximum = (guint16)(reply[6] << 8 | reply[7]);
  out->current = (guint16)(reply[8] << 8 | reply[9]);
  return TRUE;
}

gboolean
vxm_ddc_input_equal(guint a, guint b)
{
  return (a & 0xff) == (b & 0xff);
}

/* ---- the bus ---- */

char *
vxm_ddc_address_driver(VxmHostfs *hostfs, guint bus, guint address)
{
  g_autofree char *link =
      g_strdup_printf(VXM_HOST_SYS_BUS_I2C_DEVICES "/%u-%04x/driver", bus, address);

  return vxm_hostfs_read_link_basename(hostfs, link, NULL);
}

static char *
adapter_name(VxmHostfs *hostfs, guint bus)
{
  g_autofree char *path = g_strdup_printf(VXM_HOST_SYS_CLASS_I2C_DEV "/i2c-%u/name", bus);

  return vxm_hostfs_read_attr(hostfs, path, NULL);
}

/* Opens /dev/i2c-@bus and selects @address, explaining EBUSY. */
static int
open_bus(VxmHostfs *hostfs, guint bus, guint address, GError **error)
{
  g_autofree char *host_path = g_strdup_printf(VXM_HOST_DEV_I2C_PREFIX "%u", bus);
  g_autofree char *path = vxm_hostfs_path(hostfs, host_path);
  vxm_autofd int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
  int ret;

  if (fd < 0) {
    int errsv = errno;

    if (errsv == EACCES || errsv == EPERM)
      return vxm_error_set_from_errno(error, errsv,
                                      "cannot open %s (DDC/CI needs root, or vxmd, or the i2c "
                                      "group)",
                                      host_path),
             -1;
    if (errsv == ENOENT)
      return vxm_error_set_from_errno(error, errsv,
                                      "cannot open %s: load the i2c-dev module (modprobe i2c-dev)",
                                      host_path),
             -1;
    return vxm_error_set_from_errno(error, errsv, "cannot open %s", host_path), -1;
  }
  /* ioctl(fd, I2C_SLAVE, 0x37): the int argument by value, the only ioctl DDC needs */
  if (ioctl(fd, I2C_SLAVE, (unsigned long)address) < 0) {
    int errsv = errno;

    if (errsv == EBUSY) {
      g_autofree char *driver = vxm_ddc_address_driver(hostfs, bus, address);
      g_autofree char *name = adapter_name(hostfs, bus);

      if (driver != NULL)
        g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                    "I2C address 0x%02x on %s (%s) is held by the %s driver "
                    "(" VXM_HOST_SYS_BUS_I2C_DEVICES "/%u-%04x/driver): unload it (modprobe -r "
                    "%s) or let it do the switching",
                    address, host_path, name ? name : "unnamed adapter", driver, bus, address,
                    driver);
      else
        g_set_error(error, VXM_ERROR, VXM_ERROR_BUSY,
                    "I2C address 0x%02x on %s (%s) is held by a kernel driver: find it "
                    "under " VXM_HOST_SYS_BUS_I2C_DEVICES "/%u-%04x and unload it",
                    address, host_path, name ? name : "unnamed adapter", bus, address);
      return -1;
    }
    return vxm_error_set_from_errno(error, errsv, "cannot select I2C address 0x%02x on %s", address,
                                    host_path),
           -1;
  }
  ret = fd;
  fd = -1;
  return ret;
}

VxmDdcBus *
vxm_ddc_bus_open(VxmHostfs *hostfs, guint bus, GError **error)
{
  VxmDdcBus *self;
  int fd = open_bus(hostfs, bus, VXM_DDC_I2C_ADDRESS, error);

  if (fd < 0)
    return NULL;
  self = g_new0(VxmDdcBus, 1);
  self->hostfs = g_object_ref(hostfs);
  self->number = bus;
  self->dev_path = g_strdup_printf(VXM_HOST_DEV_I2C_PREFIX "%u", bus);
  self->fd = fd;
  return self;
}

void
vxm_ddc_bus_free(VxmDdcBus *self)
{
  if (self == NULL)
    return;
  if (self->fd >= 0)
    close(self->fd);
  g_clear_object(&self->hostfs);
  g_free(self->dev_path);
  g_free(self);
}

guint
vxm_ddc_bus_get_number(VxmDdcBus *self)
{
  return self->number;
}

gint64
vxm_ddc_bus_get_waited_us(VxmDdcBus *self)
{
  return self->waited_us;
}

/* Sleeps until @ms after the last write. This is not polling: DDC/CI gives the host no way
 * to learn when the monitor is ready, so the spec mandates these fixed gaps between bus
 * transactions, measured on the monotonic clock so an earlier delay counts toward them. */
static void
wait_after_write(VxmDdcBus *self, guint ms)
{
  gint64 deadline, now;

  if (self->last_write_us == 0)
    return;
  deadline = self->last_write_us + (gint64)ms * 1000;
  now = g_get_monotonic_time();
  if (now < deadline) {
    g_usleep((gulong)(deadline - now));
    self->waited_us += deadline - now;
  }
}

static gboolean
bus_write(VxmDdcBus *self, const guint8 *data, gsize len, GError **error)
{
  ssize_t n;

  wait_after_write(self, VXM_DDC_COMMAND_WAIT_MS);
  n = write(self->fd, data, len);
  self->last_write_us = g_get_monotonic_time();
  if (n < 0) {
    int errsv = errno;
    g_autofree char *hex = hex_bytes(data, len);

    /* EIO / EREMOTEIO: the monitor did not acknowledge (NAK); ENXIO: nobody at 0x37 */
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "the monitor on %s did not take %s: %s",
                self->dev_path, hex, g_strerror(errsv));
    return FALSE;
  }
  if ((gsize)n != len) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "short write to %s: %zd of %" G_GSIZE_FORMAT,
                self->dev_path, n, len);
    return FALSE;
  }
  return TRUE;
}

static gboolean
bus_read(VxmDdcBus *self, guint8 *data, gsize len, GError **error)
{
  ssize_t n;

  wait_after_write(self, VXM_DDC_REPLY_WAIT_MS);
  n = read(self->fd, data, len);
  if (n < 0) {
    int errsv = errno;

    g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "no reply from the monitor on %s: %s",
                self->dev_path, g_strerror(errsv));
    return FALSE;
  }
  if ((gsize)n < len)
    memset(data + n, 0, len - (gsize)n);
  return TRUE;
}

gboolean
vxm_ddc_bus_set_vcp(VxmDdcBus *self, guint8 code, guint16 value, GError **error)
{
  guint8 packet[VXM_DDC_SET_VCP_LEN];
  g_autoptr(GError) last = NULL;

  vxm_ddc_encode_set_vcp(code, value, packet);
  for (guint attempt = 1; attempt <= VXM_DDC_TRIES; attempt++) {
    g_clear_error(&last);
    if (bus_write(self, packet, sizeof packet, &last))
      return TRUE;
    g_debug("Set VCP 0x%02x, attempt %u of %u: %s", code, attempt, VXM_DDC_TRIES, last->message);
  }
  g_propagate_prefixed_error(error, g_steal_pointer(&last),
                             "Set VCP 0x%02x to 0x%04x failed %u times: ", code, value,
                             VXM_DDC_TRIES);
  return FALSE;
}

gboolean
vxm_ddc_bus_get_vcp(VxmDdcBus *self, guint8 code, VxmDdcVcpValue *out, GError **error)
{
  guint8 packet[VXM_DDC_GET_VCP_LEN];
  g_autoptr(GError) last = NULL;

  vxm_ddc_encode_get_vcp(code, packet);
  for (guint attempt = 1; attempt <= VXM_DDC_TRIES; attempt++) {
    guint8 reply[VXM_DDC_REPLY_LEN];

    g_clear_error(&last);
    if (bus_write(self, packet, sizeof packet, &last) &&
        bus_read(self, reply, sizeof reply, &last) &&
        vxm_ddc_decode_vcp_reply(reply, sizeof reply, code, out, &last))
      return TRUE;
    if (g_error_matches(last, VXM_ERROR, VXM_ERROR_UNSUPPORTED))
      break; /* a clear "no": asking again will not change it */
    g_debug("Get VCP 0x%02x, attempt %u of %u: %s", code, attempt, VXM_DDC_TRIES, last->message);
  }
  if (g_error_matches(last, VXM_ERROR, VXM_ERROR_UNSUPPORTED)) {
    g_propagate_error(error, g_steal_pointer(&last));
    return FALSE;
  }
  g_propagate_prefixed_error(error, g_steal_pointer(&last),
                             "Get VCP 0x%02x failed %u times (is DDC/CI on in the monitor's "
                             "menu?): ",
                             code, VXM_DDC_TRIES);
  return FALSE;
}

GBytes *
vxm_ddc_read_edid(VxmHostfs *hostfs, guint bus, guint max_blocks, GError **error)
{
  g_autofree char *host_path = g_strdup_printf(VXM_HOST_DEV_I2C_PREFIX "%u", bus);
  vxm_autofd int fd = open_bus(hostfs, bus, VXM_DDC_EDID_I2C_ADDRESS, error);
  g_autoptr(GByteArray) out = g_byte_array_new();
  guint8 offset = 0;
  guint blocks = 1;

  if (fd < 0)
    return NULL;
  /* the EEPROM's offset pointer to 0, then the blocks in sequence */
  if (write(fd, &offset, 1) != 1)
    return vxm_error_set_from_errno(error, errno, "no EDID at 0x50 on %s", host_path), NULL;
  for (guint b = 0; b < blocks && b < MAX(max_blocks, 1u); b++) {
    guint8 block[128];
    ssize_t n = read(fd, block, sizeof block);

    if (n < 0)
      return vxm_error_set_from_errno(error, errno, "cannot read the EDID at 0x50 on %s",
                                      host_path),
             NULL;
    if (n != (ssize_t)sizeof block) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO, "short EDID read at 0x50 on %s: %zd bytes",
                  host_path, n);
      return NULL;
    }
    if (b == 0)
      blocks = 1 + block[126];
    g_byte_array_append(out, block, sizeof block);
  }
  return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}
