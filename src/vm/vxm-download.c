#include "vxm-download.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vxm-error.h"
#include "common/vxm-util.h"
#include "vxm-config.h"

/* libcurl is loaded when a download starts, not linked: its 30-odd libraries (TLS, Kerberos,
 * LDAP, ...) cost every vxm process ~9 ms to load, and vxm start runs two of them while only
 * vxm init --virtio-iso downloads. The package depends on libcurl4 for it. */
#define VXM_LIBCURL "libcurl.so.4"

typedef struct {
  CURLcode (*global_init)(long flags);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *curl);
  CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL *curl);
  CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
  const char *(*easy_strerror)(CURLcode code);
} CurlApi;

static CurlApi curl_api;

static gboolean
curl_load(GError **error)
{
  static gsize loaded = 0;
  static char *load_error = NULL;

  if (g_once_init_enter(&loaded)) {
    void *lib = dlopen(VXM_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    struct {
      const char *name;
      void **slot;
    } symbols[] = {{"curl_global_init", (void **)&curl_api.global_init},
                   {"curl_easy_init", (void **)&curl_api.easy_init},
                   {"curl_easy_cleanup", (void **)&curl_api.easy_cleanup},
                   {"curl_easy_setopt", (void **)&curl_api.easy_setopt},
                   {"curl_easy_perform", (void **)&curl_api.easy_perform},
                   {"curl_easy_getinfo", (void **)&curl_api.easy_getinfo},
                   {"curl_easy_strerror", (void **)&curl_api.easy_strerror}};

    for (guint i = 0; lib != NULL && i < G_N_ELEMENTS(symbols) && load_error == NULL; i++) {
      *symbols[i].slot = dlsym(lib, symbols[i].name);
      if (*symbols[i].slot == NULL)
        load_error = g_strdup_printf("%s has no %s", VXM_LIBCURL, symbols[i].name);
    }
    if (lib == NULL)
      load_error = g_strdup(dlerror());
    else if (load_error == NULL)
      curl_api.global_init(CURL_GLOBAL_DEFAULT);
    g_once_init_leave(&loaded, 1);
  }
  if (load_error != NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                "cannot download: libcurl could not be loaded (%s): install it with `sudo apt "
                "install libcurl4`",
                load_error);
    return FALSE;
  }
  return TRUE;
}

static void
curl_handle_free(CURL *curl)
{
  curl_api.easy_cleanup(curl);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_handle_free)

gboolean
vxm_download_is_url(const char *text)
{
  return text != NULL && (g_ascii_strncasecmp(text, "http://", 7) == 0 ||
                          g_ascii_strncasecmp(text, "https://", 8) == 0);
}

gboolean
vxm_download_sha256_parse(const char *text, char **out, GError **error)
{
  if (text == NULL || strlen(text) != 64) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' is not a SHA-256: expected 64 hex digits", text ? text : "");
    return FALSE;
  }
  for (const char *p = text; *p; p++) {
    if (!g_ascii_isxdigit(*p)) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                  "'%s' is not a SHA-256: expected 64 hex digits", text);
      return FALSE;
    }
  }
  if (out != NULL)
    *out = g_ascii_strdown(text, -1);
  return TRUE;
}

char *
vxm_download_sha256_file(const char *path, GError **error)
{
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc(1 << 20);
  vxm_autofd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;

  if (fd < 0) {
    vxm_error_set_from_errno(error, errno, "cannot open %s", path);
    return NULL;
  }
  while ((n = read(fd, buf, 1 << 20)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      vxm_error_set_from_errno(error, errno, "cannot read %s", path);
      return NULL;
    }
    g_checksum_update(sum, buf, (gsize)n);
  }
  return g_strdup(g_checksum_get_string(sum));
}

typedef struct {
  const char *url;
  const char *part;
  int fd;
  guint64 offset;  /* where this transfer writes from */
  guint64 written; /* bytes written by this transfer */
  guint64 total;
  gboolean range_start_checked;
  long status; /* HTTP status seen by the write callback */
  int write_errno;
  gboolean bad_range;
  gint64 start_us;
  gint64 last_report_us;
  VxmDownloadProgressFunc progress;
  gpointer user_data;
} Transfer;

