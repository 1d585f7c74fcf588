/* vxm-fake-qemu: a stand-in for qemu-system-x86_64 in the supervisor's logic tests.
 *
 * It takes `-qmp unix:PATH,server=on,wait=off` from its argv, listens there and speaks enough
 * QMP for the supervisor: the greeting, qmp_capabilities, cont, stop, query-status, query-tpm,
 * system_powerdown, quit, with the events QEMU sends. FAKE_QEMU_MODE picks a behaviour:
 *   normal            (default) system_powerdown shuts the guest down (SHUTDOWN, exit 0)
 *   ignore-powerdown  the firmware without an OS: POWERDOWN is sent, nothing else happens
 *   bad-option        prints QEMU's error for an unknown option and exits 1 at once
 *   no-greeting       accepts the connection and never greets
 * It starts paused when -S is given, as QEMU does. Like QEMU it runs one thread per vCPU
 * (-smp N, default 1), whose ids query-cpus-fast answers, so pinning can be checked on it.
 * FAKE_QEMU_ARGV_LOG names a file that gets its argv, one argument a line.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

static int client_fd = -1;

#define MAX_VCPUS 64
static int vcpu_tids[MAX_VCPUS];
static int n_vcpus = 1;
static pthread_mutex_t vcpu_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t vcpu_cond = PTHREAD_COND_INITIALIZER;
static int vcpus_up;

static void *
vcpu_thread(void *data)
{
  int index = (int)(gintptr)data;

  pthread_mutex_lock(&vcpu_lock);
  vcpu_tids[index] = (int)syscall(SYS_gettid);
  vcpus_up++;
  pthread_cond_broadcast(&vcpu_cond);
  pthread_mutex_unlock(&vcpu_lock);
  for (;;)
    pause();
  return NULL;
}

/* The vCPU threads, running before the monitor answers (QEMU makes them at machine init). */
static void
start_vcpus(void)
{
  for (int i = 0; i < n_vcpus; i++) {
    pthread_t thread;

    pthread_create(&thread, NULL, vcpu_thread, (void *)(gintptr)i);
    pthread_detach(thread);
  }
  pthread_mutex_lock(&vcpu_lock);
  while (vcpus_up < n_vcpus)
    pthread_cond_wait(&vcpu_cond, &vcpu_lock);
  pthread_mutex_unlock(&vcpu_lock);
}

static char *
cpus_reply(void)
{
  GString *s = g_string_new("[");

  for (int i = 0; i < n_vcpus; i++)
    g_string_append_printf(s,
                           "%s{\"cpu-index\": %d, \"qom-path\": \"/machine/unattached/"
                           "device[%d]\", \"thread-id\": %d, \"target\": \"x86_64\"}",
                           i ? ", " : "", i, i, vcpu_tids[i]);
  g_string_append(s, "]");
  return g_string_free(s, FALSE);
}

static void
send_text(const char *text)
{
  g_autofree char *line = g_strconcat(text, "\r\n", NULL);

  if (write(client_fd, line, strlen(line)) < 0)
    exit(3);
}

static void
send_event(const char *name, const char *data)
{
  struct timespec ts;
  g_autofree char *text = NULL;

  clock_gettime(CLOCK_REALTIME, &ts);
  text = g_strdup_printf("{\"timestamp\": {\"seconds\": %ld, \"microseconds\": %ld}, "
                         "\"event\": \"%s\"%s%s}",
                         (long)ts.tv_sec, (long)(ts.tv_nsec / 1000), name,
                         data ? ", \"data\": " : "", data ? data : "");
  send_text(text);
}

static void
send_return(JsonNode *id, const char *ret)
{
  g_autofree char *id_text = id ? json_to_string(id, FALSE) : g_strdup("null");
  g_autofree char *text = g_strdup_printf("{\"return\": %s, \"id\": %s}", ret, id_text);

  send_text(text);
}

static void
shutdown_and_exit(const char *reason, gboolean guest)
{
  g_autofree char *data =
      g_strdup_printf("{\"guest\": %s, \"reason\": \"%s\"}", guest ? "true" : "false", reason);

  send_event("SHUTDOWN", data);
  close(client_fd);
  exit(0);
}

