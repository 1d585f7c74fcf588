/* A tiny HTTP/1.1 file server on 127.0.0.1 for download tests: GET with Range, 404, and a
 * fault that drops the connection after some body bytes. It runs in its own thread so a test
 * can run the real vxm binary against it; it never listens beyond the loopback address. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VxmTestHttp VxmTestHttp;

VxmTestHttp *vxm_test_http_new(void);
void vxm_test_http_free(VxmTestHttp *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VxmTestHttp, vxm_test_http_free)

/* Serves @content at @path ("/virtio-win.iso"). */
void vxm_test_http_add_file(VxmTestHttp *self, const char *path, GBytes *content);
/* The next GET sends its headers and only @bytes of the body, then closes (once). */
void vxm_test_http_drop_next_after(VxmTestHttp *self, gsize bytes);
/* http://127.0.0.1:PORT@path */
char *vxm_test_http_url(VxmTestHttp *self, const char *path);
/* The Range header of each GET so far ("" when none), in order. */
GPtrArray *vxm_test_http_get_ranges(VxmTestHttp *self);

/* A loopback port nothing listens on (bound, then closed). */
guint16 vxm_test_http_unused_port(void);

G_END_DECLS
