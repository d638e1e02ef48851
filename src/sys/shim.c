/*
 * shim.c: the raw Linux syscalls modload needs and Node does not offer
 * (module loading, mounts, reboot, the kernel uevent socket).
 *
 * Every function returns the syscall's non-negative result or -errno and
 * never throws for a failed syscall: turning errno into a typed error is the
 * job of src/sys/syscalls.ts, where it can be tested with a fake of this
 * addon. Only bad JS arguments (programming errors) throw here.
 *
 * Built by build/build.mjs with `gcc -O2 -shared -fPIC`; embedded in the
 * executable and loaded by src/sys/native.ts. x86-64 Linux only.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* reboot(2) refuses any call without both magic numbers. */
#define REBOOT_MAGIC1 0xfee1deadU
#define REBOOT_MAGIC2 672274793U

/* Uevents arrive in bursts at coldplug; a small buffer drops them (ENOBUFS). */
#define UEVENT_RCVBUF (16 * 1024 * 1024)

#define MAX_ARGS 5

static napi_value num(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static napi_value result(napi_env env, long rc) {
  return num(env, rc < 0 ? -(int64_t)errno : (int64_t)rc);
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    fail(env, "shim: too few arguments");
    return 0;
  }
  return 1;
}

/* A JS string as a malloc'd C string; null/undefined give *out = NULL when
 * nullable. Returns 0 (with a pending exception) on a wrong type. */
static int get_str(napi_env env, napi_value v, int nullable, char **out) {
  napi_valuetype t;
  size_t len;
  *out = NULL;
  napi_typeof(env, v, &t);
  if (nullable && (t == napi_null || t == napi_undefined)) return 1;
  if (t != napi_string) {
    fail(env, "shim: expected a string");
    return 0;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  *out = malloc(len + 1);
  if (*out == NULL) {
    napi_throw_error(env, "ENOMEM", "shim: out of memory");
    return 0;
  }
  napi_get_value_string_utf8(env, v, *out, len + 1, &len);
  return 1;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    fail(env, "shim: expected a number");
    return 0;
  }
  return 1;
}

static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  napi_typedarray_type type;
  bool is;
  napi_is_typedarray(env, v, &is);
  if (!is) {
    fail(env, "shim: expected a Uint8Array");
    return 0;
  }
  /* data already points at byte_offset, so subarrays work. */
  napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL);
  if (type != napi_uint8_array) {
    fail(env, "shim: expected a Uint8Array");
    return 0;
  }
  return 1;
}

/* finitModule(fd, params, flags) */
static napi_value finit_module(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t fd, flags;
  char *params;
  long rc;
  if (!get_args(env, info, 3, argv) || !get_i64(env, argv[0], &fd) ||
      !get_i64(env, argv[2], &flags) || !get_str(env, argv[1], 0, &params))
    return NULL;
  rc = syscall(SYS_finit_module, (int)fd, params, (int)flags);
  napi_value out = result(env, rc);
  free(params);
  return out;
}

/* The end of an async call: its Promise resolves to the result (>= 0 or -errno; -ECANCELED
 * when the work never ran) and the work item goes. */
static void settle(napi_env env, napi_status status, napi_deferred deferred, napi_async_work work, long rc) {
  napi_value v;
  napi_create_int64(env, status == napi_ok ? (int64_t)rc : -(int64_t)ECANCELED, &v);
  napi_resolve_deferred(env, deferred, v);
  napi_delete_async_work(env, work);
}

/* Queue an async call; when that fails its Promise resolves to -ENOMEM at once, and 0 says
 * the caller frees what it allocated for the call. */