static void
report(Transfer *t, gboolean finished)
{
  VxmDownloadProgress p = {0};
  gint64 now = g_get_monotonic_time();
  double secs = (double)(now - t->start_us) / G_USEC_PER_SEC;

  if (t->progress == NULL)
    return;
  if (!finished && now - t->last_report_us < G_USEC_PER_SEC / 10)
    return;
  t->last_report_us = now;
  p.resumed_from = t->offset;
  p.received = t->offset + t->written;
  p.total = t->total;
  p.bytes_per_second = secs > 0 ? (double)t->written / secs : 0;
  p.finished = finished;
  t->progress(&p, t->user_data);
}

/* "Content-Range: bytes 100-999/1000" (206) or "bytes * /1000" (416) */
static size_t
on_header(char *buffer, size_t size, size_t nitems, void *data)
{
  Transfer *t = data;
  gsize len = size * nitems;
  g_autofree char *line = g_strndup(buffer, len);

  g_strstrip(line);
  if (g_ascii_strncasecmp(line, "HTTP/", 5) == 0) {
    const char *space = strchr(line, ' ');
    /* a new response (a redirect's target, or after "100 Continue") */
    t->total = 0;
    t->bad_range = FALSE;
    t->status = space ? strtol(space + 1, NULL, 10) : 0;
  } else if (g_ascii_strncasecmp(line, "Content-Range:", 14) == 0) {
    const char *slash = strrchr(line, '/');
    const char *bytes = strstr(line, "bytes ");
    guint64 v;

    if (slash != NULL && vxm_parse_uint64(slash + 1, 10, &v))
      t->total = v;
    if (bytes != NULL && g_ascii_isdigit(bytes[6])) {
      guint64 start = g_ascii_strtoull(bytes + 6, NULL, 10);
      if (start != t->offset)
        t->bad_range = TRUE;
    }
  } else if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0) {
    guint64 v;
    g_autofree char *value = g_strstrip(g_strdup(line + 15));
    if (vxm_parse_uint64(value, 10, &v) && t->total == 0)
      t->total = v + t->offset; /* corrected below for a 200 that ignored the Range */
  }
  return len;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *data)
{
  Transfer *t = data;
  gsize len = size * nmemb, done = 0;

  if (!t->range_start_checked) {
    t->range_start_checked = TRUE;
    if (t->status >= 400 || t->bad_range)
      return 0;
    if (t->status == 200 && t->offset > 0) {
      /* the server ignored the Range: start over */
      if (ftruncate(t->fd, 0) != 0) {
        t->write_errno = errno;
        return 0;
      }
      if (t->total >= t->offset)
        t->total -= t->offset;
      t->offset = 0;
    }
  }
  while (done < len) {
    ssize_t n = write(t->fd, ptr + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      t->write_errno = errno;
      return 0;
    }
    done += (gsize)n;
  }
  t->written += len;
  report(t, FALSE);
  return len;
}

static int
on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  report(data, FALSE);
  return 0;
}

static gboolean
transfer_once(const char *url, Transfer *t, long *status_out, GError **error)
{
  g_autoptr(CURL) curl = curl_api.easy_init();
  char errbuf[CURL_ERROR_SIZE] = "";
  g_autofree char *range = NULL;
  g_autofree char *ua = g_strdup_printf("vxm/%s", VXM_VERSION);
  CURLcode rc;
  long status = 0;

  if (curl == NULL) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_FAILED, "cannot start libcurl");
    return FALSE;
  }
  curl_api.easy_setopt(curl, CURLOPT_URL, url);
  curl_api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_api.easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_api.easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_api.easy_setopt(curl, CURLOPT_USERAGENT, ua);
  curl_api.easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_api.easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_api.easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_api.easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_api.easy_setopt(curl, CURLOPT_HEADERDATA, t);
  curl_api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_api.easy_setopt(curl, CURLOPT_WRITEDATA, t);
  curl_api.easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_api.easy_setopt(curl, CURLOPT_XFERINFODATA, t);
  curl_api.easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  if (t->offset > 0) {
    range = g_strdup_printf("%" G_GUINT64_FORMAT "-", t->offset);
    curl_api.easy_setopt(curl, CURLOPT_RANGE, range);
  }

  t->start_us = g_get_monotonic_time();
  t->status = 0;
  rc = curl_api.easy_perform(curl);
  curl_api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  *status_out = status;
  if (t->write_errno != 0)
    return vxm_error_set_from_errno(error, t->write_errno, "cannot write %s", t->part);
  if (status >= 400 || (rc == CURLE_WRITE_ERROR && t->status >= 400))
    return TRUE; /* the caller words HTTP errors */
  if (t->bad_range) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                "%s answered with another range than asked for: remove %s and try again", url,
                t->part);
    return FALSE;
  }
  if (rc != CURLE_OK) {
    const char *detail = errbuf[0] ? errbuf : curl_api.easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                  "cannot download %s: connection refused (%s): check the URL, or that the "
                  "server is up",
                  url, detail);
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      g_set_error(error, VXM_ERROR, VXM_ERROR_NOT_FOUND,
                  "cannot download %s: unknown host (%s): check the URL and your network", url,
                  detail);
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      g_set_error(error, VXM_ERROR, VXM_ERROR_REFUSED,
                  "cannot download %s: only http and https are allowed (%s)", url, detail);
      break;
    case CURLE_OPERATION_TIMEDOUT:
      g_set_error(error, VXM_ERROR, VXM_ERROR_TIMEOUT,
                  "downloading %s timed out after %" G_GUINT64_FORMAT
                  " bytes (%s): run the same command again to resume",
                  url, t->offset + t->written, detail);
      break;
    default:
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                  "downloading %s stopped after %" G_GUINT64_FORMAT
                  " bytes (%s): run the same command again to resume",
                  url, t->offset + t->written, detail);
      break;
    }
    return FALSE;
  }
  return TRUE;
}