int
main(int argc, char **argv)
{
  const char *mode = g_getenv("FAKE_QEMU_MODE");
  g_autofree char *qmp_path = NULL;
  gboolean running = TRUE;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  g_autoptr(GString) buffer = g_string_new(NULL);
  int listen_fd;

  if (mode == NULL)
    mode = "normal";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-S") == 0)
      running = FALSE;
    if (strcmp(argv[i], "-smp") == 0 && i + 1 < argc)
      n_vcpus = CLAMP(atoi(argv[i + 1]), 1, MAX_VCPUS);
    if (strcmp(argv[i], "-qmp") == 0 && i + 1 < argc && g_str_has_prefix(argv[i + 1], "unix:")) {
      char *comma;

      g_free(qmp_path);
      qmp_path = g_strdup(argv[i + 1] + 5);
      comma = strchr(qmp_path, ',');
      if (comma != NULL)
        *comma = '\0';
    }
  }
  fprintf(stderr, "fake QEMU pid %d, mode %s\n", (int)getpid(), mode);
  if (g_getenv("FAKE_QEMU_ARGV_LOG") != NULL) {
    g_autoptr(GString) text = g_string_new(NULL);

    for (int i = 0; i < argc; i++)
      g_string_append_printf(text, "%s\n", argv[i]);
    if (!g_file_set_contents(g_getenv("FAKE_QEMU_ARGV_LOG"), text->str, (gssize)text->len, NULL))
      return 1;
  }
  if (strcmp(mode, "bad-option") == 0) {
    fprintf(stderr, "qemu-system-x86_64: -device bogus: 'bogus' is not a valid device model "
                    "name\n");
    return 1;
  }
  if (qmp_path == NULL) {
    fprintf(stderr, "qemu-system-x86_64: no -qmp unix:PATH given\n");
    return 1;
  }
  start_vcpus();
  listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  g_strlcpy(addr.sun_path, qmp_path, sizeof(addr.sun_path));
  unlink(qmp_path);
  if (bind(listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(listen_fd, 1) < 0) {
    fprintf(stderr, "qemu-system-x86_64: cannot listen on %s: %s\n", qmp_path, strerror(errno));
    return 1;
  }
  client_fd = accept(listen_fd, NULL, NULL);
  if (client_fd < 0)
    return 1;
  if (strcmp(mode, "no-greeting") == 0)
    for (;;)
      pause();
  send_text("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
            "\"package\": \"fake\"}, \"capabilities\": [\"oob\"]}}");
  for (;;) {
    char chunk[4096];
    ssize_t n = read(client_fd, chunk, sizeof(chunk));
    char *nl;

    if (n <= 0) {
      /* QEMU goes on when its monitor client leaves; the supervisor ends it by signal */
      for (;;)
        pause();
    }
    g_string_append_len(buffer, chunk, n);
    while ((nl = strchr(buffer->str, '\n')) != NULL) {
      g_autoptr(JsonParser) parser = json_parser_new();
      g_autofree char *line = g_strndup(buffer->str, nl - buffer->str);
      JsonObject *cmd;
      JsonNode *id;
      const char *execute;

      g_string_erase(buffer, 0, nl - buffer->str + 1);
      if (!json_parser_load_from_data(parser, line, -1, NULL))
        continue;
      cmd = json_node_get_object(json_parser_get_root(parser));
      id = json_object_get_member(cmd, "id");
      execute = json_object_get_string_member_with_default(cmd, "execute", "");
      if (strcmp(execute, "qmp_capabilities") == 0) {
        send_return(id, "{}");
      } else if (strcmp(execute, "cont") == 0) {
        running = TRUE;
        send_return(id, "{}");
        send_event("RESUME", NULL);
      } else if (strcmp(execute, "stop") == 0) {
        running = FALSE;
        send_return(id, "{}");
        send_event("STOP", NULL);
      } else if (strcmp(execute, "query-status") == 0) {
        send_return(id, running ? "{\"status\": \"running\", \"running\": true}"
                                : "{\"status\": \"prelaunch\", \"running\": false}");
      } else if (strcmp(execute, "query-cpus-fast") == 0) {
        g_autofree char *cpus = cpus_reply();

        send_return(id, cpus);
      } else if (strcmp(execute, "query-tpm") == 0) {
        send_return(id, "[{\"model\": \"tpm-crb\", \"id\": \"tpm0\", \"options\": {\"type\": "
                        "\"emulator\", \"data\": {\"chardev\": \"chrtpm\"}}}]");
      } else if (strcmp(execute, "system_powerdown") == 0) {
        send_return(id, "{}");
        send_event("POWERDOWN", NULL);
        if (strcmp(mode, "ignore-powerdown") != 0)
          shutdown_and_exit("guest-shutdown", TRUE);
      } else if (strcmp(execute, "quit") == 0) {
        send_return(id, "{}");
        shutdown_and_exit("host-qmp-quit", FALSE);
      } else {
        g_autofree char *id_text = id ? json_to_string(id, FALSE) : g_strdup("null");
        g_autofree char *text = g_strdup_printf(
            "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command %s has not "
            "been found\"}, \"id\": %s}",
            execute, id_text);

        send_text(text);
      }
    }
  }
}