static int start_work(napi_env env, const char *label, napi_async_execute_callback execute,
                      napi_async_complete_callback complete, void *data, napi_async_work *work,
                      napi_deferred deferred) {
  napi_value name, v;
  napi_create_string_utf8(env, label, NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, data, work) == napi_ok) {
    if (napi_queue_async_work(env, *work) == napi_ok) return 1;
    napi_delete_async_work(env, *work);
  }
  napi_create_int64(env, -(int64_t)ENOMEM, &v);
  napi_resolve_deferred(env, deferred, v);
  return 0;
}

/* finitModuleAsync(fd, params, flags): the same syscall on libuv's thread pool,
 * returning a Promise of the result (>= 0 or -errno). finit_module blocks for as long as
 * the module's init runs (seconds for some drivers, forever for a broken one); off the main
 * thread, uevents keep flowing and other modules keep loading meanwhile. */
struct finit_work {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int flags;
  char *params;
  long rc;
};

static void finit_execute(napi_env env, void *data) {
  (void)env;
  struct finit_work *w = data;
  long rc = syscall(SYS_finit_module, w->fd, w->params, w->flags);
  w->rc = rc < 0 ? -(long)errno : rc;
}

static void finit_complete(napi_env env, napi_status status, void *data) {
  struct finit_work *w = data;
  settle(env, status, w->deferred, w->work, w->rc);
  free(w->params);
  free(w);
}

static napi_value finit_module_async(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], promise;
  int64_t fd, flags;
  struct finit_work *w;
  if (!get_args(env, info, 3, argv) || !get_i64(env, argv[0], &fd) || !get_i64(env, argv[2], &flags))
    return NULL;
  w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "shim: out of memory");
    return NULL;
  }
  if (!get_str(env, argv[1], 0, &w->params)) {
    free(w);
    return NULL;
  }
  w->fd = (int)fd;
  w->flags = (int)flags;
  napi_create_promise(env, &w->deferred, &promise);
  if (!start_work(env, "finit_module", finit_execute, finit_complete, w, &w->work, w->deferred)) {
    free(w->params);
    free(w);
  }
  return promise;
}

/* initModule(bytes, params) */
static napi_value init_module(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  void *data;
  size_t len;
  char *params;
  long rc;
  if (!get_args(env, info, 2, argv) || !get_bytes(env, argv[0], &data, &len) ||
      !get_str(env, argv[1], 0, &params))
    return NULL;
  rc = syscall(SYS_init_module, data, (unsigned long)len, params);
  napi_value out = result(env, rc);
  free(params);
  return out;
}

/* initModuleAsync(bytes, params): init_module on libuv's thread pool, as finitModuleAsync is
 * (a module decompressed in user space blocks like any other). The bytes are copied first, so
 * the caller's buffer may be collected or reused while the kernel reads the copy. */
struct init_work {
  napi_async_work work;
  napi_deferred deferred;
  void *data;
  size_t len;
  char *params;
  long rc;
};

static void init_execute(napi_env env, void *data) {
  (void)env;
  struct init_work *w = data;
  long rc = syscall(SYS_init_module, w->data, (unsigned long)w->len, w->params);
  w->rc = rc < 0 ? -(long)errno : rc;
}

static void init_free(struct init_work *w) {
  free(w->data);
  free(w->params);
  free(w);
}

static void init_complete(napi_env env, napi_status status, void *data) {
  struct init_work *w = data;
  settle(env, status, w->deferred, w->work, w->rc);
  init_free(w);
}

static napi_value init_module_async(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], promise;
  void *bytes;
  size_t len;
  struct init_work *w;
  if (!get_args(env, info, 2, argv) || !get_bytes(env, argv[0], &bytes, &len))
    return NULL;
  w = calloc(1, sizeof *w);
  if (w == NULL || (w->data = malloc(len ? len : 1)) == NULL) {
    free(w);
    napi_throw_error(env, "ENOMEM", "shim: out of memory");
    return NULL;
  }
  memcpy(w->data, bytes, len);
  w->len = len;
  if (!get_str(env, argv[1], 0, &w->params)) {
    free(w->data);
    free(w);
    return NULL;
  }
  napi_create_promise(env, &w->deferred, &promise);
  if (!start_work(env, "init_module", init_execute, init_complete, w, &w->work, w->deferred)) {
    init_free(w);
  }
  return promise;
}