gboolean
vxm_download_file(const char *url, const char *dest, const char *sha256,
                  VxmDownloadProgressFunc progress, gpointer user_data, GError **error)
{
  g_autofree char *part = g_strconcat(dest, ".part", NULL);
  g_autofree char *want = NULL;
  vxm_autofd int fd = -1;
  struct stat st;
  long status = 0;

  if (!vxm_download_is_url(url)) {
    g_set_error(error, VXM_ERROR, VXM_ERROR_INVALID_ARGUMENT,
                "'%s' is not an http:// or https:// URL", url);
    return FALSE;
  }
  if (sha256 != NULL && !vxm_download_sha256_parse(sha256, &want, error))
    return FALSE;
  if (!curl_load(error))
    return FALSE;

  fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return vxm_error_set_from_errno(error, errno, "cannot create %s", part);
  if (fstat(fd, &st) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot inspect %s", part);

  for (guint attempt = 0; attempt < 2; attempt++) {
    Transfer t = {.url = url,
                  .part = part,
                  .fd = fd,
                  .offset = (guint64)st.st_size,
                  .progress = progress,
                  .user_data = user_data};

    if (!transfer_once(url, &t, &status, error))
      return FALSE;
    if (status == 416 && t.offset > 0) {
      /* asked past the end: complete already, or the file changed; else start over */
      if (t.total == t.offset)
        break;
      if (ftruncate(fd, 0) != 0)
        return vxm_error_set_from_errno(error, errno, "cannot truncate %s", part);
      st.st_size = 0;
      continue;
    }
    if (status >= 400) {
      g_set_error(error, VXM_ERROR,
                  status == 404 || status == 410 ? VXM_ERROR_NOT_FOUND : VXM_ERROR_IO,
                  "cannot download %s: the server answered HTTP %ld%s", url, status,
                  status == 404   ? " (not found): check the URL"
                  : status == 403 ? " (forbidden)"
                                  : "");
      if (t.offset == 0 && t.written == 0)
        unlink(part);
      return FALSE;
    }
    if (t.total != 0 && t.offset + t.written != t.total) {
      g_set_error(error, VXM_ERROR, VXM_ERROR_IO,
                  "downloading %s stopped at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " bytes: run the same command again to resume",
                  url, t.offset + t.written, t.total);
      return FALSE;
    }
    report(&t, TRUE);
    break;
  }
  if (fsync(fd) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot write %s", part);

  if (want != NULL) {
    g_autofree char *got = vxm_download_sha256_file(part, error);
    if (got == NULL)
      return FALSE;
    if (strcmp(got, want) != 0) {
      unlink(part);
      g_set_error(error, VXM_ERROR, VXM_ERROR_PROTOCOL,
                  "checksum mismatch for %s: expected SHA-256 %s, got %s; the file was removed, "
                  "run again to download it afresh (or check the checksum you gave)",
                  url, want, got);
      return FALSE;
    }
  }
  if (rename(part, dest) != 0)
    return vxm_error_set_from_errno(error, errno, "cannot rename %s to %s", part, dest);
  return TRUE;
}
