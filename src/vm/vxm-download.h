/* vxm-download: fetching a file over HTTP(S) with libcurl (the virtio-win ISO).
 *
 * Resumable: bytes go to DEST.part, a later call asks for the rest with a Range header, and
 * DEST appears (renamed) only when complete and, when a SHA-256 is given, verified. A
 * mismatching file is removed so the next try starts afresh. Only http and https, also after
 * redirects. HTTP errors never land in the file.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 resumed_from;    /* bytes already in DEST.part when this transfer started */
  guint64 received;        /* bytes in DEST.part now */
  guint64 total;           /* the file's size, 0 while unknown */
  double bytes_per_second; /* this transfer's average */
  gboolean finished;       /* the last call, after the transfer */
} VxmDownloadProgress;

typedef void (*VxmDownloadProgressFunc)(const VxmDownloadProgress *progress, gpointer user_data);

/* TRUE when @text is an http:// or https:// URL (else it is taken as a path). */
gboolean vxm_download_is_url(const char *text);

/* 64 hex digits; normalised to lower case in @out (nullable). */
gboolean vxm_download_sha256_parse(const char *text, char **out,
                                   GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* Downloads @url to @dest (resuming DEST.part), verifies @sha256 (nullable), calls @progress
 * at most ~10 times a second. Errors say what happened: HTTP status, connection refused,
 * stopped midway (run again to resume), checksum mismatch (file removed). */
gboolean vxm_download_file(const char *url, const char *dest, const char *sha256,
                           VxmDownloadProgressFunc progress, gpointer user_data,
                           GError **error) G_GNUC_WARN_UNUSED_RESULT;

/* SHA-256 of a file, lower-case hex. */
char *vxm_download_sha256_file(const char *path, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
