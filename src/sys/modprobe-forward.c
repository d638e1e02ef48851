/* modprobe-forward: the kernel's module helper while modload's init runs.
 *
 * The kernel runs its helper as `PATH -q -- NAME` for every request_module() (crypto-*,
 * fs-*, snd-hda-codec-generic, ...) and waits for it to exit. Starting the Node executable per
 * request costs a second under emulation (tens of ms on hardware), and requests come in bursts
 * while drivers initialise; init has the module index in memory anyway. So this tiny static
 * program (no libc, a few KB, embedded in the executable and written to /run by init) sends
 * its arguments to init over a unix socket and exits with the status init answers.
 *
 * Protocol: connect to SOCKET_PATH (stream), write argv[1..] each followed by NUL, shut down
 * writing, read one byte: the exit status. No init listening, or no answer within 60 s:
 * exit 1, as modprobe does when it cannot load a module. x86-64 Linux only.
 */
#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_socket 41
#define SYS_connect 42
#define SYS_shutdown 48
#define SYS_setsockopt 54
#define SYS_exit 60

#define AF_UNIX 1
#define SOCK_STREAM 1
#define SOCK_CLOEXEC 02000000
#define SOL_SOCKET 1
#define SO_RCVTIMEO 20
#define SHUT_WR 1

#define SOCKET_PATH "/run/modload/helper.sock"

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static long sys5(long n, long a, long b, long c, long d, long e) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
}

static __attribute__((noreturn)) void quit(int code) {
  for (;;) sys3(SYS_exit, code, 0, 0);
}

static unsigned long len(const char *s) {
  unsigned long n = 0;
  while (s[n]) n++;
  return n;
}

static int send_all(int fd, const char *p, unsigned long n) {
  while (n > 0) {
    long w = sys3(SYS_write, fd, (long)p, (long)n);
    if (w == -4) continue; /* EINTR */
    if (w <= 0) return -1;
    p += w;
    n -= (unsigned long)w;
  }
  return 0;
}

struct sockaddr_un {
  unsigned short family;
  char path[108];
};

struct timeval {
  long sec;
  long usec;
};

__attribute__((used)) void start_c(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  struct sockaddr_un addr = {.family = AF_UNIX};
  const char *path = SOCKET_PATH;
  for (unsigned long i = 0; path[i]; i++) addr.path[i] = path[i];
  int fd = (int)sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) quit(1);
  struct timeval tv = {60, 0};
  sys5(SYS_setsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, sizeof tv);
  if (sys3(SYS_connect, fd, (long)&addr, sizeof addr) < 0) quit(1);
  for (int i = 1; i < argc; i++)
    if (send_all(fd, argv[i], len(argv[i]) + 1) < 0) quit(1);
  sys3(SYS_shutdown, fd, SHUT_WR, 0);
  unsigned char status = 1;
  long r;
  do r = sys3(SYS_read, fd, (long)&status, 1);
  while (r == -4);
  quit(r == 1 ? status : 1);
}

/* The kernel enters here with the stack pointer at argc; align the stack and call C. */
__asm__(".globl _start\n"
        "_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call start_c\n"
        "  hlt\n");
