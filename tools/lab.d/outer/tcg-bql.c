/* tools/lab: preloaded into the outer QEMU (the trixie root's 10.0, TCG), never into the guest.
 *
 * While the lab's nested KVM guest runs, QEMU's TCG emulation of AMD SVM aborts with
 * "tcg_handle_interrupt: assertion failed: (bql_locked())": target/i386's helper_write_crN()
 * handles a guest's write to CR8 in guest mode by calling cpu_interrupt(CPU_INTERRUPT_VIRQ)
 * when a virtual interrupt is pending (V_IRQ, which KVM sets when it waits for an interrupt
 * window), from the vCPU thread without the big QEMU lock, and TCG's handler asserts that
 * lock (QEMU 7.2 and 10.0 alike). OVMF restores CR8 at the end of every interrupt handler,
 * so the nested guest's firmware meets that now and then, and the whole lab ends.
 *
 * This wraps TCG's handle_interrupt operation (the function cpu_interrupt() calls through
 * the TCG accelerator's operations class) so that a call without the lock takes it first,
 * as the same helper does for its APIC write just before and as cpu_reset_interrupt() does.
 * It finds QEMU's functions by name (the Debian binary exports them for its modules) and
 * patches the class's function pointer when QEMU creates a thread while holding the lock
 * (its vCPU threads are made so, after the operations are set). It writes one line to
 * stderr when it has wrapped the operation (tools/lab checks for it), when a call came
 * without the lock (the 1st, 10th, 100th, ... time), and their number when QEMU exits. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

typedef void (*handle_interrupt_fn)(void *cpu, int mask);

static handle_interrupt_fn orig_handle_interrupt;
static bool (*qemu_bql_locked)(void);
static void (*qemu_bql_lock_impl)(const char *file, int line);
static void (*qemu_bql_unlock)(void);
static atomic_ulong unlocked_calls;
static atomic_bool done;

static void
locked_handle_interrupt(void *cpu, int mask)
{
  if (qemu_bql_locked()) {
    orig_handle_interrupt(cpu, mask);
    return;
  }
  unsigned long n = atomic_fetch_add(&unlocked_calls, 1) + 1;
  qemu_bql_lock_impl(__FILE__, __LINE__);
  orig_handle_interrupt(cpu, mask);
  qemu_bql_unlock();
  for (unsigned long p = 1; p <= n; p *= 10) {
    if (p == n) {
      fprintf(stderr, "lab-tcg-bql: cpu_interrupt() without the lock, taken for it (%lu times)\n",
              n);
      break;
    }
  }
}

static void
wrap_handle_interrupt(void)
{
  if (atomic_load(&done))
    return;
  void *(*class_by_name)(const char *) = dlsym(RTLD_DEFAULT, "object_class_by_name");
  void *tcg_handle_interrupt = dlsym(RTLD_DEFAULT, "tcg_handle_interrupt");
  qemu_bql_locked = dlsym(RTLD_DEFAULT, "bql_locked");
  qemu_bql_lock_impl = dlsym(RTLD_DEFAULT, "bql_lock_impl");
  qemu_bql_unlock = dlsym(RTLD_DEFAULT, "bql_unlock");
  if (!class_by_name || !tcg_handle_interrupt || !qemu_bql_locked || !qemu_bql_lock_impl ||
      !qemu_bql_unlock) {
    atomic_store(&done, true);
    fprintf(stderr, "lab-tcg-bql: this QEMU does not export the functions it needs: not wrapped\n");
    return;
  }
  /* before QEMU's main loop holds the lock its types and operations are not set up yet */
  if (!qemu_bql_locked())
    return;
  void **ops = class_by_name("tcg-accel-ops");
  if (!ops)
    return;
  /* the operations class is QOM's object header and then function pointers: the slot that
   * holds tcg_handle_interrupt is handle_interrupt, once the TCG operations are set */
  for (int i = 0; i < 64; i++) {
    if (ops[i] == tcg_handle_interrupt) {
      orig_handle_interrupt = (handle_interrupt_fn)tcg_handle_interrupt;
      ops[i] = (void *)locked_handle_interrupt;
      atomic_store(&done, true);
      fprintf(stderr, "lab-tcg-bql: wrapped TCG's handle_interrupt: it takes the lock when "
                      "called without it\n");
      return;
    }
  }
}

__attribute__((destructor)) static void
say_total(void)
{
  if (orig_handle_interrupt != NULL)
    fprintf(stderr, "lab-tcg-bql: %lu calls of cpu_interrupt() without the lock in all\n",
            atomic_load(&unlocked_calls));
}

int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg)
{
  static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
  if (!real)
    real = dlsym(RTLD_NEXT, "pthread_create");
  wrap_handle_interrupt();
  return real(thread, attr, start, arg);
}