/* deleteModule(name, flags) */
static napi_value delete_module(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t flags;
  char *name;
  long rc;
  if (!get_args(env, info, 2, argv) || !get_i64(env, argv[1], &flags) ||
      !get_str(env, argv[0], 0, &name))
    return NULL;
  rc = syscall(SYS_delete_module, name, (unsigned int)flags);
  napi_value out = result(env, rc);
  free(name);
  return out;
}

/* mount(source|null, target, fstype|null, flags, data|null) */
static napi_value do_mount(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t flags;
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  napi_value out = NULL;
  if (get_args(env, info, 5, argv) && get_i64(env, argv[3], &flags) &&
      get_str(env, argv[0], 1, &source) && get_str(env, argv[1], 0, &target) &&
      get_str(env, argv[2], 1, &fstype) && get_str(env, argv[4], 1, &data)) {
    long rc = syscall(SYS_mount, source, target, fstype, (unsigned long)flags, data);
    out = result(env, rc);
  }
  free(source);
  free(target);
  free(fstype);
  free(data);
  return out;
}

/* umount2(target, flags) */
static napi_value do_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t flags;
  char *target;
  long rc;
  if (!get_args(env, info, 2, argv) || !get_i64(env, argv[1], &flags) ||
      !get_str(env, argv[0], 0, &target))
    return NULL;
  rc = syscall(SYS_umount2, target, (int)flags);
  napi_value out = result(env, rc);
  free(target);
  return out;
}

/* reboot(cmd): cmd is one of the LINUX_REBOOT_CMD_* values. */
static napi_value do_reboot(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t cmd;
  if (!get_args(env, info, 1, argv) || !get_i64(env, argv[0], &cmd)) return NULL;
  long rc = syscall(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, (unsigned int)cmd, NULL);
  return result(env, rc);
}

/* sync(): flush page cache before reboot; Node has only per-fd fsync. */
static napi_value do_sync(napi_env env, napi_callback_info info) {
  (void)info;
  syscall(SYS_sync);
  return num(env, 0);
}

/* Shared by pivotRoot(new, old) and chroot(path). */
static napi_value path_call(napi_env env, napi_callback_info info, int nr, size_t n) {
  napi_value argv[MAX_ARGS];
  char *a = NULL, *b = NULL;
  napi_value out = NULL;
  if (get_args(env, info, n, argv) && get_str(env, argv[0], 0, &a) &&
      (n < 2 || get_str(env, argv[1], 0, &b))) {
    long rc = n < 2 ? syscall(nr, a) : syscall(nr, a, b);
    out = result(env, rc);
  }
  free(a);
  free(b);
  return out;
}

static napi_value pivot_root(napi_env env, napi_callback_info info) {
  return path_call(env, info, SYS_pivot_root, 2);
}

static napi_value do_chroot(napi_env env, napi_callback_info info) {
  return path_call(env, info, SYS_chroot, 1);
}

/* ueventSocket(): a non-blocking socket on the kernel's uevent multicast group. */
static napi_value uevent_socket(napi_env env, napi_callback_info info) {
  (void)info;
  struct sockaddr_nl addr;
  int size = UEVENT_RCVBUF;
  long fd = syscall(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return result(env, fd);
  /* RCVBUFFORCE needs CAP_NET_ADMIN; fall back to the capped RCVBUF. */
  if (syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  memset(&addr, 0, sizeof addr);
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1; /* the kernel's group; 2 is udev's re-broadcast */
  if (syscall(SYS_bind, fd, &addr, sizeof addr) < 0) {
    int err = errno;
    close((int)fd);
    return num(env, -(int64_t)err);
  }
  return num(env, fd);
}

/* recv(fd, bytes): one datagram into bytes; -EAGAIN when none is queued. */
static napi_value do_recv(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t fd;
  void *data;
  size_t len;
  if (!get_args(env, info, 2, argv) || !get_i64(env, argv[0], &fd) ||
      !get_bytes(env, argv[1], &data, &len))
    return NULL;
  long rc = syscall(SYS_recvfrom, (int)fd, data, len, MSG_DONTWAIT, NULL, NULL);
  return result(env, rc);
}

/* poll(fd, timeoutMs): 1 when fd is readable, 0 on timeout, -errno. Lets a
 * caller wait for uevents without spinning. Blocks the calling thread. */
static napi_value do_poll(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t fd, timeout;
  if (!get_args(env, info, 2, argv) || !get_i64(env, argv[0], &fd) ||
      !get_i64(env, argv[1], &timeout))
    return NULL;
  struct pollfd p = {.fd = (int)fd, .events = POLLIN, .revents = 0};
  long rc = syscall(SYS_poll, &p, 1, (int)timeout);
  if (rc > 0 && !(p.revents & POLLIN)) return num(env, -EIO);
  return result(env, rc);
}

/* pollAsync(fd, timeoutMs): poll() on libuv's thread pool, a Promise of 1 (readable), 0
 * (timeout) or -errno. Coldplug waits on the uevent socket with it instead of waking every
 * few milliseconds to look: under emulation each empty look costs real CPU. */
struct poll_work {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int timeout;
  long rc;
};

static void poll_execute(napi_env env, void *data) {
  (void)env;
  struct poll_work *w = data;
  struct pollfd p = {.fd = w->fd, .events = POLLIN, .revents = 0};
  long rc = syscall(SYS_poll, &p, 1, w->timeout);
  if (rc < 0) w->rc = -(long)errno;
  else if (rc > 0 && !(p.revents & POLLIN)) w->rc = -EIO;
  else w->rc = rc;
}

static void poll_complete(napi_env env, napi_status status, void *data) {
  struct poll_work *w = data;
  settle(env, status, w->deferred, w->work, w->rc);
  free(w);
}

static napi_value do_poll_async(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], promise;
  int64_t fd, timeout;
  struct poll_work *w;
  if (!get_args(env, info, 2, argv) || !get_i64(env, argv[0], &fd) || !get_i64(env, argv[1], &timeout))
    return NULL;
  w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "shim: out of memory");
    return NULL;
  }
  w->fd = (int)fd;
  w->timeout = (int)timeout;
  napi_create_promise(env, &w->deferred, &promise);
  if (!start_work(env, "poll", poll_execute, poll_complete, w, &w->work, w->deferred)) {
    free(w);
  }
  return promise;
}

/* exitNow(code): _exit(2), skipping atexit handlers and destructors. libuv's destructor joins
 * its thread-pool threads, and a thread inside a finit_module that never returns cannot be
 * joined: process.exit() would hang. Output written with write(2) is already out. */
static napi_value exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int64_t code;
  if (!get_args(env, info, 1, argv) || !get_i64(env, argv[0], &code)) return NULL;
  _exit((int)code);
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } table[] = {
      {"finitModule", finit_module}, {"finitModuleAsync", finit_module_async},
      {"initModule", init_module}, {"initModuleAsync", init_module_async},
      {"deleteModule", delete_module}, {"mount", do_mount},
      {"umount2", do_umount2},       {"reboot", do_reboot},
      {"sync", do_sync},             {"pivotRoot", pivot_root},
      {"chroot", do_chroot},         {"ueventSocket", uevent_socket},
      {"recv", do_recv},             {"poll", do_poll},
      {"pollAsync", do_poll_async},
      {"exitNow", exit_now},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    napi_value fn;
    napi_create_function(env, table[i].name, NAPI_AUTO_LENGTH, table[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, table[i].name, fn);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
